//! Rate limiting per client (`--rate-limit`, `--rate-limit-burst`; off by default), on governor's
//! GCRA keyed limiter shared by every worker. The key is the client's address as
//! [`crate::http::client_ip`] finds it (behind trusted proxies, the forwarded client), an IPv6
//! client by its /64, since one host holds a whole /64.
//!
//! Every answer of a limited route carries the IETF draft's headers (draft-ietf-httpapi-
//! ratelimit-headers): `RateLimit-Policy: "default";q=<burst>;w=<seconds to refill it>` and
//! `RateLimit: "default";r=<remaining>;t=<seconds until full again>`; a refusal is `429
//! {"detail":"Too Many Requests"}` with `Retry-After` in whole seconds. Health, readiness,
//! metrics, the docs and the spec, and `OPTIONS`, are never limited. Keys of clients idle for a
//! whole window are dropped by a sweeper thread, so memory follows the clients of the last
//! window, not every client ever seen.

use std::net::{IpAddr, Ipv6Addr};
use std::num::NonZeroU32;
use std::sync::{Arc, Weak};
use std::time::Duration;

use actix_web::http::Method;
use actix_web::http::header::{HeaderName, HeaderValue};
use governor::clock::{Clock, DefaultClock};
use governor::middleware::StateInformationMiddleware;
use governor::state::keyed::DashMapStateStore;
use governor::{Quota, RateLimiter};

use crate::config::Rate;

/// `RateLimit-Policy`, the limit each client has.
pub const RATELIMIT_POLICY: HeaderName = HeaderName::from_static("ratelimit-policy");
/// `RateLimit`, where the client stands.
pub const RATELIMIT: HeaderName = HeaderName::from_static("ratelimit");

type Limiter =
    RateLimiter<IpAddr, DashMapStateStore<IpAddr>, DefaultClock, StateInformationMiddleware>;

/// The limiter of one server, with the paths it leaves alone; clones share it.
#[derive(Clone)]
pub struct RateLimits {
    limiter: Arc<Limiter>,
    policy: HeaderValue,
    /// Time to earn one request back.
    interval: Duration,
    burst: u32,
    /// Paths never limited, exactly.
    exempt: Arc<[String]>,
    /// Path prefixes never limited (the docs' files).
    exempt_prefixes: Arc<[String]>,
}

/// What the limiter says of a request.
pub enum Decision {
    /// Not a limited route.
    Exempt,
    /// Let through; the headers to add to its answer.
    Allowed(HeaderValue),
    /// Refused; try again in this many whole seconds. The headers to add to the 429.
    Refused {
        /// `Retry-After`.
        retry_after_secs: u64,
        /// `RateLimit`.
        state: HeaderValue,
    },
}

impl RateLimits {
    /// `rate` per client with bursts of `burst` (the rate's count when `None`); `exempt` paths
    /// and `exempt_prefixes` are never limited. Starts the sweeper thread.
    pub fn new(
        rate: Rate,
        burst: Option<NonZeroU32>,
        exempt: Vec<String>,
        exempt_prefixes: Vec<String>,
    ) -> std::io::Result<Self> {
        let interval = rate.period / rate.count.get();
        let burst = burst.unwrap_or(rate.count);
        let quota = Quota::with_period(interval)
            .unwrap_or_else(|| Quota::per_second(NonZeroU32::MIN))
            .allow_burst(burst);
        let limiter =
            Arc::new(RateLimiter::dashmap(quota).with_middleware::<StateInformationMiddleware>());
        let window = interval * burst.get();
        let policy = format!("\"default\";q={burst};w={}", whole_seconds(window));
        start_sweeper(Arc::downgrade(&limiter), window)?;
        Ok(Self {
            limiter,
            policy: HeaderValue::from_str(&policy).expect("a valid header value"),
            interval,
            burst: burst.get(),
            exempt: exempt.into(),
            exempt_prefixes: exempt_prefixes.into(),
        })
    }

    /// `RateLimit-Policy`'s value.
    pub fn policy(&self) -> HeaderValue {
        self.policy.clone()
    }

    /// Counts a request of `method` to `path` from `client` against its budget.
    pub fn check(&self, method: &Method, path: &str, client: Option<IpAddr>) -> Decision {
        if method == Method::OPTIONS
            || self.exempt.iter().any(|exempt| exempt == path)
            || self
                .exempt_prefixes
                .iter()
                .any(|prefix| path.starts_with(prefix.as_str()))
        {
            return Decision::Exempt;
        }
        let Some(client) = client else {
            return Decision::Exempt; // no address to count against (not over TCP/IP)
        };
        match self.limiter.check_key(&key(client)) {
            Ok(snapshot) => {
                let remaining = snapshot.remaining_burst_capacity();
                let refill = self.interval * (self.burst.saturating_sub(remaining));
                Decision::Allowed(state(remaining, refill))
            }
            Err(not_until) => {
                let wait = not_until.wait_time_from(DefaultClock::default().now());
                let retry_after_secs = whole_seconds(wait).max(1);
                Decision::Refused {
                    retry_after_secs,
                    // None left: `t` is when the next one is, as `Retry-After` says.
                    state: state(0, Duration::from_secs(retry_after_secs)),
                }
            }
        }
    }

    /// Clients the limiter holds a state for.
    pub fn clients(&self) -> usize {
        self.limiter.len()
    }

    /// `http_rate_limit_clients`, the clients held, read at each scrape.
    pub fn clients_gauge(&self) -> ClientsGauge {
        ClientsGauge {
            limiter: Arc::downgrade(&self.limiter),
            gauge: prometheus::IntGauge::new(
                "http_rate_limit_clients",
                "Clients the rate limiter holds a budget for (those of the last window).",
            )
            .expect("valid metric"),
        }
    }
}

/// The number of clients the limiter holds, as a Prometheus gauge read when scraped.
pub struct ClientsGauge {
    limiter: Weak<Limiter>,
    gauge: prometheus::IntGauge,
}

impl prometheus::core::Collector for ClientsGauge {
    fn desc(&self) -> Vec<&prometheus::core::Desc> {
        self.gauge.desc()
    }

    fn collect(&self) -> Vec<prometheus::proto::MetricFamily> {
        let clients = self.limiter.upgrade().map_or(0, |limiter| limiter.len());
        self.gauge.set(i64::try_from(clients).unwrap_or(i64::MAX));
        self.gauge.collect()
    }
}

/// `RateLimit`'s value: `remaining` requests now, full again in `refill`.
fn state(remaining: u32, refill: Duration) -> HeaderValue {
    HeaderValue::from_str(&format!(
        "\"default\";r={remaining};t={}",
        whole_seconds(refill)
    ))
    .expect("a valid header value")
}

/// `duration` in whole seconds, rounded up.
fn whole_seconds(duration: Duration) -> u64 {
    duration.as_secs() + u64::from(duration.subsec_nanos() > 0)
}

/// The limiter's key for `client`: its address, an IPv6 one cut to its /64.
fn key(client: IpAddr) -> IpAddr {
    match client.to_canonical() {
        IpAddr::V6(ip) => IpAddr::V6(Ipv6Addr::from(u128::from(ip) & !(u128::MAX >> 64))),
        v4 => v4,
    }
}

/// Every `window` (at least a second, at most a minute), forgets the clients whose budget is
/// full again, until the limiter is gone.
fn start_sweeper(limiter: Weak<Limiter>, window: Duration) -> std::io::Result<()> {
    let every = window.clamp(Duration::from_secs(1), Duration::from_secs(60));
    std::thread::Builder::new()
        .name("rate-limit-sweeper".into())
        .spawn(move || {
            loop {
                std::thread::sleep(every);
                let Some(limiter) = limiter.upgrade() else {
                    return;
                };
                limiter.retain_recent();
                limiter.shrink_to_fit();
            }
        })
        .map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv6_clients_are_keyed_by_their_64() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:bbbb::2".parse().unwrap();
        let c: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(key(a), key(b));
        assert_ne!(key(a), key(c));
        let v4: IpAddr = "192.0.2.7".parse().unwrap();
        assert_eq!(key(v4), v4);
        let mapped: IpAddr = "::ffff:192.0.2.7".parse().unwrap();
        assert_eq!(key(mapped), v4);
    }

    #[test]
    fn a_burst_is_let_through_then_refused_with_the_wait() {
        let rate = Rate {
            count: NonZeroU32::new(1).unwrap(),
            period: Duration::from_secs(60),
        };
        let limits =
            RateLimits::new(rate, NonZeroU32::new(2), vec!["/healthz".into()], vec![]).unwrap();
        assert_eq!(limits.policy(), "\"default\";q=2;w=120");
        let client = Some("192.0.2.7".parse().unwrap());
        let get = Method::GET;
        let Decision::Allowed(first) = limits.check(&get, "/", client) else {
            panic!("the first is let through")
        };
        assert_eq!(first, "\"default\";r=1;t=60");
        assert!(matches!(
            limits.check(&get, "/", client),
            Decision::Allowed(_)
        ));
        let Decision::Refused {
            retry_after_secs, ..
        } = limits.check(&get, "/", client)
        else {
            panic!("the third is refused")
        };
        assert!((59..=60).contains(&retry_after_secs), "{retry_after_secs}");
        assert!(matches!(
            limits.check(&get, "/healthz", client),
            Decision::Exempt
        ));
        assert!(matches!(
            limits.check(&Method::OPTIONS, "/", client),
            Decision::Exempt
        ));
        let other = Some("192.0.2.8".parse().unwrap());
        assert!(matches!(
            limits.check(&get, "/", other),
            Decision::Allowed(_)
        ));
        assert_eq!(limits.clients(), 2);
    }
}
