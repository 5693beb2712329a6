//! Headers on every answer: `X-Request-Id` and `X-Content-Type-Options: nosniff`; a
//! Content-Security-Policy on the docs page (the browser test proves Swagger UI works with it).

use awc::http::Method;

use crate::helpers::{TestApp, spawn_app};

async fn every_kind_of_answer(app: &TestApp) -> Vec<(&'static str, crate::helpers::Reply)> {
    vec![
        ("200", app.get("/healthz").await),
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
        assert!(greeter::request_id::is_sane(id.as_bytes()), "{what}: {id}");
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
            greeter::request_id::is_sane(answered.as_bytes()),
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
        Some(greeter::routes::docs::CONTENT_SECURITY_POLICY)
    );
    let policy = greeter::routes::docs::CONTENT_SECURITY_POLICY;
    assert!(
        policy.contains("default-src 'self'") && policy.contains("script-src 'self'"),
        "{policy}"
    );
    assert!(!policy.contains("unsafe-eval"), "{policy}");
}
