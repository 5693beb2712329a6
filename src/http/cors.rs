//! CORS (`--cors-allow-origin`; off by default), on actix-cors, wrapped outside the per-request
//! layer so that every answer the app makes carries the headers: 4xx, 429 and 500 included (a
//! long-standing Starlette complaint: its errors skip the CORS middleware). Preflights are
//! answered by actix-cors; one it refuses (an origin, method or header not allowed) gets a JSON
//! `400` instead of actix-cors' plain text. The browser may read `X-Request-Id` and the
//! rate-limit headers.

use std::rc::Rc;

use actix_service::boxed::{self, BoxFuture, BoxService};
use actix_service::{Service, ServiceExt};
use actix_web::body::{BoxBody, EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse, Transform};
use actix_web::http::Method;
use actix_web::http::header::{self, HeaderName};
use actix_web::middleware::{Next, from_fn};
use actix_web::{Error, ResponseError};

use crate::api::errors::ApiError;
use crate::http::per_request::admission_inside_cors;
use crate::http::rate_limit::{RATELIMIT, RATELIMIT_POLICY};
use crate::http::request_id::REQUEST_ID;

/// How long a browser may cache a preflight's answer, in seconds.
pub const PREFLIGHT_MAX_AGE: usize = 600;

/// The CORS middleware for `origins` (`*` for any, answered with a wildcard).
pub fn cors(origins: &[String]) -> actix_cors::Cors {
    let exposed: [HeaderName; 5] = [
        REQUEST_ID,
        RATELIMIT,
        RATELIMIT_POLICY,
        header::RETRY_AFTER,
        header::WWW_AUTHENTICATE,
    ];
    let cors = actix_cors::Cors::default()
        .allowed_methods([Method::GET, Method::HEAD, Method::POST, Method::OPTIONS])
        .allowed_headers([
            header::CONTENT_TYPE,
            header::ACCEPT,
            header::AUTHORIZATION,
            REQUEST_ID,
        ])
        .expose_headers(exposed)
        .max_age(PREFLIGHT_MAX_AGE);
    if origins.iter().any(|origin| origin == "*") {
        return cors.allow_any_origin().send_wildcard();
    }
    origins
        .iter()
        .fold(cors, |cors, origin| cors.allowed_origin(origin))
}

/// Middleware outside [`cors`]: a preflight it refuses becomes `400 {"detail": ...}`.
async fn json_refusals<B: MessageBody + 'static>(
    req: ServiceRequest,
    next: Next<B>,
) -> Result<ServiceResponse<EitherBody<B>>, Error> {
    let res = next.call(req).await?;
    let refusal = res
        .response()
        .error()
        .and_then(|error| error.as_error::<actix_cors::CorsError>())
        .map(|error| format!("CORS request refused: {error}"));
    Ok(match refusal {
        Some(detail) => res
            .into_response(ApiError::BadRequest(detail).error_response())
            .map_into_right_body(),
        None => res.map_into_left_body(),
    })
}

/// The CORS layers as one: admission inside (its refusals carry the CORS headers), [`cors`],
/// and `json_refusals` outside. Startup wraps it in one `Condition`: with CORS off (the
/// default) that is one idle layer per request, where a `Condition` per layer cost three
/// (about 1% of a request's CPU, measured with perf). With CORS on, the stack is one boxed
/// service.
pub struct CorsLayers {
    origins: Rc<[String]>,
}

impl CorsLayers {
    /// The layers for `origins` (see [`cors`]).
    pub fn new(origins: &[String]) -> Self {
        Self {
            origins: origins.into(),
        }
    }
}

impl<S, B> Transform<S, ServiceRequest> for CorsLayers
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error> + 'static,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<BoxBody>;
    type Error = Error;
    type Transform = BoxService<ServiceRequest, Self::Response, Error>;
    type InitError = ();
    type Future = BoxFuture<Result<Self::Transform, ()>>;

    fn new_transform(&self, service: S) -> Self::Future {
        let cors = cors(&self.origins);
        Box::pin(async move {
            let admitted = from_fn(admission_inside_cors)
                .new_transform(service)
                .await?;
            let with_cors = cors.new_transform(admitted).await?;
            let refusals = from_fn(json_refusals).new_transform(with_cors).await?;
            Ok(boxed::service(
                refusals.map(ServiceResponse::map_into_boxed_body),
            ))
        })
    }
}
