//! `--rate-limit`: 429s in FastAPI's shape with `Retry-After` and the IETF draft's headers, keyed
//! by the client behind trusted proxies (IPv6 by /64), never on probes, metrics, docs or spec,
//! and with memory that follows the clients of the last window, not every client ever seen.

use std::io::{Read, Write};
use std::time::Duration;

use greeter::config::ServeSettings;

use crate::helpers::{
    GreeterProcess, TestApp, header_of as header, raw_http, spawn_app_with, test_settings,
};

fn limited_app(rate: &str, burst: u32, trusted: &str) -> TestApp {
    spawn_app_with(ServeSettings {
        rate_limit: Some(rate.parse().unwrap()),
        rate_limit_burst: std::num::NonZeroU32::new(burst),
        forwarded_allow_ips: trusted.parse().unwrap(),
        io_delay: Duration::ZERO.into(),
        ..test_settings()
    })
}

/// `GET path` sent as from the client `xff` (an `X-Forwarded-For` value), if any.
async fn get_as(app: &TestApp, path: &str, xff: Option<&str>) -> String {
    let forwarded = xff.map_or(String::new(), |ip| format!("X-Forwarded-For: {ip}\r\n"));
    raw_http(
        app.socket_address(),
        &format!("GET {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n{forwarded}\r\n"),
    )
    .await
}

#[actix_web::test]
async fn past_the_burst_a_client_gets_429_json_with_retry_after_then_is_let_through_again() {
    let app = limited_app("2/s", 2, "127.0.0.1");
    // `t` of a refusal is the wait `Retry-After` gives, not the time to a full budget.
    let slow = limited_app("10/min", 1, "127.0.0.1");
    assert!(get_as(&slow, "/", None).await.starts_with("HTTP/1.1 200"));
    let refused = get_as(&slow, "/", None).await;
    assert_eq!(header(&refused, "retry-after"), Some("6"), "{refused}");
    assert_eq!(header(&refused, "ratelimit"), Some(r#""default";r=0;t=6"#));

    for remaining in ["1", "0"] {
        let answer = get_as(&app, "/", None).await;
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
        assert_eq!(
            header(&answer, "ratelimit-policy"),
            Some(r#""default";q=2;w=1"#)
        );
        assert_eq!(
            header(&answer, "ratelimit"),
            Some(format!(r#""default";r={remaining};t=1"#).as_str())
        );
    }
    let refused = get_as(&app, "/", None).await;
    assert!(
        refused.starts_with("HTTP/1.1 429 Too Many Requests"),
        "{refused}"
    );
    assert_eq!(header(&refused, "retry-after"), Some("1"));
    assert_eq!(header(&refused, "content-type"), Some("application/json"));
    assert!(
        refused.ends_with(r#"{"detail":"Too Many Requests"}"#),
        "{refused}"
    );
    assert_eq!(header(&refused, "ratelimit"), Some(r#""default";r=0;t=1"#));

    // Retry-After said 1 s: after it, the client is let through again.
    actix_rt::time::sleep(Duration::from_millis(1100)).await;
    let again = get_as(&app, "/", None).await;
    assert!(again.starts_with("HTTP/1.1 200"), "{again}");
}

#[actix_web::test]
async fn probes_metrics_docs_spec_and_options_are_never_limited() {
    let app = limited_app("1/min", 1, "127.0.0.1");
    assert!(get_as(&app, "/", None).await.starts_with("HTTP/1.1 200"));
    assert!(get_as(&app, "/", None).await.starts_with("HTTP/1.1 429"));

    for path in [
        "/healthz",
        "/readyz",
        "/metrics",
        "/openapi.json",
        "/openapi-3.0.json",
        "/docs/",
        "/docs/swagger-ui.css",
    ] {
        for _ in 0..3 {
            let answer = get_as(&app, path, None).await;
            assert!(answer.starts_with("HTTP/1.1 200"), "{path}: {answer}");
            assert_eq!(header(&answer, "ratelimit"), None, "{path}");
        }
    }
    let options = raw_http(
        app.socket_address(),
        "OPTIONS / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert!(!options.starts_with("HTTP/1.1 429"), "{options}");
    let metrics = get_as(&app, "/metrics", None).await;
    assert!(
        metrics.contains("http_requests_rate_limited_total 1\n"),
        "{metrics}"
    );
}

#[actix_web::test]
async fn clients_behind_a_trusted_proxy_have_budgets_of_their_own_ipv6_by_its_64() {
    let app = limited_app("1/min", 1, "127.0.0.1");
    let status = |answer: String| answer[9..12].to_owned();

    assert_eq!(status(get_as(&app, "/", Some("203.0.113.1")).await), "200");
    assert_eq!(status(get_as(&app, "/", Some("203.0.113.1")).await), "429");
    assert_eq!(status(get_as(&app, "/", Some("203.0.113.2")).await), "200");
    // A spoofed left entry does not buy a new budget: the rightmost untrusted one counts.
    assert_eq!(
        status(get_as(&app, "/", Some("198.51.100.9, 203.0.113.1")).await),
        "429"
    );
    assert_eq!(status(get_as(&app, "/", Some("2001:db8::1")).await), "200");
    assert_eq!(status(get_as(&app, "/", Some("2001:db8::2")).await), "429");
    assert_eq!(
        status(get_as(&app, "/", Some("2001:db8:0:1::1")).await),
        "200"
    );
}

#[actix_web::test]
async fn an_untrusted_peer_cannot_escape_its_budget_with_a_forwarding_header() {
    let app = limited_app("1/min", 1, "10.0.0.0/8"); // this machine is not a trusted proxy
    assert!(
        get_as(&app, "/", Some("203.0.113.1"))
            .await
            .starts_with("HTTP/1.1 200")
    );
    let answer = get_as(&app, "/", Some("203.0.113.2")).await;
    assert!(answer.starts_with("HTTP/1.1 429"), "{answer}");
}

/// Sends `count` pipelined `GET /` on one connection, each from its own client address
/// (`X-Forwarded-For: 10.<n>`... from `first`); returns how many were answered 200.
fn pipelined_clients(socket: &str, first: u32, count: u32) -> usize {
    let mut stream = std::net::TcpStream::connect(socket).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    let writer = {
        let mut stream = stream.try_clone().unwrap();
        std::thread::spawn(move || {
            let mut batch = String::new();
            for n in first..first + count {
                let ip = std::net::Ipv4Addr::from(0x0a00_0000 + n);
                let close = if n + 1 == first + count {
                    "Connection: close\r\n"
                } else {
                    ""
                };
                batch.push_str(&format!(
                    "GET / HTTP/1.1\r\nHost: t\r\nX-Forwarded-For: {ip}\r\n{close}\r\n"
                ));
                if batch.len() > 64 * 1024 {
                    stream.write_all(batch.as_bytes()).unwrap();
                    batch.clear();
                }
            }
            stream.write_all(batch.as_bytes()).unwrap();
        })
    };
    let mut answers = Vec::new();
    stream.read_to_end(&mut answers).unwrap();
    writer.join().unwrap();
    String::from_utf8_lossy(&answers)
        .matches("HTTP/1.1 200 OK")
        .count()
}

fn rss_kib(process: &GreeterProcess) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{}/status", process.child.id())).unwrap();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.split_whitespace().next()?.parse().ok())
        .unwrap()
}

/// 100,000 distinct clients (through a trusted proxy's header), then 100,000 others: the
/// clients of the first round are forgotten once their window is over, so the second round
/// needs no more memory than the first (docs/operations.md gives the bound).
#[test]
fn memory_follows_the_clients_of_the_last_window_not_every_client_ever_seen() {
    let (process, address) = GreeterProcess::serve(&["--io-delay", "0s", "--rate-limit", "1000/s"]);
    let socket = address.trim_start_matches("http://").to_owned();
    let round = |first: u32| {
        let threads: Vec<_> = (0..4)
            .map(|t| {
                let socket = socket.clone();
                std::thread::spawn(move || pipelined_clients(&socket, first + t * 25_000, 25_000))
            })
            .collect();
        let ok: usize = threads.into_iter().map(|t| t.join().unwrap()).sum();
        assert_eq!(ok, 100_000, "every new client is let through");
    };
    let idle = rss_kib(&process);

    round(0);
    let first_peak = rss_kib(&process);
    assert!(
        clients_held(&socket) > 0,
        "the first round's clients are held"
    );
    wait_until_forgotten(&socket, "the first round's clients");
    round(100_000);
    wait_until_forgotten(&socket, "the second round's clients");
    let settled = rss_kib(&process);

    assert!(
        settled <= idle + 96 * 1024,
        "RSS settled at {settled} KiB, over 96 MiB above idle ({idle} KiB; first round peak \
         {first_peak} KiB)"
    );
}

/// Waits until the sweeper has forgotten every client (a window, 1 s, then a sweep): the gauge
/// reads 0. Fails after 10 s.
fn wait_until_forgotten(socket: &str, who: &str) {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while clients_held(socket) > 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "{who} are never forgotten"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// `http_rate_limit_clients` from the metrics.
fn clients_held(socket: &str) -> u64 {
    let metrics =
        crate::helpers::raw_http_blocking(socket, &crate::helpers::get_request("/metrics"))
            .unwrap();
    metrics
        .lines()
        .find_map(|line| line.strip_prefix("http_rate_limit_clients "))
        .unwrap_or_else(|| panic!("no http_rate_limit_clients in {metrics}"))
        .trim()
        .parse()
        .unwrap()
}
