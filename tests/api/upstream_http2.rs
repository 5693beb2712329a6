//! HTTP/2 to upstreams: Debian's nginx serving h2 over TLS (chosen by ALPN) and in the clear
//! (prior knowledge), its access log telling the protocol and the connection of each call.
//! Calls share a connection per worker; past the upstream's stream limit another one opens;
//! a `GOAWAY` is followed by a new connection and a reset stream fails its call alone.

use std::collections::HashSet;
use std::num::NonZeroUsize;
use std::time::{Duration, Instant};

use futures_util::future::join_all;
use greeter::config::{HttpVersion, ServeSettings, Upstream};
use serde_json::Value;

use crate::helpers::{TestApp, spawn_app_with, test_settings};
use crate::nginx::{Nginx, free_port};
use crate::test_upstream::{Behaviour, source, upstream};
use crate::upstream_tls::{Certificates, nginx_or_skip};

/// nginx with one HTTP/2 server over TLS on a free port, `body` inside its `server` block.
fn h2_over_tls(nginx: &std::path::Path, certificates: &Certificates, body: &str) -> (Nginx, u16) {
    let port = free_port();
    let server = format!(
        "  server {{\n    listen 127.0.0.1:{port} ssl http2;\n    ssl_certificate {};\n    \
         ssl_certificate_key {};\n    {body}\n  }}\n",
        certificates.path("good.pem").display(),
        certificates.path("good.key").display(),
    );
    (Nginx::start(nginx, &server, &[port]), port)
}

/// The app with one worker calling `upstreams` (`name`, URL, HTTP version), trusting the CA.
fn app_calling(upstreams: &[(&str, String, HttpVersion)], certificates: &Certificates) -> TestApp {
    spawn_app_with(ServeSettings {
        workers: NonZeroUsize::MIN,
        upstreams: upstreams
            .iter()
            .map(|(name, url, http)| {
                let mut upstream = Upstream::parse(&format!("{name}={url}")).unwrap();
                upstream.http = *http;
                upstream
            })
            .collect(),
        upstream_timeout: Duration::from_secs(5).into(),
        upstream_ca_file: Some(certificates.path("ca.pem")),
        ..test_settings()
    })
}

/// The connection (`$connection`) and request line of each access log line, once there are
/// `at_least`.
fn calls(nginx: &Nginx, at_least: usize) -> Vec<(String, String)> {
    nginx
        .access_log_of(at_least)
        .iter()
        .map(|line| {
            let connection = line.split(' ').next().unwrap().to_owned();
            let request = line.split('"').nth(1).unwrap_or_default().to_owned();
            (connection, request)
        })
        .collect()
}

const JSON: &str =
    "location / { default_type application/json; return 200 '{\"served_by\": \"h2\"}'; }";

/// Over TLS, ALPN chooses h2; 40 aggregates at once go out as streams of one connection.
#[actix_web::test]
async fn alpn_chooses_http2_and_calls_share_one_connection() {
    let Some(nginx) = nginx_or_skip() else { return };
    let certificates = Certificates::make();
    let (upstream, port) = h2_over_tls(&nginx, &certificates, JSON);
    let url = format!("https://localhost:{port}/a");
    let app = app_calling(&[("h2", url, HttpVersion::Auto)], &certificates);

    let answers = join_all((0..40).map(|_| app.get("/aggregate"))).await;

    for answer in answers {
        let aggregate: Value = answer.json();
        assert_eq!(source(&aggregate, "h2")["ok"], true, "{aggregate}");
    }
    let calls = calls(&upstream, 40);
    assert_eq!(calls.len(), 40);
    assert!(
        calls
            .iter()
            .all(|(_, request)| request == "GET /a HTTP/2.0"),
        "{calls:?}"
    );
    let connections: HashSet<_> = calls.iter().map(|(connection, _)| connection).collect();
    assert_eq!(connections.len(), 1, "{calls:?}");
}

/// With `http2_max_concurrent_streams 2`, 8 slow calls at once open 4 connections rather than
/// queueing on one (hyper #2641): they all end together, after one wait.
#[actix_web::test]
async fn past_the_stream_limit_another_connection_opens() {
    let Some(nginx) = nginx_or_skip() else { return };
    let certificates = Certificates::make();
    let slow = upstream(Behaviour::Slow(Duration::from_millis(500))).await;
    let slow_address = slow
        .url
        .trim_start_matches("http://")
        .trim_end_matches("/data");
    let (upstream, port) = h2_over_tls(
        &nginx,
        &certificates,
        &format!(
            "http2_max_concurrent_streams 2;\n    location / {{ proxy_pass http://{slow_address}; }}"
        ),
    );
    let url = format!("https://localhost:{port}/data");
    let app = app_calling(&[("slow", url, HttpVersion::Http2)], &certificates);

    let started = Instant::now();
    let answers = join_all((0..8).map(|_| app.get("/aggregate"))).await;
    let took = started.elapsed();

    for answer in answers {
        let aggregate: Value = answer.json();
        assert_eq!(source(&aggregate, "slow")["ok"], true, "{aggregate}");
    }
    let calls = calls(&upstream, 8);
    let connections: HashSet<_> = calls.iter().map(|(connection, _)| connection).collect();
    assert_eq!(connections.len(), 4, "{calls:?}");
    assert!(
        took < Duration::from_millis(1400),
        "took {took:?}: the calls queued"
    );
}

/// In the clear, `http = "2"` speaks h2 with prior knowledge (h2c).
#[actix_web::test]
async fn cleartext_http2_with_prior_knowledge() {
    let Some(nginx) = nginx_or_skip() else { return };
    let certificates = Certificates::make();
    let port = free_port();
    let upstream = Nginx::start(
        &nginx,
        &format!("  server {{\n    listen 127.0.0.1:{port} http2;\n    {JSON}\n  }}\n"),
        &[port],
    );
    let url = format!("http://127.0.0.1:{port}/c");
    let app = app_calling(&[("h2c", url, HttpVersion::Http2)], &certificates);

    for _ in 0..3 {
        let aggregate = app.get("/aggregate").await.json();
        assert_eq!(source(&aggregate, "h2c")["ok"], true, "{aggregate}");
    }
    let calls = calls(&upstream, 3);
    assert!(
        calls
            .iter()
            .all(|(_, request)| request == "GET /c HTTP/2.0"),
        "{calls:?}"
    );
    let connections: HashSet<_> = calls.iter().map(|(connection, _)| connection).collect();
    assert_eq!(connections.len(), 1, "{calls:?}");
}

/// nginx ends a connection with `GOAWAY` after 3 requests (`keepalive_requests`): each next
/// call goes out on a new connection, none fails.
#[actix_web::test]
async fn after_a_goaway_calls_go_on_a_new_connection() {
    let Some(nginx) = nginx_or_skip() else { return };
    let certificates = Certificates::make();
    let (upstream, port) = h2_over_tls(
        &nginx,
        &certificates,
        &format!("keepalive_requests 3;\n    {JSON}"),
    );
    let url = format!("https://localhost:{port}/g");
    let app = app_calling(&[("goaway", url, HttpVersion::Auto)], &certificates);

    for _ in 0..10 {
        let aggregate = app.get("/aggregate").await.json();
        assert_eq!(source(&aggregate, "goaway")["ok"], true, "{aggregate}");
    }
    let calls = calls(&upstream, 10);
    assert_eq!(calls.len(), 10, "{calls:?}");
    let connections: HashSet<_> = calls.iter().map(|(connection, _)| connection).collect();
    assert_eq!(connections.len(), 4, "3 calls a connection: {calls:?}");
}

/// Under load, with a stream limit of 4 and a `GOAWAY` every 3 requests, streams past a
/// `GOAWAY` go out again on other connections until one takes them: 300 aggregates, 50 at a
/// time, none fails.
#[actix_web::test]
async fn goaways_under_load_lose_no_call() {
    let Some(nginx) = nginx_or_skip() else { return };
    let certificates = Certificates::make();
    let (_upstream, port) = h2_over_tls(
        &nginx,
        &certificates,
        &format!("http2_max_concurrent_streams 4;\n    keepalive_requests 3;\n    {JSON}"),
    );
    let url = format!("https://localhost:{port}/g");
    let app = app_calling(&[("goaway", url, HttpVersion::Auto)], &certificates);

    for _ in 0..6 {
        let answers = join_all((0..50).map(|_| app.get("/aggregate"))).await;
        for answer in answers {
            let aggregate: Value = answer.json();
            assert_eq!(source(&aggregate, "goaway")["ok"], true, "{aggregate}");
        }
    }
}

/// A stream the upstream resets (nginx's `return 444`) fails that call as `protocol`, and the
/// other upstream of the same aggregate, on the same connection's server, is still ok.
#[actix_web::test]
async fn a_reset_stream_fails_its_call_alone() {
    let Some(nginx) = nginx_or_skip() else { return };
    let certificates = Certificates::make();
    let (_upstream, port) = h2_over_tls(
        &nginx,
        &certificates,
        &format!("location /reset {{ return 444; }}\n    {JSON}"),
    );
    let app = app_calling(
        &[
            (
                "ok",
                format!("https://localhost:{port}/ok"),
                HttpVersion::Auto,
            ),
            (
                "reset",
                format!("https://localhost:{port}/reset"),
                HttpVersion::Auto,
            ),
        ],
        &certificates,
    );

    let started = Instant::now();
    let aggregate = app.get("/aggregate").await.json();

    assert_eq!(source(&aggregate, "ok")["ok"], true, "{aggregate}");
    let reset = source(&aggregate, "reset");
    assert_eq!(reset["error"]["type"], "protocol", "{aggregate}");
    let detail = reset["error"]["detail"].as_str().unwrap();
    assert!(
        detail.starts_with("the upstream reset the stream"),
        "{detail}"
    );
    assert!(started.elapsed() < Duration::from_secs(2), "no hang");
}

/// `http = "2"` to an upstream whose TLS offers no h2 fails its handshake (`tls`), saying so;
/// `1.1` keeps an h2 upstream on HTTP/1.1.
#[actix_web::test]
async fn the_configured_version_is_the_one_spoken() {
    let Some(nginx) = nginx_or_skip() else { return };
    let certificates = Certificates::make();
    let (h2_upstream, h2_port) = h2_over_tls(&nginx, &certificates, JSON);
    let plain_port = free_port();
    let _h1_upstream = Nginx::start(
        &nginx,
        &format!(
            "  server {{\n    listen 127.0.0.1:{plain_port} ssl;\n    ssl_certificate {};\n    \
             ssl_certificate_key {};\n    {JSON}\n  }}\n",
            certificates.path("good.pem").display(),
            certificates.path("good.key").display(),
        ),
        &[plain_port],
    );
    let app = app_calling(
        &[
            (
                "only-h2",
                format!("https://localhost:{plain_port}/x"),
                HttpVersion::Http2,
            ),
            (
                "only-h1",
                format!("https://localhost:{h2_port}/y"),
                HttpVersion::Http1,
            ),
        ],
        &certificates,
    );

    let aggregate = app.get("/aggregate").await.json();

    let refused = source(&aggregate, "only-h2");
    assert_eq!(refused["error"]["type"], "tls", "{aggregate}");
    assert!(
        refused["error"]["detail"]
            .as_str()
            .unwrap()
            .contains("does not offer HTTP/2"),
        "{aggregate}"
    );
    assert_eq!(source(&aggregate, "only-h1")["ok"], true, "{aggregate}");
    assert_eq!(calls(&h2_upstream, 1)[0].1, "GET /y HTTP/1.1");
}
