//! `POST /greetings`: the body, its fields and its limits, through real HTTP.

use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::{Reply, TestApp, spawn_app, spawn_app_with, test_settings};

async fn expect_errors(app: &TestApp, body: &str) -> Vec<Value> {
    let reply = app.post_json("/greetings", body).await;
    assert_eq!(reply.status, 422, "{body}: {}", reply.text());
    assert_eq!(reply.header("content-type"), Some("application/json"));
    reply.json()["detail"]
        .as_array()
        .expect("detail is a list")
        .clone()
}

#[actix_web::test]
async fn greets_in_every_language() {
    let app = spawn_app();

    for (language, message) in [
        ("en", "Hello, Ada!"),
        ("fr", "Bonjour, Ada!"),
        ("es", "¡Hola, Ada!"),
        ("de", "Hallo, Ada!"),
        ("ja", "こんにちは、Adaさん!"),
    ] {
        let body = json!({"name": "Ada", "language": language}).to_string();
        let reply = app.post_json("/greetings", &body).await;

        assert_eq!(reply.status, 200, "{}", reply.text());
        assert_eq!(reply.header("content-type"), Some("application/json"));
        assert_eq!(
            reply.json(),
            json!({"message": message, "language": language})
        );
    }
}

#[actix_web::test]
async fn language_defaults_to_english_and_unknown_fields_are_ignored() {
    let app = spawn_app();

    let reply = app
        .post_json(
            "/greetings",
            r#"{"name": "Ada", "title": "Countess", "n": [1]}"#,
        )
        .await;

    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(
        reply.json(),
        json!({"message": "Hello, Ada!", "language": "en"})
    );
}

#[actix_web::test]
async fn the_name_rule_holds_in_the_body_at_every_edge() {
    let app = spawn_app();

    for (name, expected) in [
        (String::new(), Some("string_too_short")),
        ("A".to_owned(), None),
        ("a".repeat(64), None),
        ("a".repeat(65), Some("string_too_long")),
        ("é".repeat(64), None),
        ("日".repeat(65), Some("string_too_long")),
        ("Ada\u{0}".to_owned(), Some("string_pattern_mismatch")),
        ("Ada\u{85}".to_owned(), Some("string_pattern_mismatch")),
    ] {
        let body = json!({"name": name}).to_string();
        match expected {
            None => {
                let reply = app.post_json("/greetings", &body).await;
                assert_eq!(reply.status, 200, "{name:?}: {}", reply.text());
                assert_eq!(reply.json()["message"], format!("Hello, {name}!"));
            }
            Some(kind) => {
                let errors = expect_errors(&app, &body).await;
                assert_eq!(errors.len(), 1, "{errors:?}");
                assert_eq!(errors[0]["type"], kind, "{name:?}");
                assert_eq!(errors[0]["loc"], json!(["body", "name"]));
                assert_eq!(errors[0]["input"], json!(name));
            }
        }
    }
}

#[actix_web::test]
async fn every_invalid_field_is_reported_at_once() {
    let app = spawn_app();

    let errors = expect_errors(&app, r#"{"name": 42, "language": "xx"}"#).await;

    assert_eq!(errors.len(), 2, "{errors:?}");
    assert_eq!(errors[0]["type"], "string_type");
    assert_eq!(errors[0]["loc"], json!(["body", "name"]));
    assert_eq!(errors[0]["input"], 42);
    assert_eq!(errors[1]["type"], "enum");
    assert_eq!(errors[1]["loc"], json!(["body", "language"]));
    assert_eq!(errors[1]["input"], "xx");
    assert_eq!(
        errors[1]["msg"],
        "Input should be 'en', 'fr', 'es', 'de' or 'ja'"
    );
    assert_eq!(
        errors[1]["ctx"],
        json!({"expected": "'en', 'fr', 'es', 'de' or 'ja'"})
    );
}

#[actix_web::test]
async fn a_missing_name_is_missing_with_the_whole_body_as_input() {
    let app = spawn_app();

    let errors = expect_errors(&app, r#"{"language": "fr"}"#).await;

    assert_eq!(
        errors,
        [
            json!({"type": "missing", "loc": ["body", "name"], "msg": "Field required",
                "input": {"language": "fr"}})
        ]
    );
}

#[actix_web::test]
async fn languages_that_are_not_codes_are_enum_errors() {
    let app = spawn_app();

    for language in [json!("EN"), json!(""), json!(null), json!(1), json!(["fr"])] {
        let body = json!({"name": "Ada", "language": language}).to_string();
        let errors = expect_errors(&app, &body).await;
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0]["type"], "enum", "{language}");
        assert_eq!(errors[0]["input"], language);
    }
}

#[actix_web::test]
async fn a_body_that_is_not_an_object_is_refused() {
    let app = spawn_app();

    for body in ["[1]", "\"Ada\"", "42", "null"] {
        let errors = expect_errors(&app, body).await;
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0]["type"], "model_attributes_type", "{body}");
        assert_eq!(errors[0]["loc"], json!(["body"]));
        assert_eq!(
            errors[0]["input"],
            serde_json::from_str::<Value>(body).unwrap()
        );
    }
}

#[actix_web::test]
async fn malformed_json_is_json_invalid_at_its_position() {
    let app = spawn_app();

    for (body, position) in [
        (r#"{"name": }"#, 9),
        ("{'name': 'Ada'}", 1),
        ("{\"name\": \"Ada\"} x", 16),
    ] {
        let errors = expect_errors(&app, body).await;
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0]["type"], "json_invalid", "{body}");
        assert_eq!(errors[0]["loc"], json!(["body", position]), "{body}");
        assert_eq!(errors[0]["msg"], "JSON decode error");
        assert!(errors[0]["ctx"]["error"].is_string());
    }
}

#[actix_web::test]
async fn an_empty_body_is_missing() {
    let app = spawn_app();

    let errors = expect_errors(&app, "").await;

    assert_eq!(
        errors,
        [json!({"type": "missing", "loc": ["body"], "msg": "Field required", "input": null})]
    );
}

#[actix_web::test]
async fn a_body_not_declared_as_json_is_415() {
    let app = spawn_app();
    let body = r#"{"name": "Ada"}"#;

    for content_type in [
        None,
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
        Some("application/jsonx"),
        Some("nonsense"),
    ] {
        let reply = app.post("/greetings", content_type, body).await;
        assert_eq!(reply.status, 415, "{content_type:?}");
        assert_eq!(reply.header("content-type"), Some("application/json"));
        assert!(
            reply.json()["detail"]
                .as_str()
                .unwrap()
                .contains("application/json")
        );
    }
    for content_type in [
        "application/json; charset=utf-8",
        "application/merge-patch+json",
    ] {
        let reply = app.post("/greetings", Some(content_type), body).await;
        assert_eq!(reply.status, 200, "{content_type}");
    }
}

/// `{"name": "Ada", "pad": "xxx..."}` of exactly `size` bytes.
fn body_of_size(size: usize) -> String {
    let frame = r#"{"name": "Ada", "pad": ""}"#;
    let body = format!(
        r#"{{"name": "Ada", "pad": "{}"}}"#,
        "x".repeat(size - frame.len())
    );
    assert_eq!(body.len(), size);
    body
}

#[actix_web::test]
async fn the_body_limit_is_a_setting_enforced_at_its_edge() {
    let settings = test_settings();
    let app = spawn_app_with(greeter::config::ServeSettings {
        max_body: bytesize::ByteSize::b(1024),
        ..settings
    });

    let reply = app.post_json("/greetings", &body_of_size(1024)).await;
    assert_eq!(reply.status, 200, "{}", reply.text());

    let reply = app.post_json("/greetings", &body_of_size(1025)).await;
    assert_eq!(reply.status, 413);
    assert_eq!(reply.header("content-type"), Some("application/json"));
    assert_eq!(
        reply.json(),
        json!({"detail": "Payload Too Large: the request body exceeds the limit of 1024 bytes"})
    );
}

#[actix_web::test]
async fn the_default_body_limit_is_64_kib() {
    let app = spawn_app();

    assert_eq!(
        app.post_json("/greetings", &body_of_size(64 * 1024))
            .await
            .status,
        200
    );
    assert_eq!(
        app.post_json("/greetings", &body_of_size(64 * 1024 + 1))
            .await
            .status,
        413
    );
}

async fn read_status_line(stream: &mut TcpStream) -> String {
    let mut answer = vec![0; 4096];
    let read = tokio::time::timeout(Duration::from_secs(10), stream.read(&mut answer))
        .await
        .expect("no answer while the body was still unsent")
        .expect("read failed");
    String::from_utf8_lossy(&answer[..read])
        .lines()
        .next()
        .unwrap_or_default()
        .to_owned()
}

/// A declared 10 GB body is refused from its headers: the answer comes before any body byte.
#[actix_web::test]
async fn an_oversized_declared_body_is_refused_before_it_is_sent() {
    let app = spawn_app();
    let mut stream = TcpStream::connect(app.socket_address()).await.unwrap();

    stream
        .write_all(
            b"POST /greetings HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n\
              Content-Length: 10000000000\r\n\r\n",
        )
        .await
        .unwrap();

    assert_eq!(
        read_status_line(&mut stream).await,
        "HTTP/1.1 413 Payload Too Large"
    );
}

/// A chunked body with no declared length is refused as soon as it passes the limit, while the
/// client is still sending: the server never holds more than the limit.
#[actix_web::test]
async fn a_streamed_body_is_refused_once_it_passes_the_limit() {
    let app = spawn_app();
    let mut stream = TcpStream::connect(app.socket_address()).await.unwrap();
    stream
        .write_all(
            b"POST /greetings HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n\
              Transfer-Encoding: chunked\r\n\r\n",
        )
        .await
        .unwrap();

    let chunk = format!("{:x}\r\n{}\r\n", 16 * 1024, "x".repeat(16 * 1024));
    for _ in 0..5 {
        stream.write_all(chunk.as_bytes()).await.unwrap();
    }

    // 80 KiB sent, the final chunk never: only an early refusal can answer.
    assert_eq!(
        read_status_line(&mut stream).await,
        "HTTP/1.1 413 Payload Too Large"
    );
}

#[actix_web::test]
async fn a_broken_chunked_body_is_a_json_400() {
    let app = spawn_app();

    let answer = crate::helpers::raw_http(
        app.socket_address(),
        "POST /greetings HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n\
         Transfer-Encoding: chunked\r\nConnection: close\r\n\r\nzz\r\n{}\r\n0\r\n\r\n",
    )
    .await;

    // The app answers in JSON; actix-http may then add its own bodiless 400 and close.
    let (head, rest) = answer.split_once("\r\n\r\n").expect("no head");
    assert!(head.starts_with("HTTP/1.1 400"), "{head}");
    let head = head.to_ascii_lowercase();
    assert!(head.contains("content-type: application/json"), "{head}");
    let length: usize = head
        .lines()
        .find_map(|line| line.strip_prefix("content-length: "))
        .expect("no content-length")
        .trim()
        .parse()
        .unwrap();
    let body: Value = serde_json::from_str(&rest[..length]).unwrap();
    let detail = body["detail"].as_str().unwrap();
    assert!(
        [
            "Bad Request: the request body's encoding is broken",
            "Bad Request: the request body ended early"
        ]
        .contains(&detail),
        "{detail}"
    );
}

/// `GET /greetings`, the query twin of `POST /greetings`: the same rules, FastAPI's 422 with
/// `loc: ["query", ...]`, the last of a repeated parameter, unknown ones ignored.
#[actix_web::test]
async fn the_query_twin_greets_by_the_same_rules() {
    let app = crate::helpers::spawn_app_with_delay(std::time::Duration::ZERO);

    let reply = app
        .get("/greetings?name=Zo%C3%AB+Ada&language=es&utm=x")
        .await;
    assert_eq!(reply.status, 200);
    assert_eq!(
        reply.json(),
        serde_json::json!({"message": "¡Hola, Zoë Ada!", "language": "es"})
    );
    let reply = app.get("/greetings?name=First&name=Last").await;
    assert_eq!(
        reply.json()["message"],
        "Hello, Last!",
        "the last one counts"
    );

    let reply = app.get("/greetings?language=xx").await;
    assert_eq!(reply.status, 422);
    assert_eq!(
        reply.json(),
        serde_json::json!({"detail": [
            {"type": "missing", "loc": ["query", "name"], "msg": "Field required", "input": null},
            {"type": "enum", "loc": ["query", "language"],
             "msg": "Input should be 'en', 'fr', 'es', 'de' or 'ja'", "input": "xx",
             "ctx": {"expected": "'en', 'fr', 'es', 'de' or 'ja'"}}]})
    );
    let long = "a".repeat(65);
    let reply = app.get(&format!("/greetings?name={long}")).await;
    assert_eq!(reply.status, 422);
    assert_eq!(reply.json()["detail"][0]["type"], "string_too_long");
    assert_eq!(
        reply.json()["detail"][0]["loc"],
        serde_json::json!(["query", "name"])
    );
    let reply = app.get("/greetings?name=a%07b").await;
    assert_eq!(reply.status, 422, "a control character");
    let reply = app.get("/greetings?name=").await;
    assert_eq!(reply.json()["detail"][0]["type"], "string_too_short");
}

/// `POST /greetings` of a JSON body declared as in the content `coding`.
async fn post_encoded(app: &TestApp, coding: &str) -> Reply {
    Reply::from(
        app.client
            .post(app.url("/greetings"))
            .insert_header(("content-type", "application/json"))
            .insert_header(("content-encoding", coding))
            .send_body(r#"{"name": "Ada"}"#)
            .await
            .expect("request failed"),
    )
    .await
}

/// A body in a content coding greeter does not decode is `415` with a detail naming it and
/// `Accept-Encoding: identity` (RFC 9110 §15.5.16), never parsed as if it were plain.
#[actix_web::test]
async fn a_compressed_body_is_415_naming_its_coding() {
    let app = spawn_app();
    for coding in ["gzip", "br", "deflate, gzip", "x-made-up"] {
        let reply = post_encoded(&app, coding).await;
        assert_eq!(reply.status, 415, "{coding}");
        assert_eq!(
            reply.header("accept-encoding"),
            Some("identity"),
            "{coding}"
        );
        let detail = reply.json()["detail"].as_str().unwrap().to_owned();
        assert!(
            detail.contains("Content-Encoding") && detail.contains(coding),
            "{coding}: {detail}"
        );
    }
    for coding in ["identity", "IDENTITY", "identity, identity", ""] {
        let reply = post_encoded(&app, coding).await;
        assert_eq!(reply.status, 200, "{coding:?}");
    }
    // A coding on a second line counts too.
    let answer = crate::helpers::raw_http(
        app.socket_address(),
        "POST /greetings HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\
         Content-Type: application/json\r\nContent-Encoding: identity\r\n\
         Content-Encoding: gzip\r\nContent-Length: 2\r\n\r\n{}",
    )
    .await;
    assert!(answer.starts_with("HTTP/1.1 415"), "{answer}");
}

/// A query value is decoded by the path's rule: a `%` that starts no escape is a 422
/// `percent_encoding`, bytes that are not UTF-8 a 422 `string_unicode`, each with the value as
/// sent, never greeted as a name the client did not send (U+FFFD, or the `%` as is).
#[actix_web::test]
async fn a_query_value_is_decoded_by_the_paths_rule() {
    let app = spawn_app();
    for (query, kind, field, input) in [
        ("name=%FF%FE", "string_unicode", "name", "%FF%FE"),
        ("name=Ada%C3", "string_unicode", "name", "Ada%C3"),
        (
            "name=Ada&language=%E9s",
            "string_unicode",
            "language",
            "%E9s",
        ),
        ("name=Ada%", "percent_encoding", "name", "Ada%"),
        ("name=%GG", "percent_encoding", "name", "%GG"),
        (
            "name=Ada&language=f%r",
            "percent_encoding",
            "language",
            "f%r",
        ),
    ] {
        let reply = app.get(&format!("/greetings?{query}")).await;
        assert_eq!(reply.status, 422, "{query}");
        let error = &reply.json()["detail"][0];
        assert_eq!(error["type"], kind, "{query}");
        assert_eq!(error["loc"], serde_json::json!(["query", field]), "{query}");
        assert_eq!(error["input"], input, "{query}");
    }
    for (path, kind) in [
        ("/hello/%FF", "string_unicode"),
        ("/hello/Ada%", "percent_encoding"),
    ] {
        assert_eq!(
            app.get(path).await.json()["detail"][0]["type"],
            kind,
            "{path}"
        );
    }
}
