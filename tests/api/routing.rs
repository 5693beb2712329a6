//! One route table: actix-web's router. A path whose letters are percent-encoded routes like its
//! decoded twin, for every guard (a body on `GET`), for `404` and for `405` with `Allow`.

use serde_json::json;

use crate::helpers::{raw_http, spawn_app};

/// `METHOD target` with `extra` headers and no body, on a connection closed after the answer;
/// returns the status line, the headers (lowercase) and the body.
async fn ask(socket: &str, method: &str, target: &str, extra: &str) -> (String, String, String) {
    let answer = raw_http(
        socket,
        &format!("{method} {target} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n{extra}\r\n"),
    )
    .await;
    let (head, body) = answer.split_once("\r\n\r\n").expect("no head");
    let (status, headers) = head.split_once("\r\n").unwrap_or((head, ""));
    (
        status.to_owned(),
        headers.to_ascii_lowercase(),
        body.to_owned(),
    )
}

/// `path` with the letter after its first `/` percent-encoded: `/healthz` → `/%68ealthz`.
fn encoded(path: &str) -> String {
    let first = path.as_bytes()[1];
    format!("/%{first:02X}{}", &path[2..])
}

#[actix_web::test]
async fn an_encoded_path_is_answered_as_its_decoded_twin() {
    let app = spawn_app();
    let socket = app.socket_address();
    let with_body = "Content-Length: 2\r\n\r\n{}";
    let cases = [
        // (method, path, extra headers (and body))
        ("GET", "/healthz", ""),
        ("GET", "/healthz", with_body),
        ("HEAD", "/healthz", with_body),
        ("POST", "/healthz", ""),
        ("DELETE", "/hello/Ada", ""),
        ("GET", "/hello/Ada", with_body),
        ("GET", "/greetings", ""),
        ("GET", "/greetings", with_body),
        ("GET", "/openapi.json", with_body),
        ("PUT", "/openapi.json", ""),
        ("GET", "/docs/index.html", with_body),
        ("POST", "/docs/", ""),
        ("GET", "/nope", ""),
        ("POST", "/nope", with_body),
    ];
    for (method, path, extra) in cases {
        let plain = ask(socket, method, path, extra).await;
        let twin = encoded(path);
        let answer = ask(socket, method, &twin, extra).await;

        assert_eq!(answer.0, plain.0, "{method} {twin} vs {method} {path}");
        let allow = |headers: &str| {
            headers
                .lines()
                .find(|line| line.starts_with("allow:"))
                .map(str::to_owned)
        };
        assert_eq!(allow(&answer.1), allow(&plain.1), "{method} {twin}");
        if !plain.2.starts_with("<") {
            assert_eq!(answer.2, plain.2, "{method} {twin}");
        }
    }
}

#[actix_web::test]
async fn a_body_on_get_is_refused_by_the_route_that_matched() {
    let app = spawn_app();
    let socket = app.socket_address();
    let with_body = "Content-Length: 2\r\n\r\n{}";

    for target in ["/healthz", "/heal%74hz", "/", "/hello/Ada", "/hello/%41da"] {
        let (status, _, body) = ask(socket, "GET", target, with_body).await;
        assert_eq!(status, "HTTP/1.1 400 Bad Request", "{target}");
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(&body).unwrap(),
            json!({"detail": "Bad Request: a GET request cannot carry a body"}),
            "{target}"
        );
    }
    // A method the path has no route for answers its 405, and an unknown path its 404, body
    // or not.
    let (status, headers, _) = ask(socket, "PUT", "/healthz", with_body).await;
    assert_eq!(status, "HTTP/1.1 405 Method Not Allowed");
    assert!(
        headers.contains("allow: get, head\r\n") || headers.ends_with("allow: get, head"),
        "{headers}"
    );
    let (status, _, _) = ask(socket, "GET", "/nope", with_body).await;
    assert_eq!(status, "HTTP/1.1 404 Not Found");
}

#[actix_web::test]
async fn a_wrong_method_on_an_encoded_path_gets_405_with_allow() {
    let app = spawn_app();
    let (status, headers, body) = ask(app.socket_address(), "POST", "/heal%74hz", "").await;

    assert_eq!(status, "HTTP/1.1 405 Method Not Allowed");
    assert!(headers.contains("allow: get, head"), "{headers}");
    assert_eq!(body, r#"{"detail":"Method Not Allowed"}"#);
}
