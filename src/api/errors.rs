//! Every error answer is JSON in FastAPI's shape, `{"detail": "..."}`.
//!
//! [`ApiError`] is what handlers return; [`as_json_error`], applied by the per-request layer, is
//! the safety net that rewrites any other error response the app makes (actix-web's own
//! plain-text and empty ones included) into the same shape, so no error the app answers reaches
//! a client as HTML, plain text or an empty body. (actix-http refuses a few requests before the
//! app sees them, with no body: unparseable heads, heads over 128 KiB, the 408 of a slow head.)

use std::fmt;

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::ServiceResponse;
use actix_web::http::header::{self, HeaderMap};
use actix_web::http::{Method, StatusCode};
use actix_web::{HttpResponse, ResponseError, mime};
use serde::Serialize;
use utoipa::ToSchema;

/// The body of every non-validation error answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[schema(example = json!({"detail": "Not Found"}))]
pub struct ErrorBody {
    /// What went wrong, for a person to read (at most 512 characters, cut with `…`).
    #[schema(max_length = 512)]
    pub detail: String,
}

impl ErrorBody {
    /// The longest `detail`, in characters, as the document declares it.
    pub const MAX_DETAIL_CHARS: usize = 512;

    /// The body explaining `detail`, cut to [`ErrorBody::MAX_DETAIL_CHARS`].
    pub fn new(detail: String) -> Self {
        Self {
            detail: at_most_chars(detail, Self::MAX_DETAIL_CHARS),
        }
    }

    /// The body for `status`: its canonical reason phrase, e.g. "Not Found".
    pub fn for_status(status: StatusCode) -> Self {
        Self {
            detail: status
                .canonical_reason()
                .unwrap_or("Unknown Error")
                .to_owned(),
        }
    }
}

/// The errors a handler can answer with.
#[derive(Debug)]
pub enum ApiError {
    /// No route has this path.
    NotFound,
    /// A route has this path, but not for this method; `allow` lists the methods it takes.
    MethodNotAllowed {
        /// The methods the path accepts, for the `Allow` header.
        allow: Vec<Method>,
    },
    /// The request body is not JSON (`Content-Type` missing or another type).
    UnsupportedMediaType,
    /// The request body is in a content coding greeter does not decode (`Content-Encoding`,
    /// as sent): it accepts bodies as they are (`identity`) only.
    UnsupportedContentEncoding(String),
    /// The request body is larger than `limit` bytes.
    PayloadTooLarge {
        /// The limit in bytes (`--max-body`).
        limit: usize,
    },
    /// The request is malformed for its route: a body that could not be read (cut short, broken
    /// encoding), or a body where the route takes none.
    BadRequest(String),
    /// The request target is longer than `limit` bytes.
    UriTooLong {
        /// The limit in bytes (`--max-uri-length`).
        limit: usize,
    },
    /// The request line and headers are larger than `limit` bytes.
    HeaderFieldsTooLarge {
        /// The limit in bytes (`--max-header-size`).
        limit: usize,
    },
    /// API keys are on and the request carries none of them as `Authorization: Bearer <key>`.
    Unauthorized,
    /// The client is over `--rate-limit`; it may try again in `retry_after_secs`.
    TooManyRequests {
        /// Whole seconds until a request would be let through (`Retry-After`).
        retry_after_secs: u64,
    },
    /// A failure inside the service; the cause is logged, never sent to the client.
    Internal(String),
}

impl ApiError {
    /// The `detail` the client reads.
    fn detail(&self) -> String {
        match self {
            // FastAPI's words (`HTTPBearer`).
            Self::Unauthorized => "Not authenticated".to_owned(),
            Self::UnsupportedMediaType => "Unsupported Media Type: the request body must be JSON \
                 (Content-Type: application/json)"
                .to_owned(),
            Self::UnsupportedContentEncoding(coding) => format!(
                "Unsupported Media Type: the request body's Content-Encoding {coding:?} is not \
                 decoded here; send the body as it is (identity)"
            ),
            Self::PayloadTooLarge { limit } => {
                format!("Payload Too Large: the request body exceeds the limit of {limit} bytes")
            }
            Self::BadRequest(cause) => format!("Bad Request: {cause}"),
            Self::UriTooLong { limit } => {
                format!("URI Too Long: the request target exceeds the limit of {limit} bytes")
            }
            Self::HeaderFieldsTooLarge { limit } => format!(
                "Request Header Fields Too Large: the request line and headers exceed the limit \
                 of {limit} bytes"
            ),
            _ => ErrorBody::for_status(self.status_code()).detail,
        }
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotFound => f.write_str("not found"),
            Self::MethodNotAllowed { allow } => write!(f, "method not allowed (allow: {allow:?})"),
            Self::Internal(cause) => write!(f, "internal error: {cause}"),
            _ => f.write_str(&self.detail()),
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            Self::UnsupportedMediaType | Self::UnsupportedContentEncoding(_) => {
                StatusCode::UNSUPPORTED_MEDIA_TYPE
            }
            Self::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::UriTooLong { .. } => StatusCode::URI_TOO_LONG,
            Self::HeaderFieldsTooLarge { .. } => StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            Self::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::Unauthorized => StatusCode::UNAUTHORIZED,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let status = self.status_code();
        let mut response = HttpResponse::build(status);
        if let Self::MethodNotAllowed { allow } = self {
            response.insert_header(header::Allow(allow.clone()));
        }
        if let Self::UnsupportedContentEncoding(_) = self {
            response.insert_header((header::ACCEPT_ENCODING, "identity"));
        }
        if let Self::Unauthorized = self {
            response.insert_header((header::WWW_AUTHENTICATE, "Bearer"));
        }
        if let Self::TooManyRequests { retry_after_secs } = self {
            response.insert_header((header::RETRY_AFTER, *retry_after_secs));
        }
        response.json(ErrorBody::new(self.detail()))
    }
}

/// Turns `res`, when it is an error answer whose body is not JSON, into `{"detail": reason}`,
/// keeping its status and headers; logs the cause of every server error.
pub fn as_json_error<B: MessageBody>(res: ServiceResponse<B>) -> ServiceResponse<EitherBody<B>> {
    let status = res.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return res.map_into_left_body();
    }
    let (req, res) = res.into_parts();
    let res = json_error(&format!("{} {}", req.method(), req.path()), res);
    ServiceResponse::new(req, res)
}

/// [`as_json_error`] for an answer to `request` (`METHOD path`, for the log).
pub fn json_error<B: MessageBody>(
    request: &str,
    res: HttpResponse<B>,
) -> HttpResponse<EitherBody<B>> {
    let status = res.status();
    // A JSON answer a handler chose to give (`/readyz`'s 503 while draining) is no failure.
    let chosen = res.error().is_none() && is_json(res.headers());
    if status.is_server_error() && !chosen {
        match res.error() {
            Some(cause) => log::error!("{request} failed: {cause}"),
            None => log::error!("{request} failed with {status}"),
        }
    }
    if is_json(res.headers()) || !(status.is_client_error() || status.is_server_error()) {
        return res.map_into_left_body();
    }
    let mut new = HttpResponse::build(status).json(ErrorBody::for_status(status));
    for (name, value) in res.headers() {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            new.headers_mut().append(name.clone(), value.clone());
        }
    }
    new.map_into_right_body()
}

/// `text` cut to its first `max` characters (never inside one), with `…` as the last when cut.
pub fn at_most_chars(mut text: String, max: usize) -> String {
    if let Some((cut, _)) = text.char_indices().nth(max.saturating_sub(1))
        && text[cut..].chars().nth(1).is_some()
    {
        text.truncate(cut);
        text.push('…');
    }
    text
}

fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<mime::Mime>().ok())
        .is_some_and(|mime| mime.subtype() == mime::JSON || mime.suffix() == Some(mime::JSON))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detail_is_the_reason_phrase() {
        assert_eq!(
            ErrorBody::for_status(StatusCode::NOT_FOUND).detail,
            "Not Found"
        );
        assert_eq!(
            ErrorBody::for_status(StatusCode::INTERNAL_SERVER_ERROR).detail,
            "Internal Server Error"
        );
    }

    #[test]
    fn long_text_is_cut_at_a_character_with_an_ellipsis() {
        assert_eq!(at_most_chars("abc".to_owned(), 3), "abc");
        assert_eq!(at_most_chars("abcd".to_owned(), 3), "ab…");
        assert_eq!(at_most_chars("ééééé".to_owned(), 4), "ééé…");
        assert_eq!(at_most_chars(String::new(), 3), "");
        let long = ApiError::BadRequest("x".repeat(2000)).error_response();
        let body = actix_web::body::to_bytes(long.into_body());
        let body = futures_util::FutureExt::now_or_never(body)
            .unwrap()
            .unwrap();
        let detail: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(
            detail["detail"].as_str().unwrap().chars().count(),
            ErrorBody::MAX_DETAIL_CHARS
        );
    }

    #[test]
    fn json_content_types_are_recognised() {
        let mut headers = HeaderMap::new();
        for (value, expected) in [
            ("application/json", true),
            ("application/problem+json; charset=utf-8", true),
            ("text/plain; charset=utf-8", false),
            ("text/html", false),
        ] {
            headers.insert(header::CONTENT_TYPE, value.parse().unwrap());
            assert_eq!(is_json(&headers), expected, "{value}");
        }
        headers.clear();
        assert!(!is_json(&headers));
    }

    #[test]
    fn method_not_allowed_names_the_allowed_methods() {
        let response = ApiError::MethodNotAllowed {
            allow: vec![Method::GET, Method::HEAD],
        }
        .error_response();
        assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(response.headers().get(header::ALLOW).unwrap(), "GET, HEAD");
    }
}
