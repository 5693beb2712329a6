//! The per-request layer: one middleware that gives each request its id, checks its head
//! against the limits, routes `HEAD` as `GET`, contains panics, turns any non-JSON error answer
//! into JSON, adds the security header, closes the connection after the answer while the server
//! drains, and writes the access line once the answer is sent. One
//! layer rather than one per concern (as actix-web's `Logger`, `DefaultHeaders`,
//! `ErrorHandlers` and `from_fn` layers once were here), because every layer costs each
//! in-flight request a future of its own (memory that 10,000 waiting connections multiply) and
//! CPU time.

use std::panic::AssertUnwindSafe;

use actix_web::body::{BoxBody, EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::ConnectionType;
use actix_web::middleware::Next;
use actix_web::web::ThinData;
use actix_web::{Error, ResponseError};
use futures_util::FutureExt;

use crate::api::errors::as_json_error;
use crate::http::access_log::{AccessLine, LoggedBody};
use crate::http::head_as_get::route_head_as_get;
use crate::http::head_limits::check_request;
use crate::http::panics::Unanswered;
use crate::http::request_id::{self, with_common_headers};
use crate::process::serving::ServingState;

/// Middleware: request id, head limits, `HEAD` as `GET`, panics contained, JSON errors,
/// `nosniff`, `Connection: close` while draining, access log.
pub async fn per_request<B: MessageBody + 'static>(
    mut req: ServiceRequest,
    next: Next<B>,
) -> Result<ServiceResponse<LoggedBody<EitherBody<EitherBody<B, BoxBody>>>>, Error> {
    let line = AccessLine::start(&req, request_id::for_request(req.headers()));
    let res = match check_request(&req) {
        Err(refusal) => req
            .into_response(refusal.error_response())
            .map_into_right_body(),
        Ok(()) => {
            route_head_as_get(&mut req);
            // Handlers pass the client's id on (upstream calls): one it sent that is not sane
            // is replaced by the answer's. (Inserting every fresh id into the request cost about
            // 10% of the throughput of `make bench`'s overhead scenario, so an id the client did
            // not send is not passed on.)
            if let Some(sent) = req.headers().get(&request_id::REQUEST_ID)
                && !request_id::is_sane(sent.as_bytes())
            {
                req.headers_mut().insert(request_id::REQUEST_ID, line.id());
            }
            // An error or a panic leaves no request to ask: it closes the connection if the
            // drain had begun when the request came.
            let draining = is_draining(req.request());
            match AssertUnwindSafe(next.call(req)).catch_unwind().await {
                Ok(Ok(answer)) => answer.map_into_left_body(),
                Ok(Err(error)) => {
                    return Err(Unanswered::failed(error, line).closing(draining).into());
                }
                Err(_) => return Err(Unanswered::panicked(line).closing(draining).into()),
            }
        }
    };
    let mut res = as_json_error(res);
    with_common_headers(res.headers_mut(), line.id());
    if is_draining(res.request()) {
        // The client should take its next request to another replica.
        res.response_mut()
            .head_mut()
            .set_connection_type(ConnectionType::Close);
    }
    let status = res.status();
    Ok(res.map_body(|_, body| line.sending(body, status)))
}

/// Whether the server `req` came to is draining.
fn is_draining(req: &actix_web::HttpRequest) -> bool {
    req.app_data::<ThinData<ServingState>>()
        .is_some_and(|serving| serving.0.is_draining())
}
