//! The access log: one line per request, written when the answer is ready:
//! `client "METHOD target HTTP/1.1" status bytes request-id seconds`, the format of actix-web's
//! `Logger` with the request id added. It is written by the per-request layer from what that
//! layer holds anyway, because actix-web's `Logger` (a layer of its own, cloning its format
//! for every request) cost about 1 KiB per waiting request and 15% of the CPU per request.

use std::fmt;
use std::net::SocketAddr;
use std::time::Instant;

use actix_web::body::{BodySize, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::HeaderValue;
use actix_web::http::{Method, Uri, Version};

/// The log target of access lines (`RUST_LOG=greeter::access=off` silences them).
pub const TARGET: &str = "greeter::access";

/// What the access line needs from the request, taken before it is handed on.
pub struct RequestLine {
    peer: Option<SocketAddr>,
    method: Method,
    uri: Uri,
    version: Version,
    started: Instant,
}

impl RequestLine {
    /// Notes `req`'s client, request line and arrival time.
    pub fn of(req: &ServiceRequest) -> Self {
        Self {
            peer: req.peer_addr(),
            method: req.method().clone(),
            uri: req.uri().clone(),
            version: req.version(),
            started: Instant::now(),
        }
    }

    /// The request's method.
    pub fn method(&self) -> &Method {
        &self.method
    }

    /// The request's target.
    pub fn uri(&self) -> &Uri {
        &self.uri
    }

    /// Logs the line for `res`, answered under `id`.
    pub fn log<B: MessageBody>(self, res: &ServiceResponse<B>, id: &HeaderValue) {
        if !log::log_enabled!(target: TARGET, log::Level::Info) {
            return;
        }
        log::info!(
            target: TARGET,
            "{} \"{} {} {:?}\" {} {} {} {:.6}",
            Client(self.peer),
            self.method,
            self.uri,
            self.version,
            res.status().as_u16(),
            Size(res.response().body().size()),
            id.to_str().unwrap_or("-"),
            self.started.elapsed().as_secs_f64(),
        );
    }
}

/// The client's IP address, or `-` when unknown.
struct Client(Option<SocketAddr>);

impl fmt::Display for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(peer) => peer.ip().fmt(f),
            None => f.write_str("-"),
        }
    }
}

/// The body's size in bytes: `0` for none, `-` for a stream of unknown length.
struct Size(BodySize);

impl fmt::Display for Size {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            BodySize::Sized(bytes) => bytes.fmt(f),
            BodySize::None => f.write_str("0"),
            BodySize::Stream => f.write_str("-"),
        }
    }
}
