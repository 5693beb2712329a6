//! The access log: one line per request, written when its answer has been sent (or the client
//! went away): `client "METHOD target HTTP/1.1" status bytes request-id seconds`, actix-web
//! `Logger`'s default format without referer and user agent, with the request id added.
//!
//! `bytes` counts the body bytes handed to actix-http's write buffer, so a `HEAD` shows `0`.
//! greeter's bodies are handed over whole, so an answer that reaches that point counts in full
//! even if the client leaves while it is on the wire. A request whose client went away before
//! its answer was handed over (the connection closed during the wait) is logged with status
//! `499`, as nginx does; so is a request the server drops when `--shutdown-timeout` runs out.
//!
//! It is written by the per-request layer from what that layer holds anyway: actix-web's
//! `Logger` (a layer of its own, cloning its format for every request) cost about 1 KiB per
//! waiting request and 15% of the CPU per request.

use std::fmt;
use std::io::Write;
use std::net::IpAddr;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use actix_web::body::{BodySize, MessageBody};
use actix_web::dev::ServiceRequest;
use actix_web::http::header::HeaderValue;
use actix_web::http::{Method, StatusCode, Uri, Version};
use actix_web::web::Bytes;

use crate::telemetry::logging;
use crate::telemetry::trace_context::TraceId;

/// The log target of access lines (`RUST_LOG=greeter::access=off` silences them).
pub const TARGET: &str = "greeter::access";
/// The status logged for a request whose client went away before its answer was sent.
pub const CLIENT_GONE: u16 = 499;

/// A request's access line, from its arrival until its answer is sent. Dropped before it is
/// written (the request was dropped with its connection), it is logged with [`CLIENT_GONE`].
#[derive(Debug)]
pub struct AccessLine {
    /// `None` once written.
    request: Option<RequestLine>,
}

/// What the line says of the request, noted before the request is handed on.
#[derive(Debug)]
struct RequestLine {
    id: HeaderValue,
    client: Option<IpAddr>,
    method: Method,
    uri: Uri,
    version: Version,
    started: Instant,
    /// The trace the request took part in, if any (`GET /aggregate`).
    trace_id: Option<TraceId>,
}

/// What the line says of the answer.
#[derive(Debug, Clone, Copy)]
struct Outcome {
    status: u16,
    bytes: u64,
}

impl AccessLine {
    /// Notes `req`'s id, its `client` (see [`crate::http::client_ip`]), request line and arrival
    /// time.
    pub fn start(req: &ServiceRequest, id: HeaderValue, client: Option<IpAddr>) -> Self {
        Self {
            request: Some(RequestLine {
                id,
                client,
                method: req.method().clone(),
                uri: req.uri().clone(),
                version: req.version(),
                started: Instant::now(),
                trace_id: None,
            }),
        }
    }

    /// Notes the trace the request took part in: the line ends with ` trace_id=<32 hex>` (a
    /// `trace_id` field in JSON).
    pub fn set_trace_id(&mut self, trace_id: TraceId) {
        if let Some(request) = &mut self.request {
            request.trace_id = Some(trace_id);
        }
    }

    /// The request's id (empty once the line is written).
    pub fn id(&self) -> HeaderValue {
        self.request
            .as_ref()
            .map_or_else(|| HeaderValue::from_static(""), |r| r.id.clone())
    }

    /// The request's method as it came (`HEAD` stays `HEAD`) and the time since it arrived.
    pub fn method_and_elapsed(&self) -> (&str, std::time::Duration) {
        self.request
            .as_ref()
            .map_or(("", std::time::Duration::ZERO), |r| {
                (r.method.as_str(), r.started.elapsed())
            })
    }

    /// `METHOD target` of the request, e.g. for an error message.
    pub fn request(&self) -> String {
        self.request
            .as_ref()
            .map_or_else(String::new, |r| format!("{} {}", r.method, r.uri))
    }

    /// Wraps `body`, the answer's, so that the line is written once it has been sent.
    pub fn sending<B: MessageBody>(self, body: B, status: StatusCode) -> LoggedBody<B> {
        let tally = Tally {
            line: self,
            status: status.as_u16(),
            sent: 0,
            empty: matches!(body.size(), BodySize::None | BodySize::Sized(0)),
        };
        LoggedBody { body, tally }
    }

    /// Writes the line (once).
    fn write(&mut self, outcome: Outcome) {
        let Some(request) = self.request.take() else {
            return;
        };
        if !log::log_enabled!(target: TARGET, log::Level::Info) {
            return;
        }
        let bytes = if request.method == Method::HEAD {
            0
        } else {
            outcome.bytes
        };
        let took = request.started.elapsed();
        let written = logging::append_text_line(log::Level::Info, TARGET, |line| {
            write_text_message(line, &request, outcome.status, bytes, took);
        });
        if written {
            return;
        }
        let seconds = took.as_secs_f64();
        let client = Client(request.client);
        let id = request.id.to_str().unwrap_or("-");
        // The JSON format's line: the message as the text line has it, and the key-values as
        // fields.
        let trace_id = request.trace_id.map(|id| id.hex());
        let trace_id = trace_id
            .as_ref()
            .map_or("", |hex| std::str::from_utf8(hex).unwrap_or_default());
        log::info!(
            target: TARGET,
            method = request.method.as_str(),
            path:% = request.uri,
            status = outcome.status,
            bytes = bytes,
            duration_ms = (seconds * 1e6).round() / 1e3,
            request_id = id,
            trace_id = trace_id,
            client_ip:% = client;
            "{} \"{} {} {:?}\" {} {} {} {}.{:06}",
            client,
            request.method,
            Target(&request.uri),
            request.version,
            outcome.status,
            bytes,
            id,
            // Whole numbers: a float's formatting costs more than the rest of the line.
            took.as_secs(),
            took.subsec_micros(),
        );
    }
}

impl Drop for AccessLine {
    fn drop(&mut self) {
        if self.request.is_some() {
            self.write(Outcome {
                status: CLIENT_GONE,
                bytes: 0,
            });
        }
    }
}

/// Appends the text line's message, `client "METHOD target HTTP/1.1" status bytes id seconds`,
/// as bytes: no `core::fmt`, which cost more than the rest of the request's logging.
fn write_text_message(
    line: &mut Vec<u8>,
    request: &RequestLine,
    status: u16,
    bytes: u64,
    took: Duration,
) {
    let mut number = itoa::Buffer::new();
    match request.client {
        Some(IpAddr::V4(ip)) => {
            for (at, octet) in ip.octets().into_iter().enumerate() {
                if at > 0 {
                    line.push(b'.');
                }
                line.extend_from_slice(number.format(octet).as_bytes());
            }
        }
        Some(ip) => {
            let _ = write!(line, "{ip}");
        }
        None => line.push(b'-'),
    }
    line.extend_from_slice(b" \"");
    line.extend_from_slice(request.method.as_str().as_bytes());
    line.push(b' ');
    write_target(line, &request.uri);
    line.push(b' ');
    match version_text(request.version) {
        Some(version) => line.extend_from_slice(version.as_bytes()),
        None => {
            let _ = write!(line, "{:?}", request.version);
        }
    }
    line.extend_from_slice(b"\" ");
    line.extend_from_slice(number.format(status).as_bytes());
    line.push(b' ');
    line.extend_from_slice(number.format(bytes).as_bytes());
    line.push(b' ');
    line.extend_from_slice(request.id.as_bytes());
    line.push(b' ');
    line.extend_from_slice(number.format(took.as_secs()).as_bytes());
    line.push(b'.');
    let micros = number.format(took.subsec_micros());
    line.extend(std::iter::repeat_n(b'0', 6 - micros.len()));
    line.extend_from_slice(micros.as_bytes());
    if let Some(trace_id) = request.trace_id {
        line.extend_from_slice(b" trace_id=");
        line.extend_from_slice(&trace_id.hex());
    }
}

/// The request line's version as `{:?}` writes it, for the versions actix-web serves.
fn version_text(version: Version) -> Option<&'static str> {
    Some(match version {
        Version::HTTP_09 => "HTTP/0.9",
        Version::HTTP_10 => "HTTP/1.0",
        Version::HTTP_11 => "HTTP/1.1",
        Version::HTTP_2 => "HTTP/2.0",
        Version::HTTP_3 => "HTTP/3.0",
        _ => return None,
    })
}

pin_project_lite::pin_project! {
    /// An answer's body that counts the bytes sent and writes the access line when it ends:
    /// complete, or dropped early because the client went away ([`CLIENT_GONE`]).
    #[derive(Debug)]
    pub struct LoggedBody<B> {
        #[pin]
        body: B,
        tally: Tally,
    }
}

/// The answer's side of the access line, written when the body ends or is dropped.
#[derive(Debug)]
struct Tally {
    line: AccessLine,
    status: u16,
    sent: u64,
    /// Nothing to send: actix-http drops such a body without reading it.
    empty: bool,
}

impl Tally {
    fn finish(&mut self, status: u16) {
        self.line.write(Outcome {
            status,
            bytes: self.sent,
        });
    }
}

impl Drop for Tally {
    fn drop(&mut self) {
        // Any body but an empty one dropped before its end was cut short by the connection.
        if self.line.request.is_some() {
            self.finish(if self.empty { self.status } else { CLIENT_GONE });
        }
    }
}

impl<B: MessageBody> MessageBody for LoggedBody<B> {
    type Error = B::Error;

    fn size(&self) -> BodySize {
        self.body.size()
    }

    fn poll_next(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Bytes, Self::Error>>> {
        let this = self.project();
        let next = this.body.poll_next(cx);
        match &next {
            Poll::Ready(Some(Ok(chunk))) => this.tally.sent += chunk.len() as u64,
            Poll::Ready(None) => {
                let status = this.tally.status;
                this.tally.finish(status);
            }
            Poll::Ready(Some(Err(_))) | Poll::Pending => {}
        }
        next
    }
}

/// The request target as the text line shows it, escaped as nginx escapes its log fields: `"`,
/// `\`, control bytes and bytes past ASCII as `\xHH`, so that what a client sent can neither
/// close the quoted request field nor start a new line. (JSON lines carry the target as it came:
/// JSON escapes it.)
struct Target<'a>(&'a Uri);

impl fmt::Display for Target<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut line = Vec::new();
        write_target(&mut line, self.0);
        f.write_str(std::str::from_utf8(&line).unwrap_or_default())
    }
}

/// Appends `uri` as [`Target`] shows it.
fn write_target(line: &mut Vec<u8>, uri: &Uri) {
    // An absolute-form target's scheme and authority hold none of the escaped bytes.
    if let (Some(scheme), Some(authority)) = (uri.scheme_str(), uri.authority()) {
        line.extend_from_slice(scheme.as_bytes());
        line.extend_from_slice(b"://");
        line.extend_from_slice(authority.as_str().as_bytes());
    }
    write_escaped(line, uri.path_and_query().map_or("/", |pq| pq.as_str()));
}

/// Appends `text` with `"`, `\`, control bytes and bytes past ASCII as `\xHH`.
fn write_escaped(line: &mut Vec<u8>, text: &str) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let bytes = text.as_bytes();
    let mut plain = 0;
    for (at, &byte) in bytes.iter().enumerate() {
        if matches!(byte, b'"' | b'\\' | 0..=0x1f | 0x7f..=0xff) {
            line.extend_from_slice(&bytes[plain..at]);
            line.extend_from_slice(&[
                b'\\',
                b'x',
                HEX[usize::from(byte >> 4)],
                HEX[usize::from(byte & 0xf)],
            ]);
            plain = at + 1;
        }
    }
    line.extend_from_slice(&bytes[plain..]);
}

/// The client's IP address, or `-` when unknown.
struct Client(Option<IpAddr>);

impl fmt::Display for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(ip) => ip.fmt(f),
            None => f.write_str("-"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn escaped(text: &str) -> String {
        let mut out = Vec::new();
        write_escaped(&mut out, text);
        String::from_utf8(out).unwrap()
    }

    fn message(client: Option<IpAddr>, uri: &str, took: Duration) -> String {
        let request = RequestLine {
            id: HeaderValue::from_static("a1b2"),
            client,
            method: Method::GET,
            uri: uri.parse().unwrap(),
            version: Version::HTTP_11,
            started: Instant::now(),
            trace_id: None,
        };
        let mut line = Vec::new();
        write_text_message(&mut line, &request, 404, 23, took);
        String::from_utf8(line).unwrap()
    }

    #[test]
    fn the_text_message_has_every_field_in_order() {
        let took = Duration::from_micros(1_000_042);
        assert_eq!(
            message(Some([10, 0, 255, 7].into()), "/items?q=1", took),
            "10.0.255.7 \"GET /items?q=1 HTTP/1.1\" 404 23 a1b2 1.000042"
        );
        assert_eq!(
            message(Some("2001:db8::1".parse().unwrap()), "/", Duration::ZERO),
            "2001:db8::1 \"GET / HTTP/1.1\" 404 23 a1b2 0.000000"
        );
        assert_eq!(
            message(None, "http://h:8000/a\"b", Duration::from_millis(7)),
            "- \"GET http://h:8000/a\\x22b HTTP/1.1\" 404 23 a1b2 0.007000"
        );
    }

    #[test]
    fn versions_are_named_as_debug_names_them() {
        for version in [
            Version::HTTP_09,
            Version::HTTP_10,
            Version::HTTP_11,
            Version::HTTP_2,
            Version::HTTP_3,
        ] {
            assert_eq!(version_text(version), Some(&*format!("{version:?}")));
        }
    }

    #[test]
    fn the_target_is_escaped_as_nginx_escapes_it() {
        assert_eq!(escaped("/a/b?c=d&e"), "/a/b?c=d&e");
        assert_eq!(escaped("/a\"_forged_\"b"), "/a\\x22_forged_\\x22b");
        assert_eq!(escaped("/back\\slash"), "/back\\x5Cslash");
        assert_eq!(escaped("/\u{1}\u{7f}é"), "/\\x01\\x7F\\xC3\\xA9");
    }
}
