//! Telemetry: what the process tells about itself. Its log ([`logging`]: greeter's lines and the
//! access lines, text or JSON, through a buffer that never stalls a request) and its Prometheus
//! metrics ([`metrics`]); and the W3C trace context that `GET /aggregate` passes on
//! ([`trace_context`]). It reads the configuration only.

pub mod logging;
pub mod metrics;
pub mod trace_context;
