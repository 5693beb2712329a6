//! `GET /aggregate?name=...`: parameters declared in the configuration fill the placeholders of
//! upstream URLs, each value checked first (FastAPI's `422`) and percent-encoded for the slot it
//! fills, as a real upstream receives it; the served document describes them.

use std::sync::atomic::Ordering;
use std::time::Duration;

use greeter::config::parameters::Parameter;
use greeter::config::{ServeSettings, Upstream};
use serde_json::{Value, json};

use crate::helpers::{TestApp, settings_with_parameters, spawn_app_with, test_settings};
use crate::nginx::TempDir;
use crate::test_upstream::{Behaviour, TestUpstream, source, upstream};

fn declare(table: Value) -> Parameter {
    Parameter::declare(serde_json::from_value(table).unwrap()).unwrap()
}

/// An app whose upstream `echo` is called at `path` (a path and query with placeholders).
async fn app_calling(path: &str, parameters: Vec<Parameter>) -> (TestApp, TestUpstream) {
    let echo = upstream(Behaviour::Json).await;
    let base = echo.url.trim_end_matches("/data");
    let app = spawn_app_with(ServeSettings {
        upstreams: vec![Upstream::parse(&format!("echo={base}{path}")).unwrap()],
        parameters,
        ..test_settings()
    });
    (app, echo)
}

/// Each value that could change the URL's shape arrives percent-encoded: in a path segment (a
/// `.` too, so `..` is no segment) and in a query value (where `.` may stay).
#[actix_web::test]
async fn every_value_arrives_encoded_for_the_slot_it_fills() {
    let (app, echo) = app_calling(
        "/v1/{q}/end?q={q}&fixed=1",
        vec![declare(json!({"name": "q", "required": true}))],
    )
    .await;
    // (the value, as the client encodes it in its query, as it reaches the path, the query)
    let cases = [
        ("/", "%2F", "%2F", "%2F"),
        ("?", "%3F", "%3F", "%3F"),
        ("#", "%23", "%23", "%23"),
        ("&x=1", "%26x%3D1", "%26x%3D1", "%26x%3D1"),
        ("%2F", "%252F", "%252F", "%252F"),
        ("a\r\nb", "a%0D%0Ab", "a%0D%0Ab", "a%0D%0Ab"),
        ("a\0b", "a%00b", "a%00b", "a%00b"),
        ("a..b", "a..b", "a%2E%2Eb", "a..b"),
        (
            "São Paulo",
            "S%C3%A3o+Paulo",
            "S%C3%A3o%20Paulo",
            "S%C3%A3o%20Paulo",
        ),
        ("a+b", "a%2Bb", "a%2Bb", "a%2Bb"),
    ];
    for (value, sent, in_path, in_query) in cases {
        let reply = app.get(&format!("/aggregate?q={sent}")).await;
        assert_eq!(reply.status, 200, "{value:?}");
        let result = source(&reply.json(), "echo").clone();
        assert_eq!(result["ok"], true, "{value:?}: {result}");
        let target = echo.targets.lock().unwrap().pop().unwrap();
        assert_eq!(
            target,
            format!("/v1/{in_path}/end?q={in_query}&fixed=1"),
            "{value:?}"
        );
    }
    assert_eq!(
        echo.accepted.load(Ordering::SeqCst),
        1,
        "one kept connection"
    );
    // A `.` or `..` segment in a path slot is refused: an upstream that decodes `%2F` and
    // `%2E` first would climb out of its path (the next test shows nginx doing it).
    for climbing in ["..", "../", ".", "a%2F..%2F..", "a%5C..%5Csecret"] {
        let reply = app.get(&format!("/aggregate?q={climbing}")).await;
        assert_eq!(reply.status, 422, "{climbing}");
        assert_eq!(
            reply.json()["detail"][0]["type"],
            "value_error",
            "{climbing}"
        );
    }
}

/// At nginx, which decodes `%2F` and `%2E` before it resolves `..`: no value reaches a location
/// outside the configured path, though `a/b` stays below it.
#[actix_web::test]
async fn no_value_climbs_out_of_the_path_at_nginx() {
    let Some(nginx) = crate::upstream_tls::nginx_or_skip() else {
        return;
    };
    let port = crate::nginx::free_port();
    let _upstream = crate::nginx::Nginx::start(
        &nginx,
        &format!(
            "  server {{\n    listen 127.0.0.1:{port};\n    default_type application/json;\n    \
             location /v1/ {{ return 200 '{{\"where\": \"v1\"}}'; }}\n    \
             location / {{ return 200 '{{\"where\": \"outside\"}}'; }}\n  }}\n"
        ),
        &[port],
    );
    let app = spawn_app_with(ServeSettings {
        upstreams: vec![Upstream::parse(&format!("u=http://127.0.0.1:{port}/v1/{{q}}/x")).unwrap()],
        parameters: vec![declare(json!({"name": "q", "required": true}))],
        ..test_settings()
    });
    for value in ["a%2Fb", "%2E%2E.", "b%2F.c%2F", "..."] {
        let aggregate = app.get(&format!("/aggregate?q={value}")).await.json();
        let body = &source(&aggregate, "u")["body"];
        assert_eq!(body["where"], "v1", "{value}: {aggregate}");
    }
    for climbing in ["..", "a%2F..%2F..%2Fsecret", "%2E%2E%2Fx"] {
        let reply = app.get(&format!("/aggregate?q={climbing}")).await;
        assert_eq!(reply.status, 422, "{climbing}");
    }
}

/// Missing and invalid parameters get FastAPI's `422`, every one listed, and no upstream is
/// called; a default stands in for one not given, and an integer goes out canonical.
#[actix_web::test]
async fn parameters_are_checked_before_any_call() {
    let (app, echo) = app_calling(
        "/v1/{city}?units={units}&days={days}",
        vec![
            declare(json!({"name": "city", "required": true, "max_length": 12,
                           "pattern": "^[A-Za-z ]+$"})),
            declare(
                json!({"name": "units", "type": "enum", "values": ["metric", "imperial"],
                           "default": "metric"}),
            ),
            declare(
                json!({"name": "days", "type": "integer", "minimum": 1, "maximum": 16,
                           "default": 3}),
            ),
        ],
    )
    .await;

    let reply = app.get("/aggregate?units=kelvin&days=0").await;
    assert_eq!(reply.status, 422);
    assert_eq!(reply.header("content-type"), Some("application/json"));
    assert_eq!(
        reply.json(),
        json!({"detail": [
            {"type": "missing", "loc": ["query", "city"], "msg": "Field required",
             "input": null},
            {"type": "enum", "loc": ["query", "units"],
             "msg": "Input should be 'metric' or 'imperial'", "input": "kelvin",
             "ctx": {"expected": "'metric' or 'imperial'"}},
            {"type": "greater_than_equal", "loc": ["query", "days"],
             "msg": "Input should be greater than or equal to 1", "input": "0",
             "ctx": {"ge": 1}},
        ]})
    );
    for (query, kind) in [
        ("city=Paris!", "string_pattern_mismatch"),
        ("city=Llanfairpwllgwyngyll", "string_too_long"),
        ("city=", "string_too_short"),
        ("city=Paris&days=x", "int_parsing"),
        ("city=Paris&days=17", "less_than_equal"),
        ("city=%E2%28", "string_unicode"),
        ("city=Par%is", "percent_encoding"),
    ] {
        let reply = app.get(&format!("/aggregate?{query}")).await;
        assert_eq!(reply.status, 422, "{query}");
        assert_eq!(reply.json()["detail"][0]["type"], kind, "{query}");
    }
    assert_eq!(echo.accepted.load(Ordering::SeqCst), 0, "no call was made");

    let reply = app.get("/aggregate?city=New+York&days=007&other=1").await;
    assert_eq!(reply.status, 200);
    let target = echo.targets.lock().unwrap().pop().unwrap();
    assert_eq!(target, "/v1/New%20York?units=metric&days=7");
}

/// Through two real greeters: the parameters' values reach `GET /hello/{name}` and
/// `GET /greetings?name=...` as the caller gave them, however they are written.
#[actix_web::test]
async fn values_reach_a_real_upstream_as_given() {
    let app = spawn_app_with(settings_with_parameters());

    let aggregate = app
        .get("/aggregate?name=Zo%C3%AB%2FAda%20100%25%3F%26%23&language=fr")
        .await
        .json();

    let hello = source(&aggregate, "hello");
    assert_eq!(
        hello["body"],
        json!({"Hello": "Zoë/Ada 100%?&#"}),
        "{aggregate}"
    );
    let greetings = source(&aggregate, "greetings");
    assert_eq!(
        greetings["body"]["message"], "Bonjour, Zoë/Ada 100%?&#!",
        "{aggregate}"
    );
}

/// The document a configured server serves describes the parameters (both editions), with
/// their `422`; the default configuration's has none.
#[actix_web::test]
async fn the_served_document_describes_the_parameters() {
    let app = spawn_app_with(settings_with_parameters());
    for path in ["/openapi.json", "/openapi-3.0.json"] {
        let document = app.get(path).await.json();
        let operation = &document["paths"]["/aggregate"]["get"];
        let parameters = operation["parameters"].as_array().unwrap();
        assert_eq!(parameters.len(), 2, "{path}");
        assert_eq!(parameters[0]["name"], "name");
        assert_eq!(parameters[0]["in"], "query");
        assert_eq!(parameters[0]["required"], true);
        assert_eq!(parameters[0]["schema"]["maxLength"], 64);
        assert_eq!(
            parameters[1]["schema"],
            json!({"type": "string", "enum": ["en", "fr", "es", "de", "ja"], "default": "en"})
        );
        assert_eq!(parameters[1]["required"], false);
        assert_eq!(
            operation["responses"]["422"]["content"]["application/json"]["example"]["detail"][0]["loc"],
            json!(["query", "name"])
        );
    }
    let default = crate::helpers::spawn_app()
        .get("/openapi.json")
        .await
        .json();
    assert!(
        default["paths"]["/aggregate"]["get"]
            .get("parameters")
            .is_none()
    );
    assert!(
        default["paths"]["/aggregate"]["get"]["responses"]
            .get("422")
            .is_none()
    );
}

/// A placeholder without its parameter, or a parameter no URL uses, stops the start in one line
/// (exit 2); so does a bad declaration, naming file, line and key.
#[test]
fn placeholders_and_parameters_must_match() {
    let dir = TempDir::new("parameters");
    let cases = [
        (
            "[[upstreams]]\nname = \"a\"\nurl = \"http://127.0.0.1:9/{city}\"\n",
            "greeter.toml: the upstream a has the placeholder {city}, but no parameter city is \
             declared",
        ),
        (
            "[[upstreams]]\nname = \"a\"\nurl = \"http://127.0.0.1:9/\"\n\n[[parameters]]\n\
             name = \"city\"\nrequired = true\n",
            "greeter.toml: the parameter city fills no upstream URL's placeholder",
        ),
        (
            "[[upstreams]]\nname = \"a\"\nurl = \"http://127.0.0.1:9/{city}\"\n\n\
             [[parameters]]\nname = \"city\"\nmin_length = 0\ndefault = \"\"\n",
            "greeter.toml: the parameter city fills a path segment of the upstream a, so its \
             min_length must be at least 1",
        ),
        (
            "[[upstreams]]\nname = \"a\"\nurl = \"http://127.0.0.1:9/?c={city}\"\n\n\
             [[parameters]]\nname = \"city\"\nrequired = true\nmax_length = 5000\n",
            "the parameter city's max_length 5000 is past --max-uri-length 4.0 KiB",
        ),
        (
            "[[upstreams]]\nname = \"a\"\nurl = \"http://127.0.0.1:9/{city\"\n",
            ":3: upstreams[0].url: http://127.0.0.1:9/{city: a { without its }",
        ),
        (
            "[[upstreams]]\nname = \"a\"\nurl = \"http://127.0.0.1:9/{city}\"\n\n\
             [[parameters]]\nname = \"city\"\ntype = \"integer\"\nrequired = true\n\
             max_length = 3\n",
            ":9: parameters[0].max_length: does not apply to a parameter of type integer",
        ),
    ];
    for (text, says) in cases {
        let config = dir.0.join("greeter.toml");
        std::fs::write(&config, text).unwrap();
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_greeter"))
            .args(["check-config", "--config"])
            .arg(&config)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{text}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(stderr.contains(says), "{text}: {stderr}");
    }
}

/// An upstream URL without placeholders keeps its query as configured; parameters leave it be.
#[actix_web::test]
async fn a_fixed_url_is_asked_as_configured() {
    let (app, echo) = app_calling("/fixed?a=%7Bb%7D", Vec::new()).await;
    let reply = app.get("/aggregate?a=ignored").await;
    assert_eq!(reply.status, 200);
    assert_eq!(*echo.targets.lock().unwrap(), ["/fixed?a=%7Bb%7D"]);
    tokio::time::sleep(Duration::ZERO).await;
}
