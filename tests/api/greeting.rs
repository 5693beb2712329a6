use std::time::{Duration, Instant};

use crate::helpers::{spawn_app, spawn_app_with_delay};

#[actix_web::test]
async fn root_answers_hello_world_as_json() {
    let app = spawn_app();

    let reply = app.get("/").await;

    assert_eq!(reply.status, 200);
    assert_eq!(reply.header("content-type"), Some("application/json"));
    assert_eq!(reply.text(), r#"{"Hello":"World"}"#);
}

#[actix_web::test]
async fn root_waits_for_the_simulated_io() {
    // Longer than the default, so a setting that is ignored shows.
    let delay = greeter::config::DEFAULT_IO_DELAY + Duration::from_millis(300);
    let app = spawn_app_with_delay(delay);

    let started = Instant::now();
    let reply = app.get("/").await;

    assert_eq!(reply.status, 200);
    assert!(
        started.elapsed() >= delay,
        "answered after {:?}",
        started.elapsed()
    );
}

#[actix_web::test]
async fn a_zero_delay_answers_at_once() {
    let app = spawn_app_with_delay(Duration::ZERO);
    // The connection is open before the clock starts.
    assert_eq!(app.get("/healthz").await.status, 200);

    let started = Instant::now();
    let reply = app.get("/").await;

    assert_eq!(reply.status, 200);
    let limit = greeter::config::DEFAULT_IO_DELAY / 4;
    assert!(
        started.elapsed() < limit,
        "took {:?}: the default wait was not turned off",
        started.elapsed()
    );
}

#[actix_web::test]
async fn head_on_root_answers_headers_without_body() {
    let app = spawn_app();

    let answer = crate::helpers::raw_http(
        app.socket_address(),
        "HEAD / HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n",
    )
    .await;

    let (head, body) = answer.split_once("\r\n\r\n").expect("no end of headers");
    assert!(head.starts_with("HTTP/1.1 200 OK"), "{head}");
    let head = head.to_ascii_lowercase();
    assert!(head.contains("content-type: application/json"), "{head}");
    assert!(
        head.contains(&format!("content-length: {}", r#"{"Hello":"World"}"#.len())),
        "{head}"
    );
    assert_eq!(body, "", "HEAD must not send a body");
}
