use std::collections::HashSet;
use std::process::Command;

use greeter::api_doc::{openapi, to_json};
use serde_json::Value;
use similar::TextDiff;

use crate::helpers::{project_root, skip, spawn_app};

const COMMITTED_SPEC: &str = "openapi/openapi.json";

fn generated() -> Value {
    serde_json::from_str(&to_json(&openapi())).unwrap()
}

fn operations(spec: &Value) -> Vec<(String, String, Value)> {
    let mut found = Vec::new();
    for (path, item) in spec["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            found.push((method.to_uppercase(), path.clone(), operation.clone()));
        }
    }
    found
}

#[test]
fn committed_spec_matches_the_code() {
    let path = project_root().join(COMMITTED_SPEC);
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    let generated = to_json(&openapi());

    if committed != generated {
        let diff = TextDiff::from_lines(&committed, &generated);
        panic!(
            "{COMMITTED_SPEC} differs from what the code generates; refresh it with `make openapi` \
             and review the change.\n{}",
            diff.unified_diff().header(COMMITTED_SPEC, "generated")
        );
    }
}

#[actix_web::test]
async fn the_served_spec_is_the_generated_one() {
    let app = spawn_app();

    let reply = app.get("/openapi.json").await;

    assert_eq!(reply.status, 200);
    assert_eq!(reply.header("content-type"), Some("application/json"));
    assert_eq!(reply.text(), to_json(&openapi()));
}

#[test]
fn the_spec_is_openapi_3_1_with_info_from_cargo() {
    let spec = generated();

    assert_eq!(spec["openapi"], "3.1.0");
    assert_eq!(spec["info"]["title"], env!("CARGO_PKG_NAME"));
    assert_eq!(spec["info"]["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(spec["info"]["description"], env!("CARGO_PKG_DESCRIPTION"));
    assert_eq!(spec["info"]["license"]["name"], env!("CARGO_PKG_LICENSE"));
    assert_eq!(
        spec["info"]["license"]["identifier"],
        env!("CARGO_PKG_LICENSE")
    );
}

#[test]
fn every_route_is_documented() {
    let mut documented: Vec<String> = operations(&generated())
        .into_iter()
        .map(|(m, p, _)| format!("{m} {p}"))
        .collect();
    documented.sort();

    assert_eq!(documented, ["GET /", "GET /healthz"]);
}

#[test]
fn operation_ids_are_unique_snake_case_verb_noun() {
    let mut seen = HashSet::new();
    for (method, path, operation) in operations(&generated()) {
        let id = operation["operationId"].as_str().unwrap_or_default();
        let verb = method.to_lowercase();
        assert!(
            id.starts_with(&format!("{verb}_"))
                && id.len() > verb.len() + 1
                && id
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
                && !id.contains("__")
                && !id.ends_with('_'),
            "{method} {path}: operationId {id:?} is not `{verb}_<noun>` in snake_case"
        );
        assert!(seen.insert(id.to_owned()), "duplicate operationId {id:?}");
    }
}

#[test]
fn every_operation_has_summary_description_and_a_declared_tag() {
    let spec = generated();
    let declared: HashSet<&str> = spec["tags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    for tag in spec["tags"].as_array().unwrap() {
        assert!(
            !tag["description"].as_str().unwrap_or_default().is_empty(),
            "{tag}"
        );
    }

    for (method, path, operation) in operations(&spec) {
        assert!(
            !operation["summary"].as_str().unwrap_or_default().is_empty(),
            "{method} {path}"
        );
        assert!(
            !operation["description"]
                .as_str()
                .unwrap_or_default()
                .is_empty(),
            "{method} {path}"
        );
        let tags = operation["tags"].as_array().expect("no tags");
        assert!(!tags.is_empty(), "{method} {path} has no tag");
        for tag in tags {
            assert!(
                declared.contains(tag.as_str().unwrap()),
                "{method} {path}: undeclared {tag}"
            );
        }
    }
}

#[test]
fn every_response_has_a_description() {
    for (method, path, operation) in operations(&generated()) {
        let responses = operation["responses"].as_object().expect("no responses");
        assert!(!responses.is_empty(), "{method} {path}");
        for (status, response) in responses {
            assert!(
                !response["description"]
                    .as_str()
                    .unwrap_or_default()
                    .is_empty(),
                "{method} {path} {status} has no description"
            );
        }
    }
}

#[test]
fn greeting_schema_requires_a_string_hello_with_an_example() {
    let spec = generated();
    let root_200 = &spec["paths"]["/"]["get"]["responses"]["200"]["content"]["application/json"];
    assert_eq!(root_200["schema"]["$ref"], "#/components/schemas/Greeting");

    let greeting = &spec["components"]["schemas"]["Greeting"];
    assert_eq!(greeting["type"], "object");
    assert_eq!(greeting["required"], serde_json::json!(["Hello"]));
    assert_eq!(greeting["properties"]["Hello"]["type"], "string");
    assert_eq!(greeting["properties"]["Hello"]["example"], "World");
}

#[test]
fn healthz_is_documented_under_the_health_tag() {
    let spec = generated();
    assert_eq!(
        spec["paths"]["/healthz"]["get"]["tags"],
        serde_json::json!(["health"])
    );
}

/// openapi-spec-validator (PyPI), installed by `make test` into the project's `.venv`.
#[test]
fn committed_spec_passes_openapi_spec_validator() {
    let validator = project_root().join(".venv/bin/openapi-spec-validator");
    if !validator.exists() {
        return skip(&format!(
            "{} is missing; `make test` installs it",
            validator.display()
        ));
    }

    let output = Command::new(&validator)
        .arg(project_root().join(COMMITTED_SPEC))
        .output()
        .expect("cannot run openapi-spec-validator");

    assert!(
        output.status.success(),
        "openapi-spec-validator rejected {COMMITTED_SPEC}:\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}
