//! CORS (`--cors-allow-origin`), on real sockets: preflights answered, refused ones in JSON, and
//! the headers on every answer the app makes (errors and 429s included) for an allowed origin,
//! none for another, none at all when CORS is off. The browser's side is in `browser.rs`.

use std::time::Duration;

use greeter::config::ServeSettings;

use crate::helpers::{TestApp, header_of as header, raw_http, spawn_app_with, test_settings};

const ALLOWED: &str = "http://app.test:8080";

fn app_allowing(origins: &[&str], rate_limit: Option<&str>) -> TestApp {
    spawn_app_with(ServeSettings {
        cors_allow_origins: origins.iter().map(|o| (*o).to_owned()).collect(),
        rate_limit: rate_limit.map(|r| r.parse().unwrap()),
        io_delay: Duration::ZERO.into(),
        ..test_settings()
    })
}

async fn ask(app: &TestApp, method: &str, target: &str, headers: &str) -> String {
    raw_http(
        app.socket_address(),
        &format!("{method} {target} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n{headers}\r\n"),
    )
    .await
}

#[actix_web::test]
async fn a_preflight_from_an_allowed_origin_is_answered() {
    let app = app_allowing(&[ALLOWED], None);

    let answer = ask(
        &app,
        "OPTIONS",
        "/greetings",
        &format!(
            "Origin: {ALLOWED}\r\nAccess-Control-Request-Method: POST\r\n\
             Access-Control-Request-Headers: content-type, x-request-id\r\n"
        ),
    )
    .await;

    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert_eq!(
        header(&answer, "access-control-allow-origin"),
        Some(ALLOWED)
    );
    let methods = header(&answer, "access-control-allow-methods").unwrap();
    assert!(
        methods.contains("POST") && methods.contains("GET"),
        "{methods}"
    );
    let allowed = header(&answer, "access-control-allow-headers").unwrap();
    assert!(
        allowed.contains("content-type") && allowed.contains("x-request-id"),
        "{allowed}"
    );
    assert_eq!(header(&answer, "access-control-max-age"), Some("600"));
}

#[actix_web::test]
async fn a_refused_preflight_is_a_json_400() {
    let app = app_allowing(&[ALLOWED], None);
    for headers in [
        "Origin: http://other.test\r\nAccess-Control-Request-Method: POST\r\n".to_owned(),
        format!("Origin: {ALLOWED}\r\nAccess-Control-Request-Method: DELETE\r\n"),
        format!(
            "Origin: {ALLOWED}\r\nAccess-Control-Request-Method: POST\r\n\
             Access-Control-Request-Headers: x-secret\r\n"
        ),
    ] {
        let answer = ask(&app, "OPTIONS", "/greetings", &headers).await;
        assert!(answer.starts_with("HTTP/1.1 400"), "{headers}: {answer}");
        assert_eq!(header(&answer, "content-type"), Some("application/json"));
        let body: serde_json::Value =
            serde_json::from_str(answer.split("\r\n\r\n").nth(1).unwrap()).unwrap();
        assert!(
            body["detail"]
                .as_str()
                .unwrap()
                .starts_with("Bad Request: CORS request refused: "),
            "{body}"
        );
    }
}

/// Every answer for an allowed origin carries the headers and exposes the request id and the
/// rate-limit headers: a 200, a 404, a 422 and a 429 alike.
#[actix_web::test]
async fn every_answer_to_an_allowed_origin_carries_the_headers_errors_and_429s_included() {
    let app = app_allowing(&[ALLOWED], Some("3/min"));
    let origin = format!("Origin: {ALLOWED}\r\n");
    for (target, status) in [
        ("/", "200"),
        ("/nowhere", "404"),
        ("/hello/%FF", "422"),
        ("/", "429"),
    ] {
        let answer = ask(&app, "GET", target, &origin).await;
        assert!(
            answer.starts_with(&format!("HTTP/1.1 {status}")),
            "{target}: {answer}"
        );
        assert_eq!(
            header(&answer, "access-control-allow-origin"),
            Some(ALLOWED),
            "{target}"
        );
        let exposed = header(&answer, "access-control-expose-headers").unwrap();
        for name in [
            "x-request-id",
            "ratelimit",
            "ratelimit-policy",
            "retry-after",
        ] {
            assert!(exposed.contains(name), "{target}: {exposed}");
        }
    }
}

#[actix_web::test]
async fn another_origin_gets_no_allow_origin_and_any_origin_gets_a_wildcard() {
    let app = app_allowing(&[ALLOWED], None);
    let answer = ask(&app, "GET", "/healthz", "Origin: http://other.test\r\n").await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert_eq!(header(&answer, "access-control-allow-origin"), None);

    let any = app_allowing(&["*"], None);
    let answer = ask(&any, "GET", "/healthz", "Origin: http://other.test\r\n").await;
    assert_eq!(header(&answer, "access-control-allow-origin"), Some("*"));
    assert_eq!(header(&answer, "access-control-allow-credentials"), None);
}

#[actix_web::test]
async fn without_allowed_origins_there_is_no_cors_at_all() {
    let app = app_allowing(&[], None);
    let answer = ask(&app, "GET", "/healthz", &format!("Origin: {ALLOWED}\r\n")).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(
        !answer.to_ascii_lowercase().contains("access-control-"),
        "{answer}"
    );
    let preflight = ask(
        &app,
        "OPTIONS",
        "/greetings",
        &format!("Origin: {ALLOWED}\r\nAccess-Control-Request-Method: POST\r\n"),
    )
    .await;
    assert!(preflight.starts_with("HTTP/1.1 405"), "{preflight}");
}

/// Preflights, answered or refused, go through the same steps as every other answer: a request
/// id, `nosniff`, an access line and a count in the metrics (they once bypassed them all).
#[test]
fn preflights_get_an_id_an_access_line_and_a_count() {
    use crate::helpers::{GreeterProcess, raw_http_blocking};
    let (mut process, address) = GreeterProcess::serve(&["--cors-allow-origin", ALLOWED]);
    let socket = address.trim_start_matches("http://").to_owned();
    let preflight = |headers: &str| {
        raw_http_blocking(
            &socket,
            &format!(
                "OPTIONS /greetings HTTP/1.1\r\nHost: t\r\nConnection: close\r\n{headers}\r\n"
            ),
        )
        .expect("request failed")
    };
    let allowed = preflight(&format!(
        "Origin: {ALLOWED}\r\nAccess-Control-Request-Method: POST\r\n"
    ));
    let refused = preflight("Origin: http://other.test\r\nAccess-Control-Request-Method: POST\r\n");
    for (answer, status) in [(&allowed, "200"), (&refused, "400")] {
        assert!(
            answer.starts_with(&format!("HTTP/1.1 {status}")),
            "{answer}"
        );
        assert_eq!(header(answer, "x-content-type-options"), Some("nosniff"));
        let id = header(answer, "x-request-id").unwrap_or_else(|| panic!("no id: {answer}"));
        let line = process.wait_for_line(&format!(" {id} "), Duration::from_secs(5));
        assert!(
            line.contains("\"OPTIONS /greetings HTTP/1.1\"")
                && line.contains(&format!(" {status} ")),
            "{line}"
        );
    }
    let metrics = raw_http_blocking(&socket, &crate::helpers::get_request("/metrics")).unwrap();
    for status in ["200", "400"] {
        let series = format!(
            "http_requests_total{{method=\"OPTIONS\",route=\"/greetings\",status=\"{status}\"}} 1"
        );
        assert!(metrics.contains(&series), "no {series} in:\n{metrics}");
    }
}

/// With CORS on, a preflight is held to the head limits too (the CORS layer answers it before
/// the admission inside it): an over-long target is 414, an over-large head 431.
#[actix_web::test]
async fn preflights_are_held_to_the_head_limits() {
    let app = app_allowing(&[ALLOWED], None);
    let preflight = format!("Origin: {ALLOWED}\r\nAccess-Control-Request-Method: POST\r\n");
    let long_target = format!("/greetings?{}", "a".repeat(5000));
    let answer = ask(&app, "OPTIONS", &long_target, &preflight).await;
    assert!(answer.starts_with("HTTP/1.1 414"), "{answer}");
    let big_head = format!("{preflight}X-Pad: {}\r\n", "p".repeat(9000));
    let answer = ask(&app, "OPTIONS", "/greetings", &big_head).await;
    assert!(answer.starts_with("HTTP/1.1 431"), "{answer}");
    let answer = ask(&app, "OPTIONS", "/greetings", &preflight).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
}
