//! Hostile input over raw TCP: each case gets a clear 4xx (JSON where the app answers; the HTTP
//! layer's own refusals of unparseable requests carry no body) or a closed connection, never a
//! 5xx or a crash, while a well-behaved client on another connection is served throughout.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::spawn_app;

/// Each case: a name, the raw bytes, and whether the app itself answers (so the body is JSON).
/// Any answer with a body is checked as the app's, whether or not the app must answer.
fn cases() -> Vec<(&'static str, Vec<u8>, bool)> {
    let head =
        |extra: &str| format!("GET /healthz HTTP/1.1\r\nHost: t\r\n{extra}\r\n").into_bytes();
    let post = |extra: &str, body: &str| {
        format!("POST /greetings HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n{extra}\r\n{body}")
            .into_bytes()
    };
    let get = |target: &str| format!("GET {target} HTTP/1.1\r\nHost: t\r\n\r\n").into_bytes();
    vec![
        ("malformed request line", b"GARBAGE\r\n\r\n".to_vec(), false),
        (
            "request line with no version",
            b"GET /\r\n\r\n".to_vec(),
            false,
        ),
        (
            "unknown HTTP version",
            b"GET / HTTP/9.9\r\nHost: t\r\n\r\n".to_vec(),
            false,
        ),
        (
            "invalid method token",
            b"G(T / HTTP/1.1\r\nHost: t\r\n\r\n".to_vec(),
            false,
        ),
        ("header without a colon", head("Bad Header\r\n"), false),
        (
            "control byte in a header value",
            head("X-A: a\x01b\r\n"),
            false,
        ),
        ("NUL in a header name", head("X\0A: b\r\n"), false),
        (
            "obsolete line folding",
            head("X-A: a\r\n folded\r\n"),
            false,
        ),
        (
            "NUL in the path",
            b"GET /he\0llo HTTP/1.1\r\nHost: t\r\n\r\n".to_vec(),
            false,
        ),
        (
            "space in the path",
            b"GET /a b HTTP/1.1\r\nHost: t\r\n\r\n".to_vec(),
            false,
        ),
        (
            "Content-Length with Transfer-Encoding (smuggling)",
            post(
                "Content-Length: 4\r\nTransfer-Encoding: chunked\r\n",
                "0\r\n\r\n",
            ),
            false,
        ),
        (
            "two different Content-Lengths",
            post("Content-Length: 2\r\nContent-Length: 3\r\n", "{}"),
            false,
        ),
        (
            "negative Content-Length",
            post("Content-Length: -1\r\n", ""),
            false,
        ),
        (
            "non-numeric Content-Length",
            post("Content-Length: 1e3\r\n", ""),
            false,
        ),
        (
            "enormous Content-Length",
            post("Content-Length: 99999999999999999999999\r\n", ""),
            false,
        ),
        (
            "broken chunk size",
            post("Transfer-Encoding: chunked\r\n", "zz\r\n{}\r\n0\r\n\r\n"),
            false,
        ),
        (
            "a chunked body cut short",
            post("Transfer-Encoding: chunked\r\n", "10\r\n{\"na"),
            true,
        ),
        (
            "overflowing chunk size",
            post("Transfer-Encoding: chunked\r\n", "fffffffffffffffffff\r\n"),
            false,
        ),
        (
            "unknown transfer coding",
            post("Transfer-Encoding: gzip, chunked\r\n", "0\r\n\r\n"),
            false,
        ),
        ("over 96 headers", head(&"X-H: v\r\n".repeat(100)), false),
        (
            "a head over 128 KiB",
            head(&format!("X-Big: {}\r\n", "b".repeat(140 * 1024))),
            false,
        ),
        (
            "a head over 8 KiB",
            head(&format!("X-Big: {}\r\n", "b".repeat(9 * 1024))),
            true,
        ),
        (
            "a URL over 4 KiB",
            get(&format!("/healthz?{}", "q".repeat(5000))),
            true,
        ),
        (
            "invalid percent-encoding in a name",
            get("/hello/%E2%28%ZZ"),
            true,
        ),
        ("invalid UTF-8 in a name", get("/hello/%C3%28"), true),
        (
            "an overlong UTF-8 encoding of /",
            get("/hello/%C0%AF"),
            true,
        ),
        (
            "a body on GET",
            head("Content-Length: 5\r\n\r\nhello"),
            true,
        ),
        (
            "a chunked body on GET",
            head("Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n"),
            true,
        ),
        (
            "malformed JSON body",
            post("Content-Length: 8\r\n", "{\"name\":"),
            true,
        ),
        (
            "JSON nested 10,000 deep",
            post(
                &format!("Content-Length: {}\r\n", 20_000),
                &format!("{}{}", "[".repeat(10_000), "]".repeat(10_000)),
            ),
            true,
        ),
        (
            "invalid UTF-8 in a JSON body",
            post("Content-Length: 14\r\n", "{\"name\":\"\u{FFFD}\"}")
                .into_iter()
                .map(|b| if b == 0xEF { 0xFF } else { b })
                .collect(),
            true,
        ),
    ]
}

/// The status each case must get: `431`/`414` for the head limits, `422` for input the API
/// validates, `400` for everything else.
fn expected_status(name: &str) -> u16 {
    match name {
        "over 96 headers" | "a head over 128 KiB" | "a head over 8 KiB" => 431,
        "a URL over 4 KiB" => 414,
        "invalid percent-encoding in a name"
        | "invalid UTF-8 in a name"
        | "an overlong UTF-8 encoding of /"
        | "malformed JSON body"
        | "JSON nested 10,000 deep"
        | "invalid UTF-8 in a JSON body" => 422,
        _ => 400,
    }
}

/// What the server did with `bytes`: the answer's status line and body, or "" if it closed.
async fn send(address: &str, bytes: &[u8]) -> (String, String) {
    let mut stream = TcpStream::connect(address).await.expect("connect failed");
    // The server may refuse before reading everything, so a failed write is not a failure.
    let _ = stream.write_all(bytes).await;
    let _ = stream.shutdown().await;
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut answer))
        .await
        .expect("the server neither answered nor closed the connection");
    let answer = String::from_utf8_lossy(&answer).into_owned();
    let (head, body) = answer.split_once("\r\n\r\n").unwrap_or((&answer, ""));
    (head.to_owned(), body.to_owned())
}

#[actix_web::test]
async fn hostile_input_gets_a_clear_4xx_or_a_closed_connection() {
    let app = spawn_app();

    let cases = cases();
    let mut bystander_served = 0;
    for (name, bytes, app_answers) in &cases {
        let (head, body) = send(app.socket_address(), bytes).await;
        let status = head.lines().next().unwrap_or_default().to_owned();
        println!(
            "{name}: {}",
            if status.is_empty() {
                "connection closed"
            } else {
                &status
            }
        );
        // A well-behaved client on its own (kept-alive) connection is served after every case.
        let bystander = app.get("/healthz").await;
        assert_eq!(
            bystander.status, 200,
            "the bystander was not served after {name}"
        );
        bystander_served += 1;
        if status.is_empty() {
            assert!(
                !app_answers,
                "{name}: the connection closed without an answer"
            );
            continue;
        }
        let expected = expected_status(name);
        assert!(
            status.starts_with(&format!("HTTP/1.1 {expected} ")),
            "{name}: {status}, expected {expected}"
        );
        if !body.is_empty() || *app_answers {
            assert!(
                head.to_ascii_lowercase()
                    .contains("content-type: application/json"),
                "{name}: {head}"
            );
            let json: serde_json::Value =
                serde_json::from_str(&body).unwrap_or_else(|_| panic!("{name}: {body:?}"));
            assert_detail_is_greeters_own(name, &status, &json);
        }
        // Where actix-http refuses a broken body while the app reads it, either may answer.
        assert!(
            !body.is_empty() || !app_answers,
            "{name}: no body in {head}"
        );
    }

    assert_eq!(bystander_served, cases.len());
    println!(
        "{} hostile cases refused; the bystander was served after each",
        cases.len()
    );
    // And the server is still whole.
    assert_eq!(app.get("/").await.status, 200);
}

/// A `detail` in greeter's own words: it starts with the status's reason phrase and carries no
/// framework `Debug` text (`None`, `Some(..)`, `Os { .. }`, `Kind`, ...).
fn assert_detail_is_greeters_own(name: &str, status_line: &str, json: &serde_json::Value) {
    let detail = &json["detail"];
    if detail.is_array() {
        return; // a 422 list, checked field by field elsewhere
    }
    let detail = detail
        .as_str()
        .unwrap_or_else(|| panic!("{name}: no detail in {json}"));
    let reason = status_line.splitn(3, ' ').nth(2).unwrap_or_default();
    assert!(
        detail.starts_with(reason),
        "{name}: {detail:?} does not start with {reason:?}"
    );
    for debug_text in [
        "None", "Some(", "Os {", "Kind", "Error {", "EOF", "payload", "{:?}",
    ] {
        assert!(
            !detail.contains(debug_text),
            "{name}: framework text {debug_text:?} in {detail:?}"
        );
    }
}
