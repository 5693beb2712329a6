//! The answer for a request that a panic in its handler, or an error from inside the app, took
//! with it: `500 {"detail": "Internal Server Error"}` for a panic, the error's own status
//! otherwise; the worker keeps serving. The per-request layer ([`crate::http::per_request`]) catches
//! the panic; the panic's message and place are logged by the hook that
//! [`crate::telemetry::logging::init_logging`] installs.
//!
//! Such a request is gone (routing needs it unshared, so no copy is kept), and an answer to the
//! client needs one. So the answer travels as an error ([`Unanswered`]), which actix-http turns
//! into the response that [`Unanswered`] builds: the JSON body, the request id, `nosniff` and the
//! access line, like any other answer. (actix-web-lab's `CatchPanic` answers with a bare error,
//! which skips all of these.)

use std::cell::RefCell;
use std::fmt;

use actix_web::body::BoxBody;
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};

use crate::api::errors::{ApiError, json_error};
use crate::http::access_log::AccessLine;
use crate::http::request_id::with_common_headers;

/// An answer for a request that is gone: `error`'s, under the request's access `line` (and id).
#[derive(Debug)]
pub struct Unanswered {
    error: actix_web::Error,
    /// Taken by the one response built.
    line: RefCell<Option<AccessLine>>,
    /// Whether the answer closes its connection (the server is draining).
    close: bool,
}

impl Unanswered {
    /// The answer for a request whose handler panicked.
    pub fn panicked(line: AccessLine) -> Self {
        Self::failed(
            ApiError::Internal("a handler panicked".to_owned()).into(),
            line,
        )
    }

    /// The answer for a request that failed with `error` before a response was made.
    pub fn failed(error: actix_web::Error, line: AccessLine) -> Self {
        Self {
            error,
            line: RefCell::new(Some(line)),
            close: false,
        }
    }

    /// The same, closing its connection after the answer when `close`.
    pub fn closing(self, close: bool) -> Self {
        Self { close, ..self }
    }
}

impl fmt::Display for Unanswered {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.error.fmt(f)
    }
}

impl ResponseError for Unanswered {
    fn status_code(&self) -> StatusCode {
        self.error.as_response_error().status_code()
    }

    fn error_response(&self) -> HttpResponse<BoxBody> {
        let Some(line) = self.line.borrow_mut().take() else {
            return json_error("a request", self.error.error_response()).map_into_boxed_body();
        };
        let mut res = json_error(&line.request(), self.error.error_response());
        with_common_headers(res.headers_mut(), line.id());
        if self.close {
            res.head_mut()
                .set_connection_type(actix_web::http::ConnectionType::Close);
        }
        let status = res.status();
        res.map_body(|_, body| BoxBody::new(line.sending(body, status)))
    }
}
