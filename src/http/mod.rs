//! The HTTP plumbing every request passes through, whatever its route.
//!
//! Here belong the one per-request layer ([`per_request`]) and its parts: request ids
//! ([`request_id`]), the head limits checked before routing ([`head_limits`]), `HEAD` routed as
//! `GET` ([`head_as_get`]), the answer for a request a panic took ([`panics`]), the client's
//! address behind trusted proxies ([`client_ip`]) and the access line ([`access_log`]); and the
//! [`fallback`] that answers `404`/`405` for what no route takes, and the limit on each
//! client's requests ([`rate_limit`]), the API keys at the door ([`authentication`]), and CORS
//! outside them all ([`cors`]); and a route's template as the document writes it
//! ([`route`]). Not here: routes and the shapes of their answers ([`crate::api`]; this layer
//! answers in [`crate::api::errors`]' shape), and the process around the server
//! ([`crate::config`], [`crate::telemetry`], [`crate::lifecycle`]).

pub mod access_log;
pub mod authentication;
pub mod client_ip;
pub mod cors;
pub mod fallback;
pub mod head_as_get;
pub mod head_limits;
pub mod panics;
pub mod per_request;
pub mod rate_limit;
pub mod request_id;
pub mod route;
