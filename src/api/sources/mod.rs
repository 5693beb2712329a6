//! The sources `GET /aggregate` calls, all at once: upstream HTTP services (`--upstream`), or,
//! when none is configured, three simulated ones that wait like `GET /` does. Each call ends in
//! a [`SourceResult`]: one source's failure never fails, delays or cancels another.
//!
//! A worker's sources ([`Sources`]) hold its HTTP clients, which belong to the worker's event
//! loop; [`SourcesConfig`] is what the server prepares once and each worker turns into its own.

pub mod budget;
pub mod http;
pub mod http2;
pub mod json;
pub mod parameters;
pub mod tls;

use std::time::{Duration, Instant};

use actix_web::http::header::HeaderValue;
use futures_util::future::join_all;
use serde::Serialize;
use serde_json::json;
use serde_json::value::RawValue;
use utoipa::ToSchema;

use crate::api::simulated_io::SimulatedIo;
use crate::api::validation::HttpValidationError;
use crate::config::parameters::{Parameter, Slot};
use crate::config::{ServeSettings, Upstream};
use crate::telemetry::metrics::Metrics;
use crate::telemetry::trace_context::TraceContext;
use parameters::ParameterValues;

/// The names of the simulated sources that stand in when no upstream is configured.
pub const SIMULATED_SOURCES: [&str; 3] = ["simulated-1", "simulated-2", "simulated-3"];

/// What `GET /aggregate` answers: every source's result, in configured order.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(example = json!({"elapsed_ms": 2003, "sources": [
    {"name": "billing", "kind": "http", "ok": true, "elapsed_ms": 12, "status": 200,
     "body": {"balance": 42}},
    {"name": "users", "kind": "http", "ok": false, "elapsed_ms": 2001,
     "error": {"type": "timeout", "detail": "no answer within 2s"}}]}))]
pub struct Aggregate {
    /// How long the whole aggregate took, in milliseconds (at most twice the longest
    /// `--upstream-timeout`, 1 h).
    #[schema(maximum = 7_200_000)]
    pub elapsed_ms: u64,
    /// One result per source, in the order they are configured (at most 64 sources).
    #[schema(max_items = 64)]
    pub sources: Vec<SourceResult>,
}

/// One source's outcome: `ok` with the upstream's `status` and JSON `body`, or not `ok` with an
/// `error` (and the `status`, for an `http_status` error).
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(example = json!({"name": "billing", "kind": "http", "ok": true, "elapsed_ms": 12,
    "status": 200, "body": {"balance": 42}}))]
pub struct SourceResult {
    /// The source's name (`--upstream NAME=URL`).
    #[schema(max_length = 32, pattern = "^[a-z0-9_-]{1,32}$")]
    pub name: String,
    /// What kind of source it is.
    pub kind: SourceKind,
    /// Whether the call succeeded: a 2xx answer with a JSON body within the limits.
    pub ok: bool,
    /// How long the call took, in milliseconds (at most twice `--upstream-timeout`).
    #[schema(maximum = 7_200_000)]
    pub elapsed_ms: u64,
    /// The upstream's HTTP status, when it answered with one (100-599; any other is a
    /// `protocol` error).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(required = false, nullable = false, minimum = 100, maximum = 599)]
    pub status: Option<u16>,
    /// The upstream's JSON body, as it was (byte for byte), when `ok` and not empty.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(required = false, nullable = false, value_type = Value)]
    pub body: Option<Box<RawValue>>,
    /// Why the call failed, when not `ok`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(required = false, nullable = false)]
    pub error: Option<SourceError>,
}

/// The kinds of sources.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SourceKind {
    /// A stand-in that waits like `GET /` (no `--upstream` configured).
    Simulated,
    /// An upstream HTTP service.
    Http,
}

/// Why a source's call failed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct SourceError {
    /// What kind of failure, for a program.
    #[serde(rename = "type")]
    pub kind: SourceErrorType,
    /// What happened, for a person (at most 512 characters).
    #[schema(max_length = 512)]
    pub detail: String,
}

/// The kinds of failure of a source's call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SourceErrorType {
    /// No free connection, no answer or no complete body within `--upstream-timeout`.
    Timeout,
    /// The connection was refused, unreachable, lost before an answer, or ended by the
    /// upstream's HTTP/2 `GOAWAY`.
    Connect,
    /// The upstream answered with a status other than 2xx (`status` says which).
    HttpStatus,
    /// The body is not JSON, not UTF-8, shorter than its `Content-Length`, or JSON that
    /// clients cannot read back (nested deeper than 100, a number past `f64`, a lone
    /// surrogate).
    InvalidBody,
    /// The body is larger than `--upstream-max-body`; reading stopped there.
    TooLarge,
    /// The upstream broke HTTP: an answer that is not HTTP/1.1, an HTTP/2 stream it reset
    /// before answering, an HTTP version it does not speak.
    Protocol,
    /// The bodies all aggregates hold reached `--upstream-body-budget`: this one was not read
    /// (or not whole).
    Overloaded,
    /// The TLS handshake with an `https://` upstream failed (`detail` names the cause: unknown
    /// issuer, expired, name mismatch, no common protocol version, not TLS at all).
    Tls,
}

impl SourceErrorType {
    /// Its name in answers and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Timeout => "timeout",
            Self::Connect => "connect",
            Self::HttpStatus => "http_status",
            Self::InvalidBody => "invalid_body",
            Self::TooLarge => "too_large",
            Self::Protocol => "protocol",
            Self::Overloaded => "overloaded",
            Self::Tls => "tls",
        }
    }
}

impl SourceResult {
    /// A successful call to `name`, started at `started`; `body` is `None` for an empty one.
    fn succeeded(
        name: &str,
        kind: SourceKind,
        started: Instant,
        status: u16,
        body: Option<Box<RawValue>>,
    ) -> Self {
        Self {
            name: name.to_owned(),
            kind,
            ok: true,
            elapsed_ms: millis(started.elapsed()),
            status: Some(status),
            body,
            error: None,
        }
    }

    /// A failed call to `name` (of `kind`), started at `started`.
    fn failed(name: &str, kind: SourceKind, started: Instant, failure: Failure) -> Self {
        Self {
            name: name.to_owned(),
            kind,
            ok: false,
            elapsed_ms: millis(started.elapsed()),
            status: failure.status,
            body: None,
            error: Some(SourceError {
                kind: failure.kind,
                detail: failure.detail,
            }),
        }
    }
}

/// Why a call failed, before it is placed in its [`SourceResult`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Failure {
    kind: SourceErrorType,
    detail: String,
    status: Option<u16>,
}

impl Failure {
    /// A failure of `kind`, explained by `detail`.
    pub(super) fn new(kind: SourceErrorType, detail: impl Into<String>) -> Self {
        Self {
            kind,
            detail: crate::api::errors::at_most_chars(
                detail.into(),
                crate::api::errors::ErrorBody::MAX_DETAIL_CHARS,
            ),
            status: None,
        }
    }

    /// The same, after the upstream answered with `status`.
    pub(super) fn with_status(self, status: u16) -> Self {
        Self {
            status: Some(status),
            ..self
        }
    }
}

fn millis(elapsed: Duration) -> u64 {
    u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX)
}

/// The sources as the settings describe them, prepared once per server.
#[derive(Debug, Clone)]
pub struct SourcesConfig {
    upstreams: Vec<UpstreamConfig>,
    parameters: std::sync::Arc<[Parameter]>,
    /// Whether each parameter fills a path segment of some upstream's URL.
    in_path: std::sync::Arc<[bool]>,
    io: SimulatedIo,
    budget: budget::BodyBudget,
    metrics: Option<Metrics>,
}

/// One upstream with its limits and the TLS client its `https://` calls use.
#[derive(Debug, Clone)]
struct UpstreamConfig {
    upstream: Upstream,
    limits: http::CallLimits,
    tls: Option<tls::TlsClient>,
}

impl SourcesConfig {
    /// The sources of `settings`: its upstreams (their calls counted in `metrics`, if any), or
    /// the simulated ones; fails, in one line, when a CA file (`--upstream-ca-file`, an
    /// upstream's `ca_file`) cannot be used.
    pub fn new(settings: &ServeSettings, metrics: Option<&Metrics>) -> Result<Self, String> {
        let shared_ca: Vec<(&str, &std::path::Path)> = settings
            .upstream_ca_file
            .iter()
            .map(|path| ("--upstream-ca-file", path.as_path()))
            .collect();
        let wants_tls = !shared_ca.is_empty() || settings.upstreams.iter().any(Upstream::is_https);
        let shared = if wants_tls {
            Some(tls::TlsClient::new(&shared_ca)?)
        } else {
            None
        };
        let mut upstreams = Vec::with_capacity(settings.upstreams.len());
        for upstream in &settings.upstreams {
            let tls = match &upstream.ca_file {
                Some(path) => {
                    let setting = format!("the ca_file of the upstream {}", upstream.name);
                    let mut files = shared_ca.clone();
                    files.push((&setting, path));
                    Some(tls::TlsClient::new(&files)?)
                }
                None => shared.clone(),
            };
            upstreams.push(UpstreamConfig {
                upstream: upstream.clone(),
                limits: http::CallLimits {
                    timeout: settings.timeout_of(upstream),
                    max_body: settings.max_body_bytes_of(upstream),
                    max_connections: settings.max_connections_of(upstream).get(),
                },
                tls,
            });
        }
        Ok(Self {
            upstreams,
            parameters: settings.parameters.clone().into(),
            in_path: settings
                .parameters
                .iter()
                .map(|parameter| {
                    settings.upstreams.iter().any(|upstream| {
                        upstream
                            .target
                            .placeholders()
                            .any(|(name, slot)| name == parameter.name && slot == Slot::Path)
                    })
                })
                .collect(),
            budget: budget::BodyBudget::new(settings.upstream_body_budget_bytes()),
            metrics: metrics.cloned(),
            io: SimulatedIo::new(settings.io_delay.into()),
        })
    }

    /// A worker's own sources, with its own HTTP clients.
    pub fn for_worker(&self) -> Sources {
        let sources = if self.upstreams.is_empty() {
            SIMULATED_SOURCES
                .iter()
                .map(|name| Source::Simulated { name, io: self.io })
                .collect()
        } else {
            self.upstreams
                .iter()
                .map(|config| {
                    Source::Http(Box::new(http::HttpSource::new(
                        &config.upstream,
                        config.limits,
                        config.tls.clone(),
                        self.budget.clone(),
                        self.metrics.clone(),
                    )))
                })
                .collect()
        };
        Sources {
            sources,
            parameters: self.parameters.clone(),
            in_path: self.in_path.clone(),
        }
    }
}

/// A worker's sources.
pub struct Sources {
    sources: Vec<Source>,
    parameters: std::sync::Arc<[Parameter]>,
    in_path: std::sync::Arc<[bool]>,
}

enum Source {
    Simulated { name: &'static str, io: SimulatedIo },
    Http(Box<http::HttpSource>),
}

impl Sources {
    /// The parameters' values in `query`, checked, or every invalid one in FastAPI's `422`.
    pub fn parameter_values(&self, query: &str) -> Result<ParameterValues, HttpValidationError> {
        ParameterValues::from_query(query, &self.parameters, &self.in_path)
    }

    /// Calls every source at once, with the parameters' `values`, forwarding `request_id` and
    /// the `trace`; answers once all have finished or failed, in configured order, with the
    /// bodies' bytes held against the budget (hold them until the answer is sent).
    pub async fn call_all(
        &self,
        values: &ParameterValues,
        request_id: Option<&HeaderValue>,
        trace: &TraceContext,
    ) -> (Vec<SourceResult>, budget::Held) {
        let calls = self
            .sources
            .iter()
            .map(|source| source.call(values, request_id, trace));
        let mut held = budget::Held::default();
        let results = join_all(calls)
            .await
            .into_iter()
            .map(|(result, bytes)| {
                held.merge(bytes);
                result
            })
            .collect();
        (results, held)
    }
}

impl Source {
    async fn call(
        &self,
        values: &ParameterValues,
        request_id: Option<&HeaderValue>,
        trace: &TraceContext,
    ) -> (SourceResult, budget::Held) {
        match self {
            Self::Simulated { name, io } => {
                let started = Instant::now();
                io.wait().await;
                let body = RawValue::from_string(json!({"Hello": "World"}).to_string()).ok();
                let result =
                    SourceResult::succeeded(name, SourceKind::Simulated, started, 200, body);
                (result, budget::Held::default())
            }
            Self::Http(source) => {
                source
                    .call(values, request_id.map(HeaderValue::as_bytes), trace)
                    .await
            }
        }
    }
}
