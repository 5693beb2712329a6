//! A panic in a handler becomes `500 {"detail": "Internal Server Error"}` for that request; the
//! worker keeps serving. The panic's message and place are logged by the hook that
//! [`crate::telemetry::init_logging`] installs, and the access line names the request.
//!
//! actix-web-lab's `CatchPanic` does the same but answers with an error rather than a response,
//! which the middleware outside it (JSON errors, request id, security headers, access log)
//! cannot see; this one answers with a response they all handle.

use std::panic::AssertUnwindSafe;

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::test::TestRequest;
use actix_web::{Error, ResponseError};
use futures_util::FutureExt;

use crate::access_log::RequestLine;
use crate::errors::ApiError;

/// Calls `next` with `req` (noted in `line`), turning a panic below into a `500` answer.
pub async fn call_catching_panics<B: MessageBody + 'static>(
    req: ServiceRequest,
    next: Next<B>,
    line: &RequestLine,
) -> Result<ServiceResponse<EitherBody<B>>, Error> {
    match AssertUnwindSafe(next.call(req)).catch_unwind().await {
        Ok(result) => result.map(ServiceResponse::map_into_left_body),
        Err(_) => {
            // The request itself cannot be kept: routing needs it unshared, and a panic drops
            // it. Its method and target, noted beforehand, stand in for it in the answer.
            let request = TestRequest::default()
                .method(line.method().clone())
                .uri(&line.uri().to_string())
                .to_http_request();
            let error = ApiError::Internal("a handler panicked".to_owned());
            Ok(ServiceResponse::new(request, error.error_response()).map_into_right_body())
        }
    }
}
