//! One upstream HTTP service, called with awc (actix-web's own client, on the worker's event
//! loop): HTTP/1.1 keep-alive connections pooled per worker and upstream, at most
//! `--upstream-max-connections` of them.
//!
//! Two budgets of `--upstream-timeout` each, never one hidden in the other: waiting for a free
//! connection (a call past the limit queues), then the call itself, from the moment it is sent
//! until its whole body is read. A failure says which ran out. The body is read up to
//! `--upstream-max-body` and no further; one shorter than its `Content-Length` is refused (awc
//! would hand it over as complete).

use std::io;
use std::time::{Duration, Instant};

use actix_web::error::PayloadError;
use actix_web::http::Uri;
use actix_web::http::header::{self, HeaderName, HeaderValue};
use awc::error::{ConnectError, SendRequestError};
use serde_json::value::RawValue;
use tokio::sync::Semaphore;

use super::{Failure, SourceErrorType, SourceKind, SourceResult};
use crate::process::settings::Upstream;

/// The header the caller's request id is forwarded in.
const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The limits of every upstream call, from the settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CallLimits {
    /// The budget of a call once sent, and, apart, of waiting for a free connection.
    pub timeout: Duration,
    /// The most body bytes read.
    pub max_body: usize,
    /// Connections to the upstream at most, in this worker.
    pub max_connections: usize,
}

/// An upstream service with this worker's connections to it.
pub struct HttpSource {
    name: String,
    url: Uri,
    client: awc::Client,
    /// One permit per connection the worker may hold to the upstream.
    connections: Semaphore,
    limits: CallLimits,
}

impl HttpSource {
    /// The worker's client for `upstream`.
    pub fn new(upstream: &Upstream, limits: CallLimits) -> Self {
        // The semaphore below is the limit that counts (its wait has its own budget); awc's,
        // the same, never makes a call queue inside the call's budget. Idle connections are
        // closed after 4 s, before common upstreams' own idle timeouts (5 s) close them under a
        // call that reuses them.
        let connector = awc::Connector::new()
            .limit(limits.max_connections)
            .timeout(limits.timeout)
            .conn_keep_alive(Duration::from_secs(4));
        let client = awc::Client::builder()
            .connector(connector)
            .disable_timeout()
            .disable_redirects()
            .finish();
        Self {
            name: upstream.name.clone(),
            url: upstream.url.clone(),
            client,
            connections: Semaphore::new(limits.max_connections),
            limits,
        }
    }

    /// Calls the upstream once, forwarding `request_id`; logs one debug line.
    pub async fn call(&self, request_id: Option<&HeaderValue>) -> SourceResult {
        let started = Instant::now();
        let result = match self.answer(request_id).await {
            Ok((status, body)) => {
                SourceResult::succeeded(&self.name, SourceKind::Http, started, status, body)
            }
            Err(failure) => SourceResult::failed(&self.name, SourceKind::Http, started, failure),
        };
        log::debug!(
            target: "greeter::upstream",
            "{} {} {}: {} {} in {} ms",
            request_id.and_then(|id| id.to_str().ok()).unwrap_or("-"),
            self.name,
            self.url,
            result.status.map_or("-".to_owned(), |s| s.to_string()),
            result
                .error
                .as_ref()
                .map_or("ok".to_owned(), |e| format!("{:?}: {}", e.kind, e.detail)),
            result.elapsed_ms,
        );
        result
    }

    /// The upstream's status and JSON body (`None` when empty), or why there are none.
    async fn answer(
        &self,
        request_id: Option<&HeaderValue>,
    ) -> Result<(u16, Option<Box<RawValue>>), Failure> {
        let timeout = self.limits.timeout;
        let _connection = actix_rt::time::timeout(timeout, self.connections.acquire())
            .await
            .map_err(|_| {
                Failure::new(
                    SourceErrorType::Timeout,
                    format!(
                        "no free connection within {} (all {} in use)",
                        humantime::format_duration(timeout),
                        self.limits.max_connections
                    ),
                )
            })?
            .map_err(|_| Failure::new(SourceErrorType::Connect, "the upstream was closed"))?;
        let deadline = tokio::time::Instant::now() + timeout;
        let mut request = self
            .client
            .get(self.url.clone())
            .insert_header((header::ACCEPT, "application/json"));
        if let Some(id) = request_id {
            request = request.insert_header((REQUEST_ID, id.clone()));
        }
        let timed_out = |what: &str| {
            Failure::new(
                SourceErrorType::Timeout,
                format!("{what} within {}", humantime::format_duration(timeout)),
            )
        };
        let mut response = tokio::time::timeout_at(deadline, request.send())
            .await
            .map_err(|_| timed_out("no answer"))?
            .map_err(|error| sending_failed(&error))?;
        let status = response.status();
        let code = status.as_u16();
        if code > 599 {
            return Err(Failure::new(
                SourceErrorType::Protocol,
                format!("the answer's status {code} is not an HTTP status"),
            ));
        }
        let declared = declared_length(response.headers());
        // Read even an error's body (within the limits), so the connection can be reused.
        let body = tokio::time::timeout_at(deadline, response.body().limit(self.limits.max_body))
            .await
            .map_err(|_| timed_out("no complete body").with_status(code))?
            .map_err(|error| self.reading_failed(&error).with_status(code));
        if !status.is_success() {
            return Err(Failure::new(
                SourceErrorType::HttpStatus,
                format!("the upstream answered {status}"),
            )
            .with_status(code));
        }
        let body = body?;
        if declared.is_some_and(|length| (body.len() as u64) < length) {
            let detail = format!(
                "the body ended after {} of its {} bytes",
                body.len(),
                declared.unwrap_or_default()
            );
            return Err(Failure::new(SourceErrorType::InvalidBody, detail).with_status(code));
        }
        if body.is_empty() {
            return Ok((code, None)); // 204, or any 2xx without a body
        }
        let text = String::from_utf8(body.to_vec()).map_err(|_| {
            Failure::new(SourceErrorType::InvalidBody, "the body is not UTF-8").with_status(code)
        })?;
        // Checked, then kept as sent: no tree of values per body.
        let json = RawValue::from_string(text).map_err(|error| {
            Failure::new(
                SourceErrorType::InvalidBody,
                format!("the body is not JSON: {error}"),
            )
            .with_status(code)
        })?;
        Ok((code, Some(json)))
    }

    /// Why reading the body failed.
    fn reading_failed(&self, error: &PayloadError) -> Failure {
        match error {
            PayloadError::Overflow => Failure::new(
                SourceErrorType::TooLarge,
                format!(
                    "the body is larger than {} bytes (--upstream-max-body)",
                    self.limits.max_body
                ),
            ),
            _ => Failure::new(SourceErrorType::InvalidBody, "the body was cut short"),
        }
    }
}

/// Why sending the request, or reading the answer's head, failed.
fn sending_failed(error: &SendRequestError) -> Failure {
    match error {
        SendRequestError::Connect(ConnectError::Io(cause)) => Failure::new(
            SourceErrorType::Connect,
            format!("cannot connect: {}", kind(cause)),
        ),
        SendRequestError::Connect(ConnectError::Timeout) => {
            Failure::new(SourceErrorType::Timeout, "connecting took too long")
        }
        SendRequestError::Connect(
            ConnectError::Resolver(_) | ConnectError::NoRecords | ConnectError::Unresolved,
        ) => Failure::new(
            SourceErrorType::Connect,
            "cannot resolve the upstream's host",
        ),
        SendRequestError::Connect(ConnectError::Disconnected) => Failure::new(
            SourceErrorType::Connect,
            "the connection closed before an answer",
        ),
        SendRequestError::Connect(_) => Failure::new(SourceErrorType::Connect, "cannot connect"),
        SendRequestError::Send(cause) => Failure::new(
            SourceErrorType::Connect,
            format!("the connection was lost before an answer: {}", kind(cause)),
        ),
        // The stream ended with part of a head unread ("bytes remaining on stream").
        SendRequestError::Response(actix_web::error::ParseError::Io(cause))
            if cause.kind() == io::ErrorKind::Other =>
        {
            Failure::new(SourceErrorType::Protocol, "the answer's head was cut short")
        }
        SendRequestError::Response(actix_web::error::ParseError::Io(cause)) => Failure::new(
            SourceErrorType::Connect,
            format!("the connection was lost before an answer: {}", kind(cause)),
        ),
        SendRequestError::Response(actix_web::error::ParseError::Incomplete) => {
            Failure::new(SourceErrorType::Protocol, "the answer's head was cut short")
        }
        SendRequestError::Response(_) => {
            Failure::new(SourceErrorType::Protocol, "the answer is not HTTP/1.1")
        }
        SendRequestError::Timeout => Failure::new(SourceErrorType::Timeout, "no answer in time"),
        _ => Failure::new(SourceErrorType::Protocol, "the request could not be made"),
    }
}

/// An I/O error in plain words: its kind, without the operating system's error number.
fn kind(error: &io::Error) -> String {
    error.kind().to_string()
}

/// The answer's `Content-Length`, if it declares one.
fn declared_length(headers: &header::HeaderMap) -> Option<u64> {
    headers
        .get(header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()
}
