//! Generates the client with progenitor, into `$OUT_DIR/client.rs`, from the OpenAPI 3.0 document
//! at `$GREETER_CLIENT_SPEC` (the test saves a keyed server's there), else openapi/openapi-3.0.json.
//!
//! progenitor needs every error response of an operation to share one schema (its open issues
//! #344 and #950); greeter's `POST /greetings` answers `ErrorBody` for 400/413/415 and
//! `HTTPValidationError` for 422. Before generating, each such operation gets one error schema,
//! `<OperationId>Error`, that is `oneOf` the schemas it can answer, so nothing is dropped.

use std::collections::BTreeSet;
use std::path::Path;

use serde_json::{Value, json};

const COMMITTED_SPEC: &str = "../../../openapi/openapi-3.0.json";

fn main() {
    println!("cargo:rerun-if-env-changed=GREETER_CLIENT_SPEC");
    let spec_path = std::env::var("GREETER_CLIENT_SPEC").unwrap_or_else(|_| COMMITTED_SPEC.into());
    println!("cargo:rerun-if-changed={spec_path}");
    let text = std::fs::read_to_string(&spec_path).expect("cannot read the 3.0 spec");
    let mut spec: Value = serde_json::from_str(&text).expect("the spec is JSON");
    merge_error_responses(&mut spec);

    let spec: openapiv3::OpenAPI = serde_json::from_value(spec).expect("the spec is OpenAPI 3.0");
    let mut settings = progenitor::GenerationSettings::new();
    settings.with_interface(progenitor::InterfaceStyle::Builder);
    let mut generator = progenitor::Generator::new(&settings);
    let tokens = generator
        .generate_tokens(&spec)
        .expect("progenitor cannot generate the client");
    let code = prettyplease::unparse(&syn::parse2(tokens).expect("generated code parses"));
    let out = Path::new(&std::env::var("OUT_DIR").unwrap()).join("client.rs");
    std::fs::write(out, code).expect("cannot write the client");
}

/// Gives each operation whose error responses use several schemas a single `oneOf` of them.
fn merge_error_responses(spec: &mut Value) {
    let mut merged = Vec::new();
    for item in spec["paths"].as_object_mut().unwrap().values_mut() {
        for operation in item.as_object_mut().unwrap().values_mut() {
            let Some(responses) = operation
                .get_mut("responses")
                .and_then(Value::as_object_mut)
            else {
                continue;
            };
            let error_schemas = |responses: &serde_json::Map<String, Value>| -> BTreeSet<String> {
                responses
                    .iter()
                    .filter(|(status, _)| status.starts_with('4') || status.starts_with('5'))
                    .filter_map(|(_, r)| {
                        r["content"]["application/json"]["schema"]["$ref"].as_str()
                    })
                    .map(str::to_owned)
                    .collect()
            };
            let refs = error_schemas(responses);
            if refs.len() < 2 {
                continue;
            }
            let id = operation["operationId"].as_str().unwrap();
            let name = format!("{}Error", camel_case(id));
            let reference = format!("#/components/schemas/{name}");
            for (status, response) in operation["responses"].as_object_mut().unwrap() {
                if status.starts_with('4') || status.starts_with('5') {
                    response["content"]["application/json"]["schema"] = json!({"$ref": reference});
                }
            }
            merged.push((name, refs));
        }
    }
    for (name, refs) in merged {
        let one_of: Vec<Value> = refs.into_iter().map(|r| json!({"$ref": r})).collect();
        spec["components"]["schemas"][name] = json!({"oneOf": one_of});
    }
}

fn camel_case(snake: &str) -> String {
    snake
        .split('_')
        .map(|word| {
            let mut chars = word.chars();
            chars
                .next()
                .map(|c| c.to_uppercase().chain(chars).collect::<String>())
                .unwrap_or_default()
        })
        .collect()
}
