//! One upstream HTTP service, called on the worker's event loop, over TLS for an `https://`
//! upstream ([`super::tls`]): with hyper's HTTP/1.1 client connections, kept alive and pooled
//! per worker and upstream, at most `max_connections` of them; or over HTTP/2 as ALPN or the
//! configuration says, calls sharing connections ([`super::http2`]).
//!
//! Two budgets of `--upstream-timeout` each, never one hidden in the other: waiting for a free
//! connection (a call past the limit queues), then the call itself, from the moment it is sent
//! (connecting included, when no idle connection is left) until its whole body is read. A failure
//! says which ran out. The body is read up to `--upstream-max-body` and no further.
//!
//! Why hyper's connections and not awc: awc builds a fresh codec per request, whose date service
//! spawns and cancels a timer task each time; measured in `make bench`'s fan-out scenario, awc
//! cost about 1.25x the CPU per aggregate (see `docs/fan-out.md`).

use std::cell::{Cell, RefCell};
use std::io;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use ::http::header::{self, HeaderName, HeaderValue};
use ::http::{Request, Uri};
use http_body_util::{BodyExt, Empty, LengthLimitError, Limited};
use hyper::body::Bytes;
use hyper::client::conn::http1::{self, SendRequest};
use hyper_util::rt::TokioIo;
use serde_json::value::RawValue;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::Semaphore;

use super::budget::{BodyBudget, Held};
use super::http2;
use super::json;
use super::parameters::ParameterValues;
use super::tls::{self, TlsClient};
use super::{Failure, SourceErrorType, SourceKind, SourceResult};
use crate::config::parameters::Template;
use crate::config::{HttpVersion, Upstream};
use crate::lifecycle::memory;
use crate::telemetry::metrics::Metrics;
use crate::telemetry::trace_context::{TRACEPARENT, TRACESTATE, TraceContext};

/// The header the caller's request id is forwarded in.
const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The most connections a worker opens to one upstream at once. A burst of calls (1,000 clients
/// starting together) would otherwise start hundreds of TLS handshakes at once, none finishing
/// within the call's time on a busy machine; calls past it wait for a connection another call
/// gives back, or for their turn to open one (docs/fan-out.md).
pub const OPENING_AT_ONCE: usize = 16;

/// How long a connection may sit idle before it is closed rather than reused: shorter than
/// common upstreams' own idle timeouts (5 s), so that a call never reuses a connection the
/// upstream is closing.
const IDLE_TIMEOUT: Duration = Duration::from_secs(4);

/// How an upstream's connections are made.
enum Transport {
    /// In the clear (`http://`).
    Plain,
    /// Over TLS, the certificate verified for this name (`https://`).
    Tls(TlsClient, rustls::pki_types::ServerName<'static>),
    /// An `https://` upstream that TLS cannot be set up for: every call fails as `tls`, saying
    /// why (not reachable from the command line, which refuses such an upstream).
    Unusable(String),
}

/// Which HTTP an upstream speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Protocol {
    /// Not known before a connection's TLS handshake says (ALPN).
    Unknown,
    /// HTTP/1.1: a connection per call in flight, kept alive between calls.
    Http1,
    /// HTTP/2: calls are streams of shared connections.
    Http2,
}

/// A connection just opened, in the HTTP it negotiated.
enum Opened {
    Http1(IdleConnection),
    Http2(Rc<http2::Connection>),
}

/// A 2xx answer: its status, its JSON body (`None` when empty), and the body's bytes held
/// against the budget.
struct Answer {
    status: u16,
    body: Option<Box<RawValue>>,
    held: Held,
}

/// What a call asks for and passes on: the target (with the parameters' values), the caller's
/// request id, and its `traceparent` and `tracestate`.
struct PassedOn {
    target: Uri,
    request_id: Option<HeaderValue>,
    trace: (HeaderValue, Option<HeaderValue>),
}

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
    /// The URL as configured, for log lines.
    url: String,
    /// `host:port`, to connect to.
    address: String,
    /// The `Host` header.
    host: HeaderValue,
    /// What is asked for: the URL's path and query, with the placeholders parameters fill.
    template: Template,
    /// The target itself, when no parameter fills it.
    fixed_target: Option<Uri>,
    /// The headers the configuration adds to every call.
    headers: Vec<(HeaderName, HeaderValue)>,
    /// What the bodies of all aggregates may hold at once.
    budget: BodyBudget,
    /// How connections are made: in the clear for `http://`, over TLS for `https://`.
    transport: Transport,
    /// Which HTTP the configuration allows.
    http: HttpVersion,
    /// Which HTTP the upstream speaks, once known.
    protocol: Cell<Protocol>,
    /// Held while the first connection finds out which HTTP the upstream speaks.
    first_connection: tokio::sync::Mutex<()>,
    /// `scheme://authority`, for HTTP/2's absolute request URIs.
    origin: String,
    /// The HTTP/2 connections, once the upstream speaks it.
    h2: Rc<http2::Pool>,
    /// One permit per connection the worker may hold to the upstream.
    connections: Semaphore,
    /// One permit per connection being opened ([`OPENING_AT_ONCE`]).
    opening: Semaphore,
    /// Connections to reuse.
    idle: Rc<IdlePool>,
    limits: CallLimits,
    metrics: Option<Metrics>,
}

/// The kept-alive connections between calls, the most recently used last. A connection idle
/// for [`IDLE_TIMEOUT`] is closed by a timer, armed while any is idle, so that a burst's
/// connections (and their buffers, and their share of the open-files budget) do not outlive it
/// waiting for a next call that may never come.
#[derive(Default)]
struct IdlePool {
    connections: RefCell<Vec<IdleConnection>>,
    /// Whether the timer is armed.
    pruning: Cell<bool>,
    /// Connections taken out for a call and not yet back.
    in_use: Cell<usize>,
    /// Told when a connection comes back, to a call waiting for one.
    returned: tokio::sync::Notify,
}

impl IdlePool {
    /// Closes the connections idle for [`IDLE_TIMEOUT`] or more; returns when the next one will
    /// be, if any is left.
    fn prune(&self) -> Option<Instant> {
        let mut idle = self.connections.borrow_mut();
        let stale = idle.partition_point(|c| c.since.elapsed() >= IDLE_TIMEOUT);
        idle.drain(..stale); // closed when dropped
        idle.first().map(|oldest| oldest.since + IDLE_TIMEOUT)
    }

    /// Keeps `connection` for the next call, arming the timer if it is not.
    fn keep(self: &Rc<Self>, connection: IdleConnection) {
        self.connections.borrow_mut().push(connection);
        self.returned.notify_one();
        if self.pruning.replace(true) {
            return;
        }
        let pool = Rc::downgrade(self);
        actix_rt::spawn(async move {
            let mut next = Instant::now() + IDLE_TIMEOUT;
            loop {
                tokio::time::sleep_until(next.into()).await;
                let Some(pool) = pool.upgrade() else { return };
                match pool.prune() {
                    Some(at) => next = at,
                    None => {
                        pool.pruning.set(false);
                        // No connection left, idle or in use: the burst is over, and what it
                        // freed goes back to the system now rather than at jemalloc's next
                        // decay tick, which an idle server never reaches.
                        if pool.in_use.get() == 0 {
                            memory::release_freed_memory();
                        }
                        return;
                    }
                }
            }
        });
    }

    /// Counts a call in flight until the guard is dropped.
    fn busy(self: &Rc<Self>) -> InUse {
        self.in_use.set(self.in_use.get() + 1);
        InUse(Rc::clone(self))
    }

    /// The most recently used connection idle for less than [`IDLE_TIMEOUT`], if any.
    fn take(&self) -> Option<IdleConnection> {
        self.prune();
        self.connections.borrow_mut().pop()
    }
}

/// A call in flight on an upstream, counted in its pool while it lives.
struct InUse(Rc<IdlePool>);

impl Drop for InUse {
    fn drop(&mut self) {
        self.0.in_use.set(self.0.in_use.get() - 1);
    }
}

/// A kept-alive connection, between calls.
struct IdleConnection {
    sender: SendRequest<Empty<Bytes>>,
    since: Instant,
    received: Rc<Cell<u64>>,
}

impl HttpSource {
    /// The worker's client for `upstream`, its calls counted in `metrics`, if any; `tls` is
    /// the TLS client, which an `https://` upstream needs.
    pub fn new(
        upstream: &Upstream,
        limits: CallLimits,
        tls: Option<TlsClient>,
        budget: BodyBudget,
        metrics: Option<Metrics>,
    ) -> Self {
        let url = &upstream.url;
        let authority = url.authority().map_or("", |a| a.as_str());
        // Checked when the settings were read (`Upstream::parse`).
        let port = crate::config::url_port(url).unwrap_or(80);
        let host = url.host().unwrap_or_default();
        let transport = if upstream.is_https() {
            // `Upstream::parse` refuses a host a certificate cannot name, and startup makes a
            // TLS client when any upstream is `https://`; if either is missing, every call
            // fails as `tls`: an `https://` upstream is never called in the clear.
            match (tls, tls::server_name(host)) {
                (Some(client), Ok(name)) => Transport::Tls(client.offering(upstream.http), name),
                (None, _) => Transport::Unusable("no TLS client was set up".to_owned()),
                (_, Err(why)) => Transport::Unusable(why),
            }
        } else {
            Transport::Plain
        };
        let protocol = match (&transport, upstream.http) {
            (_, HttpVersion::Http1) | (Transport::Plain, HttpVersion::Auto) => Protocol::Http1,
            (Transport::Plain, HttpVersion::Http2) => Protocol::Http2,
            _ => Protocol::Unknown,
        };
        Self {
            http: upstream.http,
            protocol: Cell::new(protocol),
            first_connection: tokio::sync::Mutex::new(()),
            origin: format!("{}://{authority}", url.scheme_str().unwrap_or("http")),
            h2: http2::Pool::new(limits.max_connections, IDLE_TIMEOUT),
            name: upstream.name.clone(),
            url: url.to_string(),
            address: format!("{host}:{port}"), // an IPv6 host keeps its brackets
            // A URI's authority is visible ASCII, and so a header value.
            host: HeaderValue::from_str(authority).expect("a URI's authority is a header value"),
            fixed_target: upstream
                .target
                .is_fixed()
                .then(|| Uri::try_from(upstream.target.fill(|_| "")).ok())
                .flatten(),
            template: upstream.target.clone(),
            headers: upstream
                .headers
                .iter()
                .map(|header| (header.name.clone(), header.value.clone()))
                .collect(),
            transport,
            budget,
            connections: Semaphore::new(limits.max_connections),
            opening: Semaphore::new(OPENING_AT_ONCE),
            idle: Rc::default(),
            limits,
            metrics,
        }
    }

    /// Calls the upstream once, its URL filled with the parameters' `values`, forwarding
    /// `request_id` and the `trace` (with a parent id of this call's own); logs one debug line.
    /// The body's bytes come back held against the budget.
    pub async fn call(
        &self,
        values: &ParameterValues,
        request_id: Option<&[u8]>,
        trace: &TraceContext,
    ) -> (SourceResult, Held) {
        let started = Instant::now();
        let answer = match self.target(values) {
            Ok(target) => {
                let context = PassedOn {
                    target,
                    request_id: request_id.and_then(|id| HeaderValue::from_bytes(id).ok()),
                    trace: trace.for_call(),
                };
                self.answer(&context).await
            }
            Err(failure) => Err(failure),
        };
        let (result, held) = match answer {
            Ok(Answer { status, body, held }) => (
                SourceResult::succeeded(&self.name, SourceKind::Http, started, status, body),
                held,
            ),
            Err(failure) => (
                SourceResult::failed(&self.name, SourceKind::Http, started, failure),
                Held::default(),
            ),
        };
        let outcome = result.error.as_ref().map_or("ok", |e| e.kind.as_str());
        if let Some(metrics) = &self.metrics {
            metrics.upstream_called(&self.name, outcome, started.elapsed());
        }
        log::debug!(
            target: "greeter::upstream",
            "{} {} {}: {} {} in {} ms",
            request_id.and_then(|id| std::str::from_utf8(id).ok()).unwrap_or("-"),
            self.name,
            self.url,
            result.status.map_or("-".to_owned(), |s| s.to_string()),
            result
                .error
                .as_ref()
                .map_or("ok".to_owned(), |e| format!("{:?}: {}", e.kind, e.detail)),
            result.elapsed_ms,
        );
        (result, held)
    }

    /// The path and query to ask for: the URL's own, or with the parameters' values.
    fn target(&self, values: &ParameterValues) -> Result<Uri, Failure> {
        if let Some(target) = &self.fixed_target {
            return Ok(target.clone());
        }
        // Every value is percent-encoded but for unreserved characters: a valid target, unless
        // longer than `http` takes (65,534 bytes; an encoded byte takes three).
        let target = self.template.fill(|name| values.get(name));
        let length = target.len();
        Uri::try_from(target).map_err(|_| {
            Failure::new(
                SourceErrorType::Protocol,
                format!(
                    "the URL filled with the parameters' values cannot be sent ({length} bytes \
                     of path and query; at most 65,534)"
                ),
            )
        })
    }

    /// The upstream's status and JSON body (`None` when empty), or why there are none.
    async fn answer(&self, context: &PassedOn) -> Result<Answer, Failure> {
        let timeout = self.limits.timeout;
        let deadline = tokio::time::Instant::now() + timeout;
        let timed_out = |what: &str| {
            Failure::new(
                SourceErrorType::Timeout,
                format!("{what} within {}", humantime::format_duration(timeout)),
            )
        };
        if self.protocol.get() == Protocol::Unknown {
            tokio::time::timeout_at(deadline, self.negotiate())
                .await
                .map_err(|_| timed_out("no connection"))??;
        }
        // Over HTTP/1.1 a call holds a connection; over HTTP/2 a stream (the pool bounds its
        // connections).
        let _permit = if self.protocol.get() == Protocol::Http2 {
            None
        } else {
            let permit = tokio::time::timeout(timeout, self.connections.acquire())
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
            Some(permit)
        };
        let _in_use = self.idle.busy();
        let deadline = tokio::time::Instant::now() + timeout;
        let answered = Cell::new(None);
        tokio::time::timeout_at(deadline, self.exchange(context, &answered))
            .await
            .map_err(|_| match answered.get() {
                Some(code) => timed_out("no complete body").with_status(code),
                None => timed_out("no answer"),
            })?
    }

    /// Finds out which HTTP the upstream speaks (over TLS, by ALPN) with a first connection,
    /// kept for the next call; the calls that come meanwhile wait for it rather than each
    /// opening a connection.
    async fn negotiate(&self) -> Result<(), Failure> {
        let _first = self.first_connection.lock().await;
        if self.protocol.get() != Protocol::Unknown {
            return Ok(());
        }
        match self.open().await? {
            Opened::Http1(connection) => {
                self.protocol.set(Protocol::Http1);
                self.keep(connection);
            }
            Opened::Http2(connection) => {
                self.protocol.set(Protocol::Http2);
                drop(self.h2.add(connection));
            }
        }
        Ok(())
    }

    /// Sends the request and reads the whole answer, in the HTTP the upstream speaks; `answered`
    /// holds the status once the answer's head has arrived.
    async fn exchange(
        &self,
        context: &PassedOn,
        answered: &Cell<Option<u16>>,
    ) -> Result<Answer, Failure> {
        match self.protocol.get() {
            Protocol::Http2 => self.exchange_http2(context, answered).await,
            _ => self.exchange_http1(context, answered).await,
        }
    }

    /// An HTTP/2 exchange on a stream with room, on a new connection when none has; an
    /// upstream that no longer offers HTTP/2 gets this call over HTTP/1.1 (and the next ones).
    async fn exchange_http2(
        &self,
        context: &PassedOn,
        answered: &Cell<Option<u16>>,
    ) -> Result<Answer, Failure> {
        match self.http2_stream().await? {
            Ok(stream) => self.exchange_on_stream(stream, context, answered).await,
            Err(connection) => {
                self.protocol.set(Protocol::Http1);
                self.exchange_on_connection(connection, false, context, answered)
                    .await
            }
        }
    }

    /// A stream on a connection with room, or on a new connection; or, when the new connection
    /// negotiated HTTP/1.1, that connection.
    async fn http2_stream(&self) -> Result<Result<http2::Stream, IdleConnection>, Failure> {
        let (stream, opening) = self.h2.stream().await;
        if let Some(stream) = stream {
            return Ok(Ok(stream));
        }
        let opened = self.open().await;
        drop(opening);
        Ok(match opened? {
            Opened::Http2(connection) => Ok(self.h2.add(connection)),
            Opened::Http1(connection) => Err(connection),
        })
    }

    /// Sends the request on `stream` and reads the whole answer; a stream the upstream refused
    /// unprocessed is sent once more, on a new connection.
    async fn exchange_on_stream(
        &self,
        stream: http2::Stream,
        context: &PassedOn,
        answered: &Cell<Option<u16>>,
    ) -> Result<Answer, Failure> {
        let mut stream = stream;
        let mut sent = stream.send(self.http2_request(context)?).await;
        // Unprocessed (past a GOAWAY's last stream, or refused): sent again, on another
        // connection each time, until the call's deadline.
        while let Err(error) = &sent
            && http2::was_refused(error)
        {
            self.h2.retire(stream.connection());
            drop(stream);
            stream = match self.http2_stream().await? {
                Ok(stream) => stream,
                Err(connection) => {
                    self.protocol.set(Protocol::Http1);
                    self.keep(connection);
                    return Err(http2::failed(error, false));
                }
            };
            sent = stream.send(self.http2_request(context)?).await;
        }
        let response = sent.map_err(|error| {
            if error.is_go_away() {
                self.h2.retire(stream.connection());
            }
            http2::failed(&error, false)
        })?;
        let answer = self
            .read_answer(response, answered, &Cell::new(false))
            .await;
        drop(stream);
        answer
    }

    /// The request over HTTP/2: its URI absolute, no `Host` (`:authority` says it).
    fn http2_request(&self, context: &PassedOn) -> Result<Request<()>, Failure> {
        let uri = Uri::try_from(format!("{}{}", self.origin, context.target)).map_err(|_| {
            Failure::new(SourceErrorType::Protocol, "the request could not be made")
        })?;
        let mut request = Request::get(uri);
        for (name, value) in self.passed_headers(context) {
            request = request.header(name, value);
        }
        request
            .body(())
            .map_err(|_| Failure::new(SourceErrorType::Protocol, "the request could not be made"))
    }

    /// The headers every call sends but `Host`: the trace context, the configured headers,
    /// `Accept` unless they name one, and the request id.
    fn passed_headers(&self, context: &PassedOn) -> Vec<(HeaderName, HeaderValue)> {
        let (traceparent, tracestate) = &context.trace;
        let mut headers = vec![(HeaderName::from_static(TRACEPARENT), traceparent.clone())];
        headers.extend(self.headers.iter().cloned());
        if !self.headers.iter().any(|(name, _)| name == header::ACCEPT) {
            headers.push((header::ACCEPT, HeaderValue::from_static("application/json")));
        }
        if let Some(state) = tracestate {
            headers.push((HeaderName::from_static(TRACESTATE), state.clone()));
        }
        if let Some(id) = &context.request_id {
            headers.push((REQUEST_ID, id.clone()));
        }
        headers
    }

    /// An HTTP/1.1 exchange on an idle or a new connection; an upstream that now offers
    /// HTTP/2 gets this call over it (and the next ones).
    async fn exchange_http1(
        &self,
        context: &PassedOn,
        answered: &Cell<Option<u16>>,
    ) -> Result<Answer, Failure> {
        match self.connection().await? {
            Ok((connection, reused)) => {
                self.exchange_on_connection(connection, reused, context, answered)
                    .await
            }
            Err(stream) => {
                self.protocol.set(Protocol::Http2);
                self.exchange_on_stream(stream, context, answered).await
            }
        }
    }

    /// Sends the request on `connection` (`reused`: kept from an earlier call) and reads the
    /// whole answer; keeps the connection when it was read to its end.
    async fn exchange_on_connection(
        &self,
        connection: IdleConnection,
        reused: bool,
        context: &PassedOn,
        answered: &Cell<Option<u16>>,
    ) -> Result<Answer, Failure> {
        let request = || {
            let mut request =
                Request::get(context.target.clone()).header(header::HOST, self.host.clone());
            for (name, value) in self.passed_headers(context) {
                request = request.header(name, value);
            }
            request.body(Empty::new()).map_err(|_| {
                Failure::new(SourceErrorType::Protocol, "the request could not be made")
            })
        };
        let mut connection = connection;
        let mut received_before = connection.received.get();
        let mut sent = connection.sender.send_request(request()?).await;
        // A kept connection the upstream closed just before the request went out (its close not
        // yet seen here): nothing was answered, so the GET is sent again, once, on a new one.
        if let Err(error) = &sent
            && reused
            && connection.received.get() == received_before
            && (error.is_incomplete_message() || error.is_closed() || error.is_canceled())
        {
            connection = self.connect().await?;
            received_before = 0;
            sent = connection.sender.send_request(request()?).await;
        }
        let response = sent
            .map_err(|error| sending_failed(&error, connection.received.get() > received_before))?;
        let complete = Cell::new(false);
        let answer = self.read_answer(response, answered, &complete).await;
        if complete.get() {
            self.keep(connection);
        }
        answer
    }

    /// Reads the answer whose head is `response`: its status into `answered`, its whole body
    /// (within the limits and the budget) into an [`Answer`], or why not; `complete` is set
    /// when the body was read to its end (so that an HTTP/1.1 connection can be kept).
    async fn read_answer<B>(
        &self,
        response: ::http::Response<B>,
        answered: &Cell<Option<u16>>,
        complete: &Cell<bool>,
    ) -> Result<Answer, Failure>
    where
        B: hyper::body::Body<Data = Bytes> + Unpin,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let code = response.status().as_u16();
        answered.set(Some(code));
        if code > 599 {
            return Err(Failure::new(
                SourceErrorType::Protocol,
                format!("the answer's status {code} is not an HTTP status"),
            ));
        }
        let declared = declared_length(response.headers());
        if declared.is_some_and(|length| length > self.limits.max_body as u64) {
            // Not read, and the connection not kept.
            return Err(if (200..300).contains(&code) {
                self.too_large().with_status(code)
            } else {
                http_status(code)
            });
        }
        // A 2xx body is held until the answer is sent: its declared length is taken from the
        // budget before reading (not read, and the connection not kept, when refused).
        let successful = (200..300).contains(&code);
        let mut held = Held::default();
        if successful && let Some(length) = declared {
            let length = usize::try_from(length).unwrap_or(usize::MAX);
            self.budget
                .take(&mut held, length)
                .map_err(|failure| failure.with_status(code))?;
        }
        // Read even an error's body (within the limits), so the connection can be reused.
        let mut body = Limited::new(response.into_body(), self.limits.max_body);
        // A declared length (within the limit, checked above) is allocated once; an error's
        // body is read (so that the connection can be kept) but not kept.
        let capacity = declared
            .filter(|_| successful)
            .map_or(0, |length| length as usize);
        let mut read = Vec::with_capacity(capacity);
        let outcome = loop {
            match body.frame().await {
                None => break Ok(()),
                Some(Err(error)) if error.is::<LengthLimitError>() => {
                    break Err(self.too_large().with_status(code));
                }
                Some(Err(error)) => {
                    let detail = match http2::reset_reason(&*error) {
                        Some(reason) => {
                            format!(
                                "the body was cut short: the upstream reset the stream ({reason})"
                            )
                        }
                        None => "the body was cut short".to_owned(),
                    };
                    break Err(Failure::new(SourceErrorType::InvalidBody, detail).with_status(code));
                }
                Some(Ok(frame)) => {
                    let Ok(data) = frame.into_data() else {
                        continue;
                    };
                    if successful && declared.is_none() {
                        // A chunked body: taken as it arrives.
                        if let Err(failure) = self.budget.take(&mut held, data.len()) {
                            break Err(failure.with_status(code));
                        }
                    }
                    if successful {
                        read.extend_from_slice(&data);
                    }
                }
            }
        };
        complete.set(outcome.is_ok());
        if !successful {
            return Err(http_status(code));
        }
        outcome?;
        if read.is_empty() {
            // 204, or any 2xx without a body
            return Ok(Answer {
                status: code,
                body: None,
                held,
            });
        }
        let body = read;
        let text = String::from_utf8(body).map_err(|_| {
            Failure::new(SourceErrorType::InvalidBody, "the body is not UTF-8").with_status(code)
        })?;
        // Checked, then kept as sent: no tree of values per body.
        let not_json =
            |why: String| Failure::new(SourceErrorType::InvalidBody, why).with_status(code);
        json::check(&text).map_err(|refusal| match refusal {
            json::Refusal::NotJson(why) => not_json(format!("the body is not JSON: {why}")),
            json::Refusal::Unreadable(why) => not_json(format!(
                "the body is JSON that clients cannot read back: {why}"
            )),
        })?;
        let json = RawValue::from_string(text)
            .map_err(|error| not_json(format!("the body is not JSON: {error}")))?;
        Ok(Answer {
            status: code,
            body: Some(json),
            held,
        })
    }

    /// The most recently used idle connection that is still open (and `true`), or a new one;
    /// or a stream, when the new connection negotiated HTTP/2.
    async fn connection(&self) -> Result<Result<(IdleConnection, bool), http2::Stream>, Failure> {
        loop {
            while let Some(mut connection) = self.idle.take() {
                if connection.sender.is_closed() {
                    continue;
                }
                if connection.sender.ready().await.is_ok() {
                    return Ok(Ok((connection, true)));
                }
            }
            // None idle: open one when it is this call's turn, or take one given back first.
            let turn = tokio::select! {
                permit = self.opening.acquire() => permit.ok(),
                () = self.idle.returned.notified() => None,
            };
            if let Some(_turn) = turn {
                return Ok(match self.open().await? {
                    Opened::Http1(connection) => Ok((connection, false)),
                    Opened::Http2(connection) => Err(self.h2.add(connection)),
                });
            }
        }
    }

    /// A new HTTP/1.1 connection, its work spawned on this worker's event loop; an upstream
    /// that now negotiates HTTP/2 is a `protocol` failure (the next call uses it).
    async fn connect(&self) -> Result<IdleConnection, Failure> {
        match self.open().await? {
            Opened::Http1(connection) => Ok(connection),
            Opened::Http2(connection) => {
                self.protocol.set(Protocol::Http2);
                drop(self.h2.add(connection));
                Err(Failure::new(
                    SourceErrorType::Protocol,
                    "the upstream now offers HTTP/2 (the next call uses it)",
                ))
            }
        }
    }

    /// A new connection, in the HTTP it negotiates (over TLS, by ALPN) or the configuration
    /// asks for (in the clear), its work spawned on this worker's event loop.
    async fn open(&self) -> Result<Opened, Failure> {
        let stream = self.tcp().await?;
        let received = Rc::new(Cell::new(0));
        let sender = match &self.transport {
            Transport::Tls(client, host) => {
                let stream = client.connect(host, stream).await?;
                if tls::chose_h2(&stream) {
                    return Ok(Opened::Http2(http2::handshake(stream).await?));
                }
                if self.http == HttpVersion::Http2 {
                    return Err(Failure::new(
                        SourceErrorType::Protocol,
                        "the upstream does not offer HTTP/2 (its TLS handshake chose no h2)",
                    ));
                }
                handshake(stream, &received).await?
            }
            Transport::Plain if self.http == HttpVersion::Http2 => {
                return Ok(Opened::Http2(http2::handshake(stream).await?));
            }
            Transport::Plain => handshake(stream, &received).await?,
            Transport::Unusable(why) => {
                return Err(Failure::new(SourceErrorType::Tls, why.clone()));
            }
        };
        Ok(Opened::Http1(IdleConnection {
            sender,
            since: Instant::now(),
            received,
        }))
    }

    /// A TCP connection to the upstream's first address that accepts one.
    async fn tcp(&self) -> Result<TcpStream, Failure> {
        let addresses: Vec<_> = tokio::net::lookup_host(self.address.as_str())
            .await
            .map_err(|_| {
                Failure::new(
                    SourceErrorType::Connect,
                    "cannot resolve the upstream's host",
                )
            })?
            .collect();
        let mut refused = io::ErrorKind::NotFound; // no address at all
        let mut connected = None;
        for address in addresses {
            match TcpStream::connect(address).await {
                Ok(stream) => {
                    connected = Some(stream);
                    break;
                }
                Err(error) => refused = error.kind(),
            }
        }
        let stream = connected.ok_or_else(|| {
            Failure::new(
                SourceErrorType::Connect,
                format!("cannot connect: {refused}"),
            )
        })?;
        let _ = stream.set_nodelay(true);
        Ok(stream)
    }

    /// Keeps a connection whose answer was read whole, for the next call.
    fn keep(&self, mut connection: IdleConnection) {
        if !connection.sender.is_closed() {
            connection.since = Instant::now();
            self.idle.keep(connection);
        }
    }

    fn too_large(&self) -> Failure {
        Failure::new(
            SourceErrorType::TooLarge,
            format!(
                "the body is larger than {} bytes (--upstream-max-body)",
                self.limits.max_body
            ),
        )
    }
}

/// Starts HTTP/1.1 on `stream` (counting the bytes received from it in `received`), its work
/// spawned on this worker's event loop.
async fn handshake<S>(
    stream: S,
    received: &Rc<Cell<u64>>,
) -> Result<SendRequest<Empty<Bytes>>, Failure>
where
    S: AsyncRead + AsyncWrite + Unpin + 'static,
{
    let io = TokioIo::new(Counted {
        stream,
        received: Rc::clone(received),
    });
    let (sender, connection) = http1::Builder::new()
        .handshake(io)
        .await
        .map_err(|_| Failure::new(SourceErrorType::Connect, "cannot connect"))?;
    actix_rt::spawn(async move {
        let _ = connection.await; // its errors reach the call through `sender`
    });
    Ok(sender)
}

/// The failure of an answer whose status is not 2xx.
fn http_status(code: u16) -> Failure {
    let status = ::http::StatusCode::from_u16(code).map_or(code.to_string(), |s| s.to_string());
    Failure::new(
        SourceErrorType::HttpStatus,
        format!("the upstream answered {status}"),
    )
    .with_status(code)
}

/// Why sending the request, or reading the answer's head, failed; `answered` says whether any
/// byte of an answer arrived.
fn sending_failed(error: &hyper::Error, answered: bool) -> Failure {
    if error.is_parse() || error.is_parse_status() {
        return Failure::new(SourceErrorType::Protocol, "the answer is not HTTP/1.1");
    }
    if error.is_incomplete_message() && answered {
        return Failure::new(SourceErrorType::Protocol, "the answer's head was cut short");
    }
    if error.is_incomplete_message() || error.is_closed() || error.is_canceled() {
        return Failure::new(
            SourceErrorType::Connect,
            "the connection closed before an answer",
        );
    }
    let cause = std::error::Error::source(error)
        .and_then(|cause| cause.downcast_ref::<io::Error>())
        .map_or("lost".to_owned(), |cause| cause.kind().to_string());
    Failure::new(
        SourceErrorType::Connect,
        format!("the connection was lost before an answer: {cause}"),
    )
}

/// The answer's `Content-Length`, if it declares one.
fn declared_length(headers: &::http::HeaderMap) -> Option<u64> {
    headers
        .get(header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// A connection that counts the bytes it receives (after TLS, if any), so that a failure can
/// tell an answer cut short from none at all.
struct Counted<S> {
    stream: S,
    received: Rc<Cell<u64>>,
}

impl<S: AsyncRead + Unpin> AsyncRead for Counted<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let result = Pin::new(&mut self.stream).poll_read(cx, buf);
        let read = (buf.filled().len() - before) as u64;
        self.received.set(self.received.get() + read);
        result
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Counted<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}
