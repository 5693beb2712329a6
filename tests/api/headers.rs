//! Headers on every answer: `X-Request-Id` and `X-Content-Type-Options: nosniff`; a
//! Content-Security-Policy on the docs page (the browser test proves Swagger UI works with it).

use awc::http::Method;

use crate::helpers::{TestApp, spawn_app};

async fn every_kind_of_answer(app: &TestApp) -> Vec<(&'static str, crate::helpers::Reply)> {
    let body_on_get = app.client.get(app.url("/healthz")).send_body("{}");
    let big_head = app
        .client
        .get(app.url("/healthz"))
        .insert_header(("x-pad", "p".repeat(9000)))
        .send();
    vec![
        ("200", app.get("/healthz").await),
        ("HEAD", app.request(Method::HEAD, "/").await),
        ("307", app.get("/docs").await),
        (
            "400",
            crate::helpers::Reply::from(body_on_get.await.unwrap()).await,
        ),
        (
            "413",
            app.post_json("/greetings", &"x".repeat(70_000)).await,
        ),
        (
            "414",
            app.get(&format!("/healthz?pad={}", "p".repeat(4100))).await,
        ),
        (
            "431",
            crate::helpers::Reply::from(big_head.await.unwrap()).await,
        ),
        ("404", app.get("/nope").await),
        ("405", app.request(Method::DELETE, "/").await),
        ("422", app.get("/hello/%FF").await),
        ("415", app.post("/greetings", Some("text/plain"), "x").await),
        ("docs", app.get("/docs/").await),
        ("spec", app.get("/openapi.json").await),
    ]
}

#[actix_web::test]
async fn every_answer_has_a_fresh_request_id_and_nosniff() {
    let app = spawn_app();

    let mut ids = std::collections::HashSet::new();
    for (what, reply) in every_kind_of_answer(&app).await {
        let id = reply
            .header("x-request-id")
            .unwrap_or_else(|| panic!("{what}: no request id"));
        assert!(
            greeter::http::request_id::is_sane(id.as_bytes()),
            "{what}: {id}"
        );
        assert!(
            ids.insert(id.to_owned()),
            "{what}: the id {id} was given before"
        );
        assert_eq!(
            reply.header("x-content-type-options"),
            Some("nosniff"),
            "{what}"
        );
    }
}

#[actix_web::test]
async fn a_sane_client_request_id_is_kept_and_others_are_replaced() {
    let app = spawn_app();
    let sent = |id: &str| {
        let request = app
            .client
            .get(app.url("/healthz"))
            .insert_header(("x-request-id", id));
        async move {
            request
                .send()
                .await
                .unwrap()
                .headers()
                .get("x-request-id")
                .unwrap()
                .to_str()
                .unwrap()
                .to_owned()
        }
    };

    assert_eq!(sent("trace-42.a_b:c").await, "trace-42.a_b:c");
    let long = "a".repeat(129);
    for insane in [long.as_str(), "has space", "quote\"", "semi;colon"] {
        let answered = sent(insane).await;
        assert_ne!(answered, insane);
        assert!(
            greeter::http::request_id::is_sane(answered.as_bytes()),
            "{answered}"
        );
    }
}

#[actix_web::test]
async fn the_docs_page_has_a_content_security_policy() {
    let app = spawn_app();

    let reply = app.get("/docs/").await;

    assert_eq!(
        reply.header("content-security-policy"),
        Some(
            "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
             img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; \
             base-uri 'self'; form-action 'self'"
        )
    );
}
