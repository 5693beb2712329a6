//! The server's Prometheus metrics: one registry per server, shared by its workers, recorded by
//! the HTTP layer (requests) and the fan-out (upstream calls), rendered in Prometheus' text
//! format (0.0.4) for `GET /metrics`.
//!
//! Built on the `prometheus` crate (rust-prometheus, Apache-2.0): its text encoder writes the
//! classic format `promtool check metrics` accepts, and its process collector gives the standard
//! `process_*` metrics from `/proc`. Label values are bounded: `route` is a route template or
//! `unmatched`, never a raw path, so scanners cannot add series.

use std::sync::Arc;
use std::time::Duration;

use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounterVec, IntGauge, Opts, Registry, TextEncoder,
};

/// The `route` of a request no route took (404s, and 405s of unknown methods).
pub const UNMATCHED: &str = "unmatched";

/// `method` as a label: one of HTTP's nine methods, or `other`.
pub fn method_label(method: &str) -> &str {
    match method {
        "GET" | "HEAD" | "POST" | "PUT" | "DELETE" | "PATCH" | "OPTIONS" | "TRACE" | "CONNECT" => {
            method
        }
        _ => "other",
    }
}

/// Request duration buckets, in seconds: fine enough to resolve the 1 s simulated waits.
pub const REQUEST_BUCKETS: [f64; 16] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 1.05, 1.1, 1.25, 1.5, 2.5, 5.0, 10.0, 30.0,
];

/// Series handles a thread keeps (method, route and status are bounded, so this holds them all
/// in practice; past it, series are looked up in their families).
const SERIES_CACHED_PER_THREAD: usize = 256;

thread_local! {
    static SERIES: std::cell::RefCell<Vec<Series>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// One request series' handles, for the thread that counts in it.
struct Series {
    /// Which server's metrics ([`Families::id`]).
    families: u64,
    method: String,
    route: String,
    status: String,
    requests: prometheus::IntCounter,
    duration: prometheus::Histogram,
}

/// The metrics of one server; clones share them.
#[derive(Clone)]
pub struct Metrics {
    families: Arc<Families>,
}

struct Families {
    /// Tells this server's families from another's in a thread's cache of series.
    id: u64,
    registry: Registry,
    requests: IntCounterVec,
    duration: HistogramVec,
    in_flight: IntGauge,
    upstream_requests: IntCounterVec,
    upstream_duration: HistogramVec,
    rate_limited: prometheus::IntCounter,
}

impl Metrics {
    /// A fresh registry with every family, and the process collector where the platform has one.
    pub fn new() -> Self {
        let registry = Registry::new();
        let requests = IntCounterVec::new(
            Opts::new(
                "http_requests_total",
                "HTTP requests answered, by method, route template and status.",
            ),
            &["method", "route", "status"],
        )
        .expect("valid metric");
        let duration = HistogramVec::new(
            HistogramOpts::new(
                "http_request_duration_seconds",
                "Time from a request's arrival to its answer, by method and route template.",
            )
            .buckets(REQUEST_BUCKETS.to_vec()),
            &["method", "route"],
        )
        .expect("valid metric");
        let in_flight = IntGauge::new(
            "http_requests_in_flight",
            "HTTP requests being handled now.",
        )
        .expect("valid metric");
        let upstream_requests = IntCounterVec::new(
            Opts::new(
                "upstream_requests_total",
                "Calls to upstream services from GET /aggregate, by upstream and outcome (ok, or \
                 the error type).",
            ),
            &["upstream", "outcome"],
        )
        .expect("valid metric");
        let upstream_duration = HistogramVec::new(
            HistogramOpts::new(
                "upstream_request_duration_seconds",
                "Time of calls to upstream services, queueing for a connection included.",
            )
            .buckets(REQUEST_BUCKETS.to_vec()),
            &["upstream"],
        )
        .expect("valid metric");
        let rate_limited = prometheus::IntCounter::new(
            "http_requests_rate_limited_total",
            "Requests refused with 429 because their client was over --rate-limit.",
        )
        .expect("valid metric");
        for collector in [
            Box::new(rate_limited.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(requests.clone()),
            Box::new(duration.clone()),
            Box::new(in_flight.clone()),
            Box::new(upstream_requests.clone()),
            Box::new(upstream_duration.clone()),
        ] {
            registry.register(collector).expect("distinct names");
        }
        #[cfg(target_os = "linux")]
        registry
            .register(Box::new(
                prometheus::process_collector::ProcessCollector::for_self(),
            ))
            .expect("distinct names");
        static NEXT_ID: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        Self {
            families: Arc::new(Families {
                id: NEXT_ID.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
                registry,
                requests,
                duration,
                in_flight,
                upstream_requests,
                upstream_duration,
                rate_limited,
            }),
        }
    }

    /// Adds a collector of another layer (read when scraped).
    pub fn register(&self, collector: Box<dyn prometheus::core::Collector>) {
        if let Err(err) = self.families.registry.register(collector) {
            log::error!("cannot register a metric: {err}");
        }
    }

    /// A request arrived: counted in flight until the guard is dropped.
    pub fn request_started(&self) -> InFlight {
        self.families.in_flight.inc();
        InFlight(self.clone())
    }

    /// A request was answered. A method other than HTTP's own nine counts as `other`: a client
    /// may send any token there, and each would be a series of its own.
    pub fn request_answered(&self, method: &str, route: &str, status: &str, took: Duration) {
        let method = method_label(method);
        let families = &self.families;
        let seconds = took.as_secs_f64();
        // The series' handles, kept per thread: looking one up in its family (hashing the
        // labels, a shared lock, a shared reference count) costs more than counting in it.
        let id = families.id;
        let counted = SERIES.with(|cache| {
            let Ok(mut cache) = cache.try_borrow_mut() else {
                return false;
            };
            if let Some(series) = cache.iter().find(|s| {
                s.families == id && s.method == method && s.status == status && s.route == route
            }) {
                series.requests.inc();
                series.duration.observe(seconds);
                return true;
            }
            if cache.len() >= SERIES_CACHED_PER_THREAD {
                return false;
            }
            let series = Series {
                families: id,
                method: method.to_owned(),
                route: route.to_owned(),
                status: status.to_owned(),
                requests: families
                    .requests
                    .with_label_values(&[method, route, status]),
                duration: families.duration.with_label_values(&[method, route]),
            };
            series.requests.inc();
            series.duration.observe(seconds);
            cache.push(series);
            true
        });
        if !counted {
            families
                .requests
                .with_label_values(&[method, route, status])
                .inc();
            families
                .duration
                .with_label_values(&[method, route])
                .observe(seconds);
        }
    }

    /// A request was refused for its client's rate.
    pub fn request_rate_limited(&self) {
        self.families.rate_limited.inc();
    }

    /// An upstream call ended with `outcome` (`ok` or its error type).
    pub fn upstream_called(&self, upstream: &str, outcome: &str, took: Duration) {
        let families = &self.families;
        families
            .upstream_requests
            .with_label_values(&[upstream, outcome])
            .inc();
        families
            .upstream_duration
            .with_label_values(&[upstream])
            .observe(took.as_secs_f64());
    }

    /// Every metric, in Prometheus' text format (0.0.4).
    pub fn render(&self) -> String {
        let mut text = Vec::new();
        // Writing to a Vec fails only on families the encoder cannot write; there are none.
        if let Err(err) = TextEncoder::new().encode(&self.families.registry.gather(), &mut text) {
            log::error!("cannot render the metrics: {err}");
        }
        String::from_utf8(text).unwrap_or_default()
    }
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

/// A request in flight; dropping it (answered or abandoned) counts it out.
pub struct InFlight(Metrics);

impl InFlight {
    /// The metrics it counts in.
    pub fn metrics(&self) -> &Metrics {
        &self.0
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.families.in_flight.dec();
    }
}

/// The content type of [`Metrics::render`]'s text.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn methods_outside_https_nine_are_other() {
        assert_eq!(method_label("GET"), "GET");
        assert_eq!(method_label("PATCH"), "PATCH");
        assert_eq!(method_label("XQZZY"), "other");
        assert_eq!(method_label("get"), "other");
    }

    #[test]
    fn requests_are_counted_by_template_and_in_flight_ones_counted_out() {
        let metrics = Metrics::new();
        {
            let _guard = metrics.request_started();
            assert!(metrics.render().contains("http_requests_in_flight 1\n"));
        }
        metrics.request_answered("GET", "/hello/{name}", "200", Duration::from_millis(3));
        metrics.request_answered("GET", "/hello/{name}", "200", Duration::from_millis(1030));
        let text = metrics.render();
        assert!(text.contains("http_requests_in_flight 0\n"), "{text}");
        assert!(
            text.contains(
                r#"http_requests_total{method="GET",route="/hello/{name}",status="200"} 2"#
            ),
            "{text}"
        );
        assert!(
            text.contains(
                r#"http_request_duration_seconds_bucket{method="GET",route="/hello/{name}",le="1.05"} 2"#
            ),
            "{text}"
        );
        assert!(
            text.contains(
                r#"http_request_duration_seconds_bucket{method="GET",route="/hello/{name}",le="1"} 1"#
            ),
            "{text}"
        );
    }
}
