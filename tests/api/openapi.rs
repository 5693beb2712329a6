use std::collections::HashSet;
use std::process::Command;

use greeter::api_doc::{SpecVersion, openapi};
use serde_json::Value;
use similar::TextDiff;

use crate::helpers::{project_root, skip, spawn_app};

fn rendered(version: SpecVersion) -> String {
    version.render(&openapi()).expect("the document converts")
}

fn generated() -> Value {
    serde_json::from_str(&rendered(SpecVersion::V3_1)).unwrap()
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
fn committed_specs_match_the_code() {
    for version in SpecVersion::ALL {
        let file = version.committed_file();
        let committed = std::fs::read_to_string(project_root().join(file)).unwrap_or_default();
        let generated = rendered(version);

        if committed != generated {
            let diff = TextDiff::from_lines(&committed, &generated);
            panic!(
                "{file} differs from what the code generates; refresh it with `make openapi` \
                 and review the change.\n{}",
                diff.unified_diff().header(file, "generated")
            );
        }
    }
}

#[actix_web::test]
async fn the_served_specs_are_the_generated_ones() {
    let app = spawn_app();

    for version in SpecVersion::ALL {
        let reply = app.get(&version.url_path()).await;

        assert_eq!(reply.status, 200, "{version:?}");
        assert_eq!(reply.header("content-type"), Some("application/json"));
        assert_eq!(reply.text(), rendered(version), "{version:?}");
    }
}

#[test]
fn the_3_0_edition_describes_the_same_api_in_openapi_3_0() {
    let v31 = generated();
    let v30: Value = serde_json::from_str(&rendered(SpecVersion::V3_0)).unwrap();

    assert_eq!(v30["openapi"], "3.0.3");
    let operations_of = |spec: &Value| -> Vec<(String, String, Value)> {
        operations(spec)
            .into_iter()
            .map(|(m, p, op)| (m, p, op["operationId"].clone()))
            .collect()
    };
    assert_eq!(operations_of(&v30), operations_of(&v31));
    let schema_names = |spec: &Value| -> Vec<String> {
        spec["components"]["schemas"]
            .as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect()
    };
    assert_eq!(schema_names(&v30), schema_names(&v31));
    assert_eq!(
        v30["info"]["license"]["url"],
        "https://spdx.org/licenses/MIT.html"
    );
    let text = rendered(SpecVersion::V3_0);
    for construct in ["\"examples\"", "\"const\"", "\"identifier\"", "\"null\""] {
        assert!(
            !text.contains(construct),
            "the 3.0 edition still has {construct}"
        );
    }
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

    assert_eq!(
        documented,
        [
            "GET /",
            "GET /healthz",
            "GET /hello/{name}",
            "POST /greetings"
        ]
    );
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

#[test]
fn every_operation_lists_every_status_it_can_return() {
    let spec = generated();
    for (method, path, statuses) in [
        ("get", "/", &["200"][..]),
        ("get", "/healthz", &["200"][..]),
        ("get", "/hello/{name}", &["200", "422"][..]),
        (
            "post",
            "/greetings",
            &["200", "400", "413", "415", "422"][..],
        ),
    ] {
        let documented: Vec<&str> = spec["paths"][path][method]["responses"]
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(documented, statuses, "{method} {path}");
    }
}

#[test]
fn errors_use_fastapis_schema_names() {
    let spec = generated();
    let schemas = &spec["components"]["schemas"];
    let reference = |path: &str, method: &str, status: &str| {
        spec["paths"][path][method]["responses"][status]["content"]["application/json"]["schema"]
            ["$ref"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    };

    assert_eq!(
        reference("/hello/{name}", "get", "422"),
        "#/components/schemas/HTTPValidationError"
    );
    assert_eq!(
        reference("/greetings", "post", "422"),
        "#/components/schemas/HTTPValidationError"
    );
    for status in ["400", "413", "415"] {
        assert_eq!(
            reference("/greetings", "post", status),
            "#/components/schemas/ErrorBody"
        );
    }
    assert_eq!(
        schemas["HTTPValidationError"]["properties"]["detail"]["items"]["$ref"],
        "#/components/schemas/ValidationError"
    );
    let required = &schemas["ValidationError"]["required"];
    for field in ["loc", "msg", "type", "input"] {
        assert!(
            required.as_array().unwrap().contains(&field.into()),
            "{field} not required"
        );
    }
    assert_eq!(
        schemas["ErrorBody"]["required"],
        serde_json::json!(["detail"])
    );
}

/// The schema states the very constants the server checks against.
#[test]
fn name_rules_in_the_spec_are_the_ones_enforced() {
    use greeter::domain::Name;
    let spec = generated();
    let name = &spec["components"]["schemas"]["Name"];

    assert_eq!(name["type"], "string");
    assert_eq!(name["minLength"], Name::MIN_CHARS);
    assert_eq!(name["maxLength"], Name::MAX_CHARS);
    assert_eq!(name["pattern"], Name::PATTERN);
    let by_path = &spec["paths"]["/hello/{name}"]["get"]["parameters"][0];
    assert_eq!(by_path["schema"]["$ref"], "#/components/schemas/Name");
    let by_body = &spec["components"]["schemas"]["GreetingRequest"]["properties"]["name"];
    assert_eq!(by_body["$ref"], "#/components/schemas/Name");
}

#[test]
fn language_rules_in_the_spec_are_the_ones_enforced() {
    use greeter::domain::Language;
    let spec = generated();
    let codes: Vec<serde_json::Value> = Language::ALL
        .iter()
        .map(|l| serde_json::to_value(l).unwrap())
        .collect();

    assert_eq!(
        spec["components"]["schemas"]["Language"]["enum"],
        serde_json::json!(codes)
    );
    let request = &spec["components"]["schemas"]["GreetingRequest"];
    assert_eq!(request["required"], serde_json::json!(["name"]));
    assert_eq!(
        request["properties"]["language"]["default"],
        serde_json::to_value(Language::default()).unwrap()
    );
}

#[test]
fn request_and_response_bodies_have_examples() {
    let spec = generated();
    for (method, path, _) in operations(&spec) {
        let operation = &spec["paths"][&path][method.to_lowercase()];
        for (status, response) in operation["responses"].as_object().unwrap() {
            let content = &response["content"]["application/json"];
            assert!(
                !content["example"].is_null(),
                "{method} {path} {status} has no example"
            );
        }
    }
    let request = &spec["components"]["schemas"]["GreetingRequest"];
    assert!(!request["example"].is_null());
}

/// openapi-spec-validator (PyPI), installed by `make test` into the project's `.venv`; it reads
/// each file's `openapi` field and validates it as that version.
#[test]
fn committed_specs_pass_openapi_spec_validator() {
    let validator = project_root().join(".venv/bin/openapi-spec-validator");
    if !validator.exists() {
        return skip(&format!(
            "{} is missing; `make test` installs it",
            validator.display()
        ));
    }

    for version in SpecVersion::ALL {
        let file = version.committed_file();
        let output = Command::new(&validator)
            .arg(project_root().join(file))
            .output()
            .expect("cannot run openapi-spec-validator");

        assert!(
            output.status.success(),
            "openapi-spec-validator rejected {file}:\n{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
}
