//! Property test: for any string, `GET /hello/{name}` answers 200 with exactly that name or 422,
//! nothing else, and which one is the rule the spec documents (1 to 64 characters, no control
//! characters).

use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use proptest::prelude::*;
use serde_json::{Value, json};

use crate::helpers::{get_request, raw_http_blocking, spawn_app_in_thread, test_settings};

fn follows_the_documented_rule(name: &str) -> bool {
    let chars = name.chars().count();
    (1..=64).contains(&chars) && !name.chars().any(char::is_control)
}

fn names() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "\\PC{55,70}",
        "[a-z\u{0}-\u{1F}\u{7F}-\u{9F}\u{A0}é日𝄞/%+?#&= ]{0,8}",
    ]
}

#[test]
fn hello_answers_the_exact_name_or_422_as_the_rule_says() {
    let address = spawn_app_in_thread(greeter::config::ServeSettings {
        io_delay: std::time::Duration::ZERO.into(),
        ..test_settings()
    });

    proptest!(ProptestConfig::with_cases(300), |(name in names())| {
        let path = format!("/hello/{}", utf8_percent_encode(&name, NON_ALPHANUMERIC));
        let answer = raw_http_blocking(&address, &get_request(&path)).expect("request failed");
        let (head, body) = answer.split_once("\r\n\r\n").expect("no end of headers");
        let body: Value = serde_json::from_str(body).expect("body is not JSON");

        if follows_the_documented_rule(&name) {
            prop_assert!(head.starts_with("HTTP/1.1 200 "), "{name:?}: {head}");
            prop_assert_eq!(body, json!({"Hello": name}));
        } else {
            prop_assert!(head.starts_with("HTTP/1.1 422 "), "{name:?}: {head}");
            prop_assert_eq!(&body["detail"][0]["loc"], &json!(["path", "name"]));
            prop_assert_eq!(&body["detail"][0]["input"], &json!(name));
        }
    });
}
