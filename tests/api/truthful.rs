//! The served document describes the server that serves it: security only where API keys are
//! on, and prose that reads as prose in Swagger UI, ReDoc and generated docstrings.

use std::time::Duration;

use greeter::config::ServeSettings;
use greeter::config::api_keys::Secret;
use serde_json::Value;

use crate::helpers::{EDITIONS, TestApp, spawn_app_with, test_settings};

const KEY: &str = "truthful-key-0123456789";

fn server(api_keys: bool) -> TestApp {
    spawn_app_with(ServeSettings {
        api_keys_env: api_keys.then(|| Secret::new(KEY)),
        io_delay: Duration::ZERO.into(),
        ..test_settings()
    })
}

/// Every operation of `spec`, as `(METHOD path, operation)`.
fn operations(spec: &Value) -> Vec<(String, &Value)> {
    let mut found = Vec::new();
    for (path, item) in spec["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            found.push((format!("{} {path}", method.to_uppercase()), operation));
        }
    }
    found
}

#[actix_web::test]
async fn without_keys_the_document_asks_for_none() {
    let app = server(false);
    for (_, _, served_at) in EDITIONS {
        let spec = app.get(served_at).await.json();
        assert!(
            spec["components"].get("securitySchemes").is_none(),
            "{served_at}: {}",
            spec["components"]
        );
        assert!(spec.get("security").is_none(), "{served_at}");
        for (operation, body) in operations(&spec) {
            assert!(body.get("security").is_none(), "{served_at} {operation}");
            assert!(
                body["responses"].get("401").is_none(),
                "{served_at} {operation} documents a 401 the server never sends"
            );
        }
    }
}

#[actix_web::test]
async fn with_keys_every_api_operation_requires_one_and_the_probes_none() {
    let app = server(true);
    for (_, _, served_at) in EDITIONS {
        let spec = app.get(served_at).await.json();
        assert_eq!(
            spec["components"]["securitySchemes"]["bearerAuth"]["scheme"], "bearer",
            "{served_at}"
        );
        for (operation, body) in operations(&spec) {
            let public = operation.ends_with("/healthz") || operation.ends_with("/readyz");
            let expected = if public {
                serde_json::json!([])
            } else {
                serde_json::json!([{"bearerAuth": []}])
            };
            assert_eq!(body["security"], expected, "{served_at} {operation}");
            assert_eq!(
                body["responses"].get("401").is_some(),
                !public,
                "{served_at} {operation}"
            );
        }
    }
}

/// Each description and summary in `value`, with where it is.
fn prose<'a>(value: &'a Value, at: String, found: &mut Vec<(String, &'a str)>) {
    match value {
        Value::Object(map) => {
            for (key, item) in map {
                match (key.as_str(), item) {
                    ("description" | "summary", Value::String(text)) => {
                        found.push((format!("{at}/{key}"), text));
                    }
                    _ => prose(item, format!("{at}/{key}"), found),
                }
            }
        }
        Value::Array(items) => {
            for (index, item) in items.iter().enumerate() {
                prose(item, format!("{at}/{index}"), found);
            }
        }
        _ => {}
    }
}

/// No rustdoc link syntax (``[`Name`]``, `[Name]` with no URL) in any description or summary of
/// either edition, keys on or off; the servers' descriptions, shown as plain text in Swagger
/// UI's server menu, hold no Markdown at all.
#[actix_web::test]
async fn every_description_reads_as_prose() {
    let rustdoc_link = regex::Regex::new(r"\[`?[A-Za-z_:]+`?\](?:[^(]|$)").unwrap();
    for api_keys in [false, true] {
        let app = server(api_keys);
        for (_, _, served_at) in EDITIONS {
            let spec = app.get(served_at).await.json();
            let mut found = Vec::new();
            prose(&spec, String::new(), &mut found);
            assert!(found.len() > 50, "{served_at}: only {} texts", found.len());
            for (at, text) in &found {
                assert!(
                    !rustdoc_link.is_match(text),
                    "{served_at}{at} (keys {api_keys}) holds rustdoc link syntax: {text:?}"
                );
            }
            for server in spec["servers"].as_array().unwrap() {
                let text = server["description"].as_str().unwrap_or_default();
                assert!(
                    !text.contains(['`', '*', '[', '_']),
                    "{served_at} servers: {text:?}"
                );
            }
        }
    }
}
