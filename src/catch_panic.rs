//! A panic in a handler becomes `500 {"detail": "Internal Server Error"}` for that request; the
//! worker keeps serving. The per-request layer ([`crate::middleware`]) catches the panic; this
//! module builds the answer. The panic's message and place are logged by the hook that
//! [`crate::telemetry::init_logging`] installs, and the access line names the request.
//!
//! actix-web-lab's `CatchPanic` does the same but answers with an error rather than a response,
//! which the middleware outside it (request id, security headers, access log) cannot see; this
//! answer is a response they all handle.

use actix_web::ResponseError;
use actix_web::dev::ServiceResponse;
use actix_web::test::TestRequest;

use crate::access_log::RequestLine;
use crate::errors::ApiError;

/// The `500` answer for a request, noted in `line`, whose handler panicked.
pub fn answer_for_panic(line: &RequestLine) -> ServiceResponse {
    // The request itself cannot be kept: routing needs it unshared, and a panic drops it.
    // Its method and target, noted beforehand, stand in for it in the answer.
    let request = TestRequest::default()
        .method(line.method().clone())
        .uri(&line.uri().to_string())
        .to_http_request();
    let error = ApiError::Internal("a handler panicked".to_owned());
    ServiceResponse::new(request, error.error_response())
}
