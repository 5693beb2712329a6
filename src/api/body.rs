//! The request body. [`NoBody`], the extractor of every `GET` route: a `GET` or `HEAD` that
//! carries a body gets `400`. No such route reads one, and a body where none belongs is how
//! request-smuggling attempts often look; it is decided on the route that matched, so a `GET` of
//! a path without a `GET` route gets its `405` as usual.
//!
//! [`JsonBody`], the JSON request body, read with care: `415` unless it is declared JSON and sent
//! as it is (no `Content-Encoding` but `identity`), `413` past the
//! `--max-body` limit (from `Content-Length` before a byte is read, or as soon as a streamed body
//! passes it, so an oversized body never sits in memory), `400` when it cannot be read (cut
//! short, or its encoding broken), `422` when it does not parse. What it
//! yields is a [`serde_json::Value`] for the route to validate field by field, so one answer can
//! list every invalid field.

use std::future::{Future, Ready, ready};
use std::pin::Pin;

use actix_web::body::{BodyStream, to_bytes_limited};
use actix_web::dev::{Payload, RequestHead};
use actix_web::error::PayloadError;
use actix_web::http::header;
use actix_web::{FromRequest, HttpMessage, HttpRequest, mime};
use serde_json::{Value, json};

use crate::api::errors::ApiError;
use crate::api::validation::{HttpValidationError, LocationItem, Violation, body_loc};

/// The most bytes a request body may have; the app's `--max-body` setting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BodyLimit(pub usize);

impl Default for BodyLimit {
    fn default() -> Self {
        Self(crate::config::ServeSettings::default().max_body_bytes())
    }
}

/// A request body that is well-formed JSON.
#[derive(Debug, Clone, PartialEq)]
pub struct JsonBody(pub Value);

impl FromRequest for JsonBody {
    type Error = actix_web::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let limit = req.app_data::<BodyLimit>().copied().unwrap_or_default().0;
        let checked = check_head(req, limit);
        let body = BodyStream::new(payload.take());
        Box::pin(async move {
            checked?;
            let bytes = match to_bytes_limited(body, limit).await {
                Ok(Ok(bytes)) => bytes,
                Ok(Err(cause)) => return Err(unreadable(&cause, limit).into()),
                Err(_) => return Err(ApiError::PayloadTooLarge { limit }.into()),
            };
            parse_json(&bytes).map(JsonBody).map_err(Into::into)
        })
    }
}

/// The answer for a body that could not be read, in greeter's own words: actix-http's
/// messages carry `Debug` text (`payload reached EOF before completing: None`).
fn unreadable(cause: &PayloadError, limit: usize) -> ApiError {
    let detail = match cause {
        PayloadError::Overflow => return ApiError::PayloadTooLarge { limit },
        PayloadError::Incomplete(_) => "the request body ended early",
        PayloadError::EncodingCorrupted => "the request body's encoding is broken",
        _ => "the request body could not be read",
    };
    log::debug!("unreadable request body: {cause}");
    ApiError::BadRequest(detail.to_owned())
}

/// What can be judged before reading: the media type, then a declared length over the limit.
fn check_head(req: &HttpRequest, limit: usize) -> Result<(), ApiError> {
    let is_json = req.mime_type().ok().flatten().is_some_and(|mime| {
        mime.type_() == mime::APPLICATION
            && (mime.subtype() == mime::JSON || mime.suffix() == Some(mime::JSON))
    });
    if !is_json {
        return Err(ApiError::UnsupportedMediaType);
    }
    // A coding greeter does not decode (actix-web's decompression is not built in) would be
    // read as if it were plain JSON.
    // Every coding of every `Content-Encoding` line counts (the last one applied is outermost).
    for value in req.headers().get_all(header::CONTENT_ENCODING) {
        let codings = String::from_utf8_lossy(value.as_bytes());
        let decoded_here = codings
            .split(',')
            .map(str::trim)
            .all(|coding| coding.is_empty() || coding.eq_ignore_ascii_case("identity"));
        if !decoded_here {
            return Err(ApiError::UnsupportedContentEncoding(
                codings.trim().to_owned(),
            ));
        }
    }
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok()?.parse::<u64>().ok());
    if declared.is_some_and(|length| length > limit as u64) {
        return Err(ApiError::PayloadTooLarge { limit });
    }
    Ok(())
}

/// Parses a request body: an empty one is FastAPI's `missing`; a syntax error is
/// `json_invalid`, located at its character position as FastAPI does.
pub fn parse_json(bytes: &[u8]) -> Result<Value, HttpValidationError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(Violation::missing().at(body_loc(None), Value::Null).into());
    }
    serde_json::from_slice(bytes).map_err(|error| {
        let position = character_position(bytes, error.line(), error.column());
        let message = error.to_string();
        let reason = message
            .split(" at line ")
            .next()
            .unwrap_or(&message)
            .to_owned();
        Violation::new("json_invalid", "JSON decode error")
            .with_ctx(json!({"error": reason}))
            .at(vec![LocationItem::from("body"), position.into()], json!({}))
            .into()
    })
}

/// The 0-based character position of serde_json's 1-based `line` and byte `column`.
fn character_position(bytes: &[u8], line: usize, column: usize) -> usize {
    let line_start: usize = bytes
        .split_inclusive(|&b| b == b'\n')
        .take(line.saturating_sub(1))
        .map(<[u8]>::len)
        .sum();
    let end = (line_start + column.saturating_sub(1)).min(bytes.len());
    String::from_utf8_lossy(&bytes[..end]).chars().count()
}

/// Extractor for routes that take no body (every `GET` route, and so `HEAD`): the request is
/// refused with `400` when it carries one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NoBody;

impl FromRequest for NoBody {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(if carries_body(req.head()) {
            Err(ApiError::BadRequest(format!(
                "a {} request cannot carry a body",
                req.method()
            )))
        } else {
            Ok(Self)
        })
    }
}

/// Whether the request declares a body: a `Content-Length` other than `0`, or any
/// `Transfer-Encoding`.
fn carries_body(head: &RequestHead) -> bool {
    let declared = head.headers.get(header::CONTENT_LENGTH);
    let non_empty = declared.is_some_and(|length| {
        let length = length
            .to_str()
            .ok()
            .and_then(|l| l.trim().parse::<u64>().ok());
        length != Some(0)
    });
    non_empty || head.headers.contains_key(header::TRANSFER_ENCODING)
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    fn error_of(body: &str) -> Value {
        serde_json::to_value(&parse_json(body.as_bytes()).unwrap_err().detail[0]).unwrap()
    }

    #[test]
    fn an_empty_body_is_missing() {
        for body in ["", "  \n"] {
            assert_eq!(
                error_of(body),
                json!({"type": "missing", "loc": ["body"], "msg": "Field required", "input": null})
            );
        }
    }

    #[test]
    fn syntax_errors_are_json_invalid_at_their_character_position() {
        let error = error_of("{\"name\": }");
        assert_eq!(error["type"], "json_invalid");
        assert_eq!(error["loc"], json!(["body", 9]));
        assert_eq!(error["msg"], "JSON decode error");
        assert_eq!(error["input"], json!({}));
        assert_eq!(error["ctx"]["error"], "expected value");

        assert_eq!(
            error_of("{\n\"é\": x}")["loc"],
            json!(["body", 7]),
            "counts characters"
        );
    }

    #[test]
    fn unreadable_bodies_are_explained_without_framework_text() {
        let detail = |cause: PayloadError| unreadable(&cause, 10).to_string();
        assert_eq!(
            detail(PayloadError::Incomplete(None)),
            "Bad Request: the request body ended early"
        );
        assert_eq!(
            detail(PayloadError::Io(std::io::ErrorKind::ConnectionReset.into())),
            "Bad Request: the request body could not be read"
        );
        assert!(matches!(
            unreadable(&PayloadError::Overflow, 10),
            ApiError::PayloadTooLarge { limit: 10 }
        ));
    }

    #[test]
    fn well_formed_json_of_any_kind_parses() {
        assert_eq!(parse_json(b"[1, 2]").unwrap(), json!([1, 2]));
        assert_eq!(parse_json(b" {\"a\": null} ").unwrap(), json!({"a": null}));
    }

    #[test]
    fn a_body_is_declared_by_a_non_zero_length_or_a_transfer_encoding() {
        let carries = |name: &str, value: &str| {
            let request = TestRequest::get().insert_header((name, value));
            carries_body(request.to_http_request().head())
        };
        assert!(!carries("content-length", "0"));
        assert!(!carries("content-length", "00"));
        assert!(carries("content-length", "5"));
        assert!(carries("transfer-encoding", "chunked"));
        assert!(!carries_body(TestRequest::get().to_http_request().head()));
    }
}
