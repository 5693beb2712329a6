use std::time::Duration;

use crate::helpers::spawn_app_with_delay;

#[actix_web::test]
async fn healthz_answers_ok_without_the_io_wait() {
    // With a 10-minute I/O wait, only an answer that skips the wait arrives in time.
    let app = spawn_app_with_delay(Duration::from_secs(600));

    let reply = actix_rt::time::timeout(Duration::from_secs(10), app.get("/healthz"))
        .await
        .expect("healthz waited for the simulated I/O");

    assert_eq!(reply.status, 200);
    assert_eq!(reply.header("content-type"), Some("application/json"));
    assert_eq!(reply.json(), serde_json::json!({"status": "ok"}));
}

#[actix_web::test]
async fn head_on_healthz_answers_200() {
    let app = spawn_app_with_delay(Duration::ZERO);

    let answer = crate::helpers::raw_http(
        app.socket_address(),
        "HEAD /healthz HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n",
    )
    .await;

    let (head, body) = answer.split_once("\r\n\r\n").expect("no end of headers");
    assert!(head.starts_with("HTTP/1.1 200 OK"), "{head}");
    let length = r#"{"status":"ok"}"#.len();
    assert!(
        head.to_ascii_lowercase()
            .contains(&format!("content-length: {length}")),
        "{head}"
    );
    assert_eq!(body, "", "HEAD must not send a body");
}

#[actix_web::test]
async fn readyz_answers_ready_while_serving() {
    let app = spawn_app_with_delay(Duration::from_secs(600));

    let reply = actix_rt::time::timeout(Duration::from_secs(10), app.get("/readyz"))
        .await
        .expect("readyz waited for the simulated I/O");

    assert_eq!(reply.status, 200);
    assert_eq!(reply.header("content-type"), Some("application/json"));
    assert_eq!(
        reply.header("connection"),
        None,
        "serving keeps connections"
    );
    assert_eq!(reply.json(), serde_json::json!({"status": "ready"}));
}
