//! `GET /hello/{name}`: the name rule at every edge, through real HTTP.

use serde_json::{Value, json};

use crate::helpers::{TestApp, spawn_app};

async fn expect_greeting(app: &TestApp, encoded: &str, name: &str) {
    let reply = app.get(&format!("/hello/{encoded}")).await;
    assert_eq!(reply.status, 200, "{encoded}: {}", reply.text());
    assert_eq!(reply.header("content-type"), Some("application/json"));
    assert_eq!(reply.json(), json!({"Hello": name}), "{encoded}");
}

async fn expect_invalid(app: &TestApp, encoded: &str, kind: &str, input: Value) -> Value {
    let reply = app.get(&format!("/hello/{encoded}")).await;
    assert_eq!(reply.status, 422, "{encoded}: {}", reply.text());
    assert_eq!(reply.header("content-type"), Some("application/json"));
    let body = reply.json();
    let detail = body["detail"].as_array().expect("detail is a list");
    assert_eq!(detail.len(), 1, "{body}");
    assert_eq!(detail[0]["type"], kind, "{encoded}: {body}");
    assert_eq!(detail[0]["loc"], json!(["path", "name"]));
    assert_eq!(detail[0]["input"], input);
    assert!(!detail[0]["msg"].as_str().unwrap().is_empty());
    detail[0].clone()
}

#[actix_web::test]
async fn greets_the_decoded_name() {
    let app = spawn_app();

    expect_greeting(&app, "Ada", "Ada").await;
    expect_greeting(&app, "Zo%C3%AB", "Zoë").await;
    expect_greeting(&app, "%E6%97%A5%E6%9C%AC", "日本").await;
    expect_greeting(&app, "Ada%20Lovelace", "Ada Lovelace").await;
    expect_greeting(&app, "a%2Fb", "a/b").await;
    expect_greeting(&app, "100%25", "100%").await;
    expect_greeting(&app, "%2541", "%41").await;
    expect_greeting(&app, "a+b", "a+b").await;
    expect_greeting(&app, "%F0%9D%84%9E", "𝄞").await;
}

#[actix_web::test]
async fn length_edges_are_counted_in_characters() {
    let app = spawn_app();

    let empty = expect_invalid(&app, "", "string_too_short", json!("")).await;
    assert_eq!(empty["ctx"], json!({"min_length": 1}));
    expect_greeting(&app, "A", "A").await;
    expect_greeting(&app, &"a".repeat(64), &"a".repeat(64)).await;
    let long = expect_invalid(
        &app,
        &"a".repeat(65),
        "string_too_long",
        json!("a".repeat(65)),
    )
    .await;
    assert_eq!(long["ctx"], json!({"max_length": 64}));
    // 64 two-byte characters are 128 bytes, and still a valid name.
    expect_greeting(&app, &"%C3%A9".repeat(64), &"é".repeat(64)).await;
    expect_invalid(
        &app,
        &"%C3%A9".repeat(65),
        "string_too_long",
        json!("é".repeat(65)),
    )
    .await;
    expect_greeting(&app, &"%F0%9D%84%9E".repeat(64), &"𝄞".repeat(64)).await;
}

#[actix_web::test]
async fn control_characters_are_refused() {
    let app = spawn_app();

    for (encoded, decoded) in [
        ("%00", "\u{0}"),
        ("a%0Ab", "a\nb"),
        ("%09", "\t"),
        ("%1F", "\u{1F}"),
        ("%7F", "\u{7F}"),
        ("%C2%80", "\u{80}"),
        ("%C2%9F", "\u{9F}"),
    ] {
        let error = expect_invalid(&app, encoded, "string_pattern_mismatch", json!(decoded)).await;
        // The pattern the document publishes for `name`, written out: not the code's constant.
        assert_eq!(error["ctx"]["pattern"], r"^[^\u0000-\u001F\u007F-\u009F]*$");
    }
    // The neighbours of the control ranges are fine.
    expect_greeting(&app, "%20", " ").await;
    expect_greeting(&app, "%7E", "~").await;
    expect_greeting(&app, "%C2%A0", "\u{A0}").await;
}

#[actix_web::test]
async fn a_broken_percent_escape_is_refused_as_sent() {
    let app = spawn_app();

    for raw in ["%ZZ", "Ada%", "%4", "a%G1"] {
        expect_invalid(&app, raw, "percent_encoding", json!(raw)).await;
    }
}

#[actix_web::test]
async fn a_name_that_is_not_utf8_is_refused_as_sent() {
    let app = spawn_app();

    expect_invalid(&app, "%FF", "string_unicode", json!("%FF")).await;
    expect_invalid(&app, "Ada%C3", "string_unicode", json!("Ada%C3")).await;
}

#[actix_web::test]
async fn other_methods_and_deeper_paths_are_not_greetings() {
    let app = spawn_app();

    let reply = app.request(awc::http::Method::POST, "/hello/Ada").await;
    assert_eq!(reply.status, 405);
    assert_eq!(reply.header("allow"), Some("GET, HEAD"));
    assert_eq!(app.get("/hello/a/b").await.status, 404);
    assert_eq!(app.get("/hello").await.status, 404);
}
