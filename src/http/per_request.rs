//! The per-request layer: one middleware that gives each request its id, checks its head
//! against the limits, the rate limit and the API keys, routes `HEAD` as `GET`, contains panics, turns any non-JSON error answer
//! into JSON, adds the security header, closes the connection after the answer while the server
//! drains, counts it in the metrics, and writes the access line once the answer is sent. One
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

use crate::api::errors::ApiError;
use crate::api::errors::as_json_error;
use crate::http::access_log::{AccessLine, LoggedBody};
use crate::http::authentication::Authentication;
use crate::http::client_ip::Forwarding;
use crate::http::head_as_get::route_head_as_get;
use crate::http::head_limits::check_request;
use crate::http::panics::Unanswered;
use crate::http::rate_limit::{Decision, RATELIMIT, RATELIMIT_POLICY, RateLimits};
use crate::http::request_id::{self, with_common_headers};
use crate::process::metrics::{InFlight, Metrics, UNMATCHED, route_template};
use crate::process::serving::ServingState;
use actix_web::http::header::HeaderValue;

/// Middleware: request id, head limits, rate limit, API keys, `HEAD` as `GET`, panics contained, JSON errors,
/// `nosniff`, `Connection: close` while draining, metrics, access log.
pub async fn per_request<B: MessageBody + 'static>(
    mut req: ServiceRequest,
    next: Next<B>,
) -> Result<ServiceResponse<LoggedBody<EitherBody<EitherBody<B, BoxBody>>>>, Error> {
    let peer = req.peer_addr().map(|peer| peer.ip());
    let client = match req.app_data::<Forwarding>() {
        Some(forwarding) => forwarding.client(peer, req.headers()),
        None => peer,
    };
    let line = AccessLine::start(&req, request_id::for_request(req.headers()), client);
    let in_flight = req
        .app_data::<ThinData<Metrics>>()
        .map(|metrics| metrics.0.request_started());
    let metrics = in_flight.as_ref().map(InFlight::metrics);
    // The rate-limit headers for the answer, `(policy, state)`, when the route is limited.
    let mut rate_headers = None;
    let refusal = match check_request(&req) {
        Err(refusal) => Some(refusal),
        Ok(()) => match rate_limit(&req, client) {
            Some((
                policy,
                Decision::Refused {
                    retry_after_secs,
                    state,
                },
            )) => {
                rate_headers = Some((policy, state));
                if let Some(metrics) = metrics {
                    metrics.request_rate_limited();
                }
                Some(ApiError::TooManyRequests { retry_after_secs })
            }
            limited => {
                if let Some((policy, Decision::Allowed(state))) = limited {
                    rate_headers = Some((policy, state));
                }
                authenticate(&req).err()
            }
        },
    };
    let res = match refusal {
        Some(refusal) => req
            .into_response(refusal.error_response())
            .map_into_right_body(),
        None => {
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
                    let status = error.as_response_error().status_code();
                    count_unanswered(metrics, &line, status);
                    return Err(Unanswered::failed(error, line).closing(draining).into());
                }
                Err(_) => {
                    let status = actix_web::http::StatusCode::INTERNAL_SERVER_ERROR;
                    count_unanswered(metrics, &line, status);
                    return Err(Unanswered::panicked(line).closing(draining).into());
                }
            }
        }
    };
    let mut res = as_json_error(res);
    with_common_headers(res.headers_mut(), line.id());
    if let Some((policy, state)) = rate_headers {
        res.headers_mut().insert(RATELIMIT_POLICY, policy);
        res.headers_mut().insert(RATELIMIT, state);
    }
    if is_draining(res.request()) {
        // The client should take its next request to another replica.
        res.response_mut()
            .head_mut()
            .set_connection_type(ConnectionType::Close);
    }
    let status = res.status();
    if let Some(metrics) = metrics {
        let pattern = res.request().match_pattern();
        let template = pattern.as_deref().map(route_template);
        let route = match (pattern.as_deref(), template.as_deref()) {
            (Some(FALLBACK_PATTERN), _) | (_, None) => UNMATCHED,
            (_, Some(template)) => template,
        };
        let (method, took) = line.method_and_elapsed();
        metrics.request_answered(method, route, status.as_str(), took);
    }
    Ok(res.map_body(|_, body| line.sending(body, status)))
}

/// The pattern of the resource that takes what no route takes ([`crate::http::fallback`]).
const FALLBACK_PATTERN: &str = crate::http::fallback::PATTERN;

/// Counts a request that failed or panicked before it had an answer. Its route cannot be asked
/// of a request that is gone: it counts under `route="unknown"`.
fn count_unanswered(
    metrics: Option<&Metrics>,
    line: &AccessLine,
    status: actix_web::http::StatusCode,
) {
    if let Some(metrics) = metrics {
        let (method, took) = line.method_and_elapsed();
        metrics.request_answered(method, "unknown", status.as_str(), took);
    }
}

/// The rate limiter's decision on `req` from `client`, with the policy header, when rate
/// limiting is on and the route is limited.
fn rate_limit(
    req: &ServiceRequest,
    client: Option<std::net::IpAddr>,
) -> Option<(HeaderValue, Decision)> {
    let limits = req.app_data::<RateLimits>()?;
    match limits.check(req.method(), req.path(), client) {
        Decision::Exempt => None,
        decision => Some((limits.policy(), decision)),
    }
}

/// The `401` for a request that needs an API key and carries none of them, when keys are on.
fn authenticate(req: &ServiceRequest) -> Result<(), ApiError> {
    match req.app_data::<Authentication>() {
        Some(authentication) => authentication.check(req),
        None => Ok(()),
    }
}

/// Whether the server `req` came to is draining.
fn is_draining(req: &actix_web::HttpRequest) -> bool {
    req.app_data::<ThinData<ServingState>>()
        .is_some_and(|serving| serving.0.is_draining())
}
