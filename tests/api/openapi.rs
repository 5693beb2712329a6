use std::collections::HashSet;
use std::process::Command;

use greeter::api::document as openapi;
use greeter::api::openapi::SpecVersion;
use greeter::config::ServeSettings;
use greeter::lifecycle::serving::ServingState;
use serde_json::Value;
use similar::TextDiff;

use crate::helpers::{
    EDITIONS, project_root, raw_http, skip, spawn_app, spawn_app_serving, spawn_app_with,
    test_settings,
};

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
    for (version, file, _) in EDITIONS {
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

    for (_, file, url) in EDITIONS {
        let reply = app.get(url).await;

        assert_eq!(reply.status, 200, "{url}");
        assert_eq!(reply.header("content-type"), Some("application/json"));
        let committed = std::fs::read_to_string(project_root().join(file)).unwrap();
        assert_eq!(reply.text(), committed, "{url} is not {file}");
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

/// The document lists exactly these operations, and the server routes each of them.
#[actix_web::test]
async fn the_documented_operations_are_the_routed_ones() {
    let mut documented: Vec<String> = operations(&generated())
        .into_iter()
        .map(|(m, p, _)| format!("{m} {p}"))
        .collect();
    documented.sort();
    assert_eq!(
        documented,
        [
            "GET /",
            "GET /aggregate",
            "GET /greetings",
            "GET /healthz",
            "GET /hello/{name}",
            "GET /readyz",
            "POST /greetings"
        ]
    );

    let app = spawn_app();
    for (method, target) in [
        ("GET", "/"),
        ("GET", "/aggregate"),
        ("GET", "/healthz"),
        ("GET", "/hello/Ada"),
        ("GET", "/readyz"),
        ("GET", "/greetings?name=Ada"),
        ("POST", "/greetings"),
    ] {
        let request = format!("{method} {target} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
        let answer = raw_http(app.socket_address(), &request).await;
        let status = answer.lines().next().unwrap_or_default();
        assert!(
            !status.contains(" 404 ") && !status.contains(" 405 "),
            "{method} {target} is documented but not routed: {status}"
        );
    }
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

/// A request that provokes `status` from the operation `METHOD path` of the document.
struct Provoked {
    method: &'static str,
    path: &'static str,
    status: u16,
    request: String,
    /// Sent to a server that is draining for a shutdown.
    draining: bool,
    /// Sent to a server whose rate limit this client has used up.
    limited: bool,
    /// Sent without a key to a server that requires API keys.
    keyed: bool,
}

/// One request per status each operation can answer: the documented statuses of every
/// operation must be exactly those the server is seen to return here.
fn provoking_requests() -> Vec<Provoked> {
    let long_target = |path: &str| format!("{path}?pad={}", "p".repeat(4100));
    let big_header = format!("X-Pad: {}\r\n", "p".repeat(9000));
    let body_on_get = "Content-Length: 2\r\n\r\n{}";
    let request = |method: &str, target: &str, extra: &str| {
        format!("{method} {target} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n{extra}\r\n")
    };
    let json = |body: &str| {
        format!(
            "Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
    };
    let mut cases = Vec::new();
    for (path, target) in [
        ("/", "/"),
        ("/aggregate", "/aggregate"),
        ("/healthz", "/healthz"),
        ("/hello/{name}", "/hello/Ada"),
        ("/readyz", "/readyz"),
        ("/greetings", "/greetings?name=Ada"),
    ] {
        for (status, request) in [
            (200, request("GET", target, "")),
            (400, request("GET", target, body_on_get)),
            (414, request("GET", &long_target(target), "")),
            (431, request("GET", target, &big_header)),
        ] {
            cases.push(Provoked {
                method: "get",
                path,
                status,
                request,
                draining: false,
                limited: false,
                keyed: false,
            });
        }
    }
    cases.push(Provoked {
        method: "get",
        path: "/readyz",
        status: 503,
        request: request("GET", "/readyz", ""),
        draining: true,
        limited: false,
        keyed: false,
    });
    cases.push(Provoked {
        method: "get",
        path: "/hello/{name}",
        status: 422,
        request: request("GET", &format!("/hello/{}", "a".repeat(65)), ""),
        draining: false,
        limited: false,
        keyed: false,
    });
    cases.push(Provoked {
        method: "get",
        path: "/greetings",
        status: 422,
        request: request("GET", "/greetings?language=xx", ""),
        draining: false,
        limited: false,
        keyed: false,
    });
    for (path, target) in [
        ("/", "/"),
        ("/aggregate", "/aggregate"),
        ("/hello/{name}", "/hello/Ada"),
        ("/greetings", "/greetings?name=Ada"),
    ] {
        cases.push(Provoked {
            method: "get",
            path,
            status: 429,
            request: request("GET", target, ""),
            draining: false,
            limited: true,
            keyed: false,
        });
    }
    cases.push(Provoked {
        method: "post",
        path: "/greetings",
        status: 429,
        request: request("POST", "/greetings", &json(r#"{"name":"Ada"}"#)),
        draining: false,
        limited: true,
        keyed: false,
    });
    for (method, path, target, body) in [
        ("GET", "/", "/", String::new()),
        ("GET", "/aggregate", "/aggregate", String::new()),
        ("GET", "/hello/{name}", "/hello/Ada", String::new()),
        ("GET", "/greetings", "/greetings?name=Ada", String::new()),
        (
            "POST",
            "/greetings",
            "/greetings",
            json(r#"{"name":"Ada"}"#),
        ),
    ] {
        cases.push(Provoked {
            method: if method == "GET" { "get" } else { "post" },
            path,
            status: 401,
            request: request(method, target, &body),
            draining: false,
            limited: false,
            keyed: true,
        });
    }
    let post = "/greetings";
    for (status, request) in [
        (200, request("POST", post, &json(r#"{"name":"Ada"}"#))),
        (
            400,
            request(
                "POST",
                post,
                "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
            ),
        ),
        (
            413,
            request("POST", post, &json(&format!("\"{}\"", "x".repeat(70_000)))),
        ),
        (414, request("POST", &long_target(post), &json("{}"))),
        (415, request("POST", post, "Content-Length: 2\r\n\r\n{}")),
        (422, request("POST", post, &json(r#"{"language":"xx"}"#))),
        (
            431,
            request("POST", post, &format!("{big_header}{}", json("{}"))),
        ),
    ] {
        cases.push(Provoked {
            method: "post",
            path: "/greetings",
            status,
            request,
            draining: false,
            limited: false,
            keyed: false,
        });
    }
    cases
}

#[actix_web::test]
async fn every_operation_documents_exactly_the_statuses_it_answers() {
    let app = spawn_app();
    let draining = ServingState::new();
    draining.begin_draining();
    let draining_app = spawn_app_serving(test_settings(), draining);
    let limited_app = spawn_app_with(ServeSettings {
        rate_limit: Some("1/min".parse().unwrap()),
        ..test_settings()
    });
    let spent = raw_http(
        limited_app.socket_address(),
        &crate::helpers::get_request("/healthz"),
    )
    .await;
    assert!(
        spent.starts_with("HTTP/1.1 200"),
        "probes are not limited: {spent}"
    );
    let spent = raw_http(
        limited_app.socket_address(),
        &crate::helpers::get_request("/"),
    )
    .await;
    assert!(spent.starts_with("HTTP/1.1 200"), "{spent}");
    let keyed_app = spawn_app_with(ServeSettings {
        api_keys_env: Some(greeter::config::api_keys::Secret::new(
            "a-key-the-test-never-sends",
        )),
        ..test_settings()
    });
    // The document of a server with API keys: every status some setting can provoke (the
    // default one lacks only the 401, as tests/api/truthful.rs checks).
    let spec = serde_json::to_value(greeter::api::document_for(
        greeter::api::openapi::Deployment {
            api_keys: true,
            ..Default::default()
        },
    ))
    .unwrap();
    let cases = provoking_requests();

    for case in &cases {
        let server = match (case.draining, case.limited, case.keyed) {
            (true, _, _) => &draining_app,
            (_, true, _) => &limited_app,
            (_, _, true) => &keyed_app,
            _ => &app,
        };
        let answer = raw_http(server.socket_address(), &case.request).await;
        let status_line = answer.lines().next().unwrap_or_default();
        assert!(
            status_line.starts_with(&format!("HTTP/1.1 {} ", case.status)),
            "{} {} should answer {}: {status_line}",
            case.method,
            case.path,
            case.status
        );
    }
    for (method, path, operation) in operations(&spec) {
        let mut documented: HashSet<String> = operation["responses"]
            .as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect();
        // Every operation documents the 500 of the safety net that contains a panic or a
        // failure (tests/api/errors.rs provokes it on a route made to fail); no greeter route
        // can be made to answer it.
        assert!(documented.remove("500"), "{method} {path} documents no 500");
        let observed: HashSet<String> = cases
            .iter()
            .filter(|c| c.method.eq_ignore_ascii_case(&method) && c.path == path)
            .map(|c| c.status.to_string())
            .collect();
        assert_eq!(
            documented, observed,
            "{method} {path}: documented vs observed"
        );
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
    use greeter::api::domain::Name;
    let spec = generated();
    let name = &spec["components"]["schemas"]["Name"];

    assert_eq!(name["type"], "string");
    assert_eq!(name["minLength"], 1);
    assert_eq!(name["maxLength"], 64);
    let pattern = name["pattern"].as_str().unwrap();
    assert_eq!(pattern, r"^[^\u0000-\u001F\u007F-\u009F]*$");
    // The documented rules are the enforced ones, at their edges.
    assert!(Name::parse(&"é".repeat(64)).is_ok());
    assert!(Name::parse(&"é".repeat(65)).is_err());
    assert!(Name::parse("").is_err());
    let documented = regex::Regex::new(pattern).unwrap();
    for sample in [
        "\0",
        "\u{1f}",
        "\u{7f}",
        "\u{9f}",
        "a",
        "\u{a0}",
        "Ada Lovelace",
    ] {
        assert_eq!(
            documented.is_match(sample),
            Name::parse(sample).is_ok(),
            "{sample:?}"
        );
    }
    let by_path = &spec["paths"]["/hello/{name}"]["get"]["parameters"][0];
    assert_eq!(by_path["schema"]["$ref"], "#/components/schemas/Name");
    let by_body = &spec["components"]["schemas"]["GreetingRequest"]["properties"]["name"];
    assert_eq!(by_body["$ref"], "#/components/schemas/Name");
}

#[test]
fn language_rules_in_the_spec_are_the_ones_enforced() {
    let spec = generated();

    assert_eq!(
        spec["components"]["schemas"]["Language"]["enum"],
        serde_json::json!(["en", "fr", "es", "de", "ja"])
    );
    let request = &spec["components"]["schemas"]["GreetingRequest"];
    assert_eq!(request["required"], serde_json::json!(["name"]));
    assert_eq!(request["properties"]["language"]["default"], "en");
    for code in ["en", "fr", "es", "de", "ja"] {
        let body = serde_json::json!({"name": "Ada", "language": code});
        assert!(
            greeter::api::routes::greeting::GreetingRequest::from_json(&body).is_ok(),
            "{code}"
        );
    }
    let body = serde_json::json!({"name": "Ada", "language": "xx"});
    assert!(greeter::api::routes::greeting::GreetingRequest::from_json(&body).is_err());
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

    for (_, file, _) in EDITIONS {
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
