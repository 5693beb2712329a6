//! API keys: off by default; with keys, every operation the document marks with the bearer
//! scheme answers `401 {"detail":"Not authenticated"}` + `WWW-Authenticate: Bearer` unless the
//! request carries one of them, and the probes, metrics, docs and documents stay open.

use std::io::Write as _;
use std::os::unix::ffi::OsStrExt as _;
use std::time::Duration;

use awc::http::Method;
use greeter::config::ServeSettings;
use greeter::config::api_keys::Secret;

use crate::helpers::{
    GreeterProcess, TestApp, header_of, raw_http, spawn_app, spawn_app_with, test_settings,
};

const KEY: &str = "k3y-for-the-tests-0123456789";
const OTHER_KEY: &str = "second-key-0123456789abcdef";

fn with_keys() -> TestApp {
    spawn_app_with(ServeSettings {
        api_keys_env: Some(Secret::new(format!("{OTHER_KEY},{KEY}"))),
        io_delay: Duration::ZERO.into(),
        ..test_settings()
    })
}

/// Each documented operation of the served document: (method, a path to call it by, whether
/// it requires the bearer scheme).
async fn operations(app: &TestApp) -> Vec<(Method, String, bool)> {
    let spec = app.get("/openapi.json").await.json();
    let mut found = Vec::new();
    for (path, item) in spec["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            let security = operation["security"]
                .as_array()
                .expect("every operation says");
            let protected = security.iter().any(|s| s.get("bearerAuth").is_some());
            let path = path.replace("{name}", "Ada");
            let path = if path == "/greetings" && method == "get" {
                "/greetings?name=Ada".to_owned()
            } else {
                path
            };
            found.push((method.to_uppercase().parse().unwrap(), path, protected));
        }
    }
    found
}

async fn call(app: &TestApp, method: &Method, path: &str, authorization: Option<&str>) -> u16 {
    let mut request = app.client.request(method.clone(), app.url(path));
    if let Some(value) = authorization {
        request = request.insert_header(("authorization", value));
    }
    let response = if method == Method::POST {
        request
            .insert_header(("content-type", "application/json"))
            .send_body(r#"{"name": "Ada"}"#)
            .await
    } else {
        request.send().await
    };
    response.expect("request failed").status().as_u16()
}

#[actix_web::test]
async fn the_server_enforces_exactly_what_the_document_declares() {
    let app = with_keys();

    let operations = operations(&app).await;

    assert!(
        operations.iter().filter(|(_, _, p)| *p).count() >= 5,
        "{operations:?}"
    );
    for (method, path, protected) in &operations {
        let without = call(&app, method, path, None).await;
        let with = call(&app, method, path, Some(&format!("Bearer {KEY}"))).await;
        if *protected {
            assert_eq!(without, 401, "{method} {path} without a key");
        } else {
            assert_ne!(without, 401, "{method} {path} is public");
        }
        assert_eq!(with, 200, "{method} {path} with a key");
    }
    for (method, path, protected) in operations {
        let public = ["/healthz", "/readyz"].contains(&path.as_str());
        assert_eq!(protected, !public, "{method} {path}");
    }
}

#[actix_web::test]
async fn a_missing_or_wrong_key_is_a_json_401_with_www_authenticate() {
    let app = with_keys();

    for authorization in [
        None,
        Some("Bearer not-a-key-0123456789".to_owned()),
        Some(format!("Bearer {KEY}x")),
        Some(format!("Bearer {}", &KEY[..KEY.len() - 1])),
        Some("Bearer ".to_owned()),
        Some("Bearer".to_owned()),
        Some(format!("Basic {KEY}")),
        Some(KEY.to_owned()),
        Some(format!("Bearer{KEY}")),
        Some(format!("Bearer {KEY} {KEY}")),
        Some(format!("Bearer {}", "x".repeat(4000))),
    ] {
        let mut request = app.client.get(app.url("/"));
        if let Some(value) = &authorization {
            request = request.insert_header(("authorization", value.as_str()));
        }
        let reply = crate::helpers::Reply::from(request.send().await.unwrap()).await;
        assert_eq!(reply.status, 401, "{authorization:?}");
        assert_eq!(reply.header("www-authenticate"), Some("Bearer"));
        assert_eq!(
            reply.json(),
            serde_json::json!({"detail": "Not authenticated"})
        );
    }
}

#[actix_web::test]
async fn either_key_works_in_any_case_of_the_scheme() {
    let app = with_keys();

    for value in [
        format!("Bearer {KEY}"),
        format!("bearer {OTHER_KEY}"),
        format!("BEARER   {KEY}"),
    ] {
        let reply = app.get_with("/", &[("authorization", &value)]).await;
        assert_eq!(reply.status, 200, "{value}");
        assert_eq!(reply.json(), serde_json::json!({"Hello": "World"}));
    }
}

#[actix_web::test]
async fn two_authorization_headers_or_bytes_that_are_not_text_are_401() {
    let app = with_keys();

    let twice = raw_http(
        app.socket_address(),
        &format!(
            "GET / HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer {KEY}\r\n\
             Authorization: Bearer {KEY}\r\nConnection: close\r\n\r\n"
        ),
    )
    .await;
    assert!(twice.starts_with("HTTP/1.1 401"), "{twice}");

    let mut stream = tokio::net::TcpStream::connect(app.socket_address())
        .await
        .unwrap();
    let mut request = b"GET / HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer \xff\xfe".to_vec();
    request.extend_from_slice(KEY.as_bytes());
    request.extend_from_slice(b"\r\nConnection: close\r\n\r\n");
    tokio::io::AsyncWriteExt::write_all(&mut stream, &request)
        .await
        .unwrap();
    let mut answer = Vec::new();
    tokio::io::AsyncReadExt::read_to_end(&mut stream, &mut answer)
        .await
        .unwrap();
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 401"), "{answer}");
    assert_eq!(header_of(&answer, "www-authenticate"), Some("Bearer"));
}

#[actix_web::test]
async fn head_is_checked_like_get_and_unknown_routes_stay_404_and_405() {
    let app = with_keys();

    assert_eq!(call(&app, &Method::HEAD, "/", None).await, 401);
    assert_eq!(
        call(&app, &Method::HEAD, "/", Some(&format!("Bearer {KEY}"))).await,
        200
    );
    assert_eq!(call(&app, &Method::GET, "/nowhere", None).await, 404);
    assert_eq!(call(&app, &Method::DELETE, "/", None).await, 405);
}

/// The check runs before routing: it must resolve the route as the router does, on the
/// percent-decoded path (a review found `/%68ello/x` reaching `/hello/{name}` without a key).
#[actix_web::test]
async fn percent_encoded_twins_of_protected_routes_need_a_key_too() {
    let app = with_keys();
    let key = format!("Bearer {KEY}");

    for (method, path) in [
        (Method::GET, "/%68ello/ada"),
        (Method::GET, "/hell%6F/ada"),
        (Method::GET, "/%61ggregate"),
        (Method::GET, "/greeting%73?name=Ada"),
        (Method::POST, "/greeting%73"),
        (Method::HEAD, "/%68ello/ada"),
        (Method::GET, "/%2561ggregate"),
    ] {
        let without = call(&app, &method, path, None).await;
        let with = call(&app, &method, path, Some(&key)).await;
        if path.contains("%25") {
            // `%2561` decodes to `%61`, not `a`: no route, a 404 either way.
            assert_eq!((without, with), (404, 404), "{method} {path}");
        } else {
            assert_eq!((without, with), (401, 200), "{method} {path}");
        }
    }
    assert_eq!(call(&app, &Method::GET, "/heal%74hz", None).await, 200);
}

#[actix_web::test]
async fn probes_metrics_docs_and_documents_need_no_key() {
    let app = with_keys();

    for path in [
        "/healthz",
        "/readyz",
        "/metrics",
        "/docs/",
        "/docs/swagger-initializer.js",
        "/redoc",
        "/openapi.json",
        "/openapi-3.0.json",
    ] {
        assert_eq!(app.get(path).await.status, 200, "{path}");
    }
}

#[actix_web::test]
async fn without_keys_nothing_needs_one() {
    let app = spawn_app();

    assert_eq!(
        call(&app, &Method::GET, "/greetings?name=Ada", None).await,
        200
    );
    assert_eq!(call(&app, &Method::POST, "/greetings", None).await, 200);
}

#[actix_web::test]
async fn a_401_carries_the_cors_headers_when_cors_is_on() {
    let app = spawn_app_with(ServeSettings {
        api_keys_env: Some(Secret::new(KEY)),
        cors_allow_origins: vec!["https://app.example.com".to_owned()],
        ..test_settings()
    });

    let reply = app
        .get_with("/", &[("origin", "https://app.example.com")])
        .await;

    assert_eq!(reply.status, 401);
    assert_eq!(
        reply.header("access-control-allow-origin"),
        Some("https://app.example.com")
    );
}

/// The real process: keys from a file, never in its log, whatever it was sent.
#[test]
fn keys_from_a_file_are_required_and_never_logged() {
    let dir = std::env::temp_dir().join(format!("greeter-api-keys-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("keys");
    let mut keys = std::fs::File::create(&file).unwrap();
    writeln!(keys, "# rotated monthly\n{KEY}\n{OTHER_KEY}  # the CI's").unwrap();
    let (mut process, address) = GreeterProcess::serve(&[
        "--api-keys-file",
        file.to_str().unwrap(),
        "--io-delay",
        "0s",
    ]);
    let socket = address.trim_start_matches("http://");

    let get = |authorization: &str| {
        crate::helpers::raw_http_blocking(
            socket,
            &format!("GET / HTTP/1.1\r\nHost: t\r\n{authorization}Connection: close\r\n\r\n"),
        )
        .unwrap()
    };
    assert!(get("").starts_with("HTTP/1.1 401"));
    assert!(get(&format!("Authorization: Bearer {KEY}\r\n")).starts_with("HTTP/1.1 200"));
    assert!(get(&format!("Authorization: Bearer {OTHER_KEY}\r\n")).starts_with("HTTP/1.1 200"));
    let typo = format!("{KEY}-typo");
    assert!(get(&format!("Authorization: Bearer {typo}\r\n")).starts_with("HTTP/1.1 401"));
    process.wait_for_line("\"GET / HTTP/1.1\" 401", Duration::from_secs(10));
    process.signal(nix::sys::signal::Signal::SIGTERM);
    assert_eq!(process.wait_for_exit(Duration::from_secs(30)), Some(0));

    let log = process.lines().join("\n");
    assert!(log.contains("API keys on (2)"), "{log}");
    for secret in [KEY, OTHER_KEY, typo.as_str()] {
        assert!(!log.contains(secret), "the log shows a key: {log}");
    }
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn unfit_keys_stop_the_start_with_one_line() {
    let dir = std::env::temp_dir().join(format!("greeter-unfit-keys-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = |name: &str| dir.join(name).to_str().unwrap().to_owned();
    std::fs::write(path("empty"), "# no key yet\n").unwrap();
    // One byte past the cap: a file of keys, but too large to be read.
    let line = format!("{KEY}\n");
    let lines = (greeter::config::api_keys::MAX_KEYS_FILE_BYTES as usize) / line.len() + 1;
    std::fs::write(path("huge"), line.repeat(lines)).unwrap();
    let fifo = path("fifo");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(made.success(), "mkfifo failed");
    let (empty, huge) = (path("empty"), path("huge"));
    let dir_path = dir.to_str().unwrap().to_owned();
    for (args, envs, expected) in [
        // Nothing that hangs the start, or fills the memory, is read.
        (
            vec!["--api-keys-file", fifo.as_str()],
            vec![],
            "is not a regular file",
        ),
        (
            vec!["--api-keys-file", "/dev/zero"],
            vec![],
            "is not a regular file",
        ),
        (
            vec!["--api-keys-file", dir_path.as_str()],
            vec![],
            "is not a regular file",
        ),
        (
            vec!["--api-keys-file", huge.as_str()],
            vec![],
            "is larger than 1048576 bytes",
        ),
        (
            vec!["--api-keys-file", "/nonexistent/greeter-keys"],
            vec![],
            "--api-keys-file /nonexistent/greeter-keys: cannot read it",
        ),
        (
            vec![],
            vec![("GREETER_API_KEYS", "short")],
            "GREETER_API_KEYS key 1: a key",
        ),
        (
            vec![],
            vec![("GREETER_API_KEYS", "")],
            "GREETER_API_KEYS key 1: a key",
        ),
        (
            vec!["--api-keys-file", "/dev/null"],
            vec![("GREETER_API_KEYS", KEY)],
            "choose one",
        ),
        (
            vec!["--api-keys-file", empty.as_str()],
            vec![],
            "holds no key",
        ),
    ] {
        let mut command = GreeterProcess::command(&[&["--port", "0"][..], &args].concat());
        for (key, value) in &envs {
            command.env(key, value);
        }
        let output = command.output().unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        let errors: Vec<&str> = stderr.lines().filter(|l| l.contains("error")).collect();
        assert_one_error(&output, &errors, expected, &format!("{args:?} {envs:?}"));
    }
    // Bytes that are not text are refused, not taken as "no keys".
    let mut command = GreeterProcess::command(&["--port", "0"]);
    command.env(
        "GREETER_API_KEYS",
        std::ffi::OsStr::from_bytes(b"\xffk3y-0123456789abcdefXYZ"),
    );
    let output = command.output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    let errors: Vec<&str> = stderr.lines().filter(|l| l.contains("error")).collect();
    assert_one_error(
        &output,
        &errors,
        "GREETER_API_KEYS is not valid UTF-8",
        "not UTF-8",
    );
    std::fs::remove_dir_all(dir).unwrap();
}

/// The start stopped with exit 1 and one error line saying `expected`.
fn assert_one_error(output: &std::process::Output, errors: &[&str], expected: &str, case: &str) {
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{case}: {stderr}");
    assert_eq!(errors.len(), 1, "{stderr}");
    assert!(errors[0].contains(expected), "{case}: {stderr}");
    assert!(!stderr.contains("listening on"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}
