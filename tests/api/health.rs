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

    let reply = app.request(awc::http::Method::HEAD, "/healthz").await;

    assert_eq!(reply.status, 200);
    assert!(reply.body.is_empty());
}
