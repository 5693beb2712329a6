//! Clients generated from the document a server with API keys and `GET /aggregate`'s
//! parameters configured serves (it declares the bearer scheme and the parameters; the
//! committed, default one does neither), each calling every operation against that server: Python (openapi-python-client), TypeScript (openapi-typescript + openapi-fetch) and
//! Rust (progenitor, from the OpenAPI 3.0 edition). The generators are pinned
//! and installed by `make test` into `.venv`, `tests/clients/typescript/node_modules` and
//! `target/clients/rust`; what they generate is written under `target/` or git-ignored folders.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use greeter::config::ServeSettings;
use greeter::config::api_keys::Secret;

use crate::helpers::{project_root, settings_with_parameters, skip, spawn_app_in_thread};

/// The API key the clients send (the server also has another).
const API_KEY: &str = "client-check-key-0123456789";

/// A server that requires API keys and whose `GET /aggregate` takes parameters (calling a
/// greeter upstream with them), with its base URL.
fn fresh_server() -> String {
    let settings = ServeSettings {
        io_delay: Duration::ZERO.into(),
        api_keys_env: Some(Secret::new(format!("another-key-0123456789,{API_KEY}"))),
        ..settings_with_parameters()
    };
    format!("http://{}", spawn_app_in_thread(settings))
}

/// The document `server` serves at `path`, saved as `target/clients/<file>` for a generator;
/// returns its absolute path.
fn served_document(server: &str, path: &str, file: &str) -> std::path::PathBuf {
    let answer = crate::helpers::raw_http_blocking(
        server.trim_start_matches("http://"),
        &crate::helpers::get_request(path),
    )
    .expect("cannot fetch the document");
    let (head, body) = answer.split_once("\r\n\r\n").expect("an HTTP answer");
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    let saved = project_root().join("target/clients").join(file);
    std::fs::create_dir_all(saved.parent().unwrap()).unwrap();
    std::fs::write(&saved, body).unwrap();
    saved
}

/// Runs `command`, failing the test with its output unless it succeeds; returns its stdout.
fn run(command: &mut Command) -> String {
    let output = command
        .output()
        .unwrap_or_else(|err| panic!("cannot run {command:?}: {err}"));
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "{command:?} failed ({}):\n{stdout}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

fn fresh_dir(path: &Path) {
    let _ = std::fs::remove_dir_all(path);
    std::fs::create_dir_all(path).unwrap();
}

#[test]
fn python_client_calls_every_operation() {
    let root = project_root();
    let bin = root.join(".venv/bin");
    if !bin.join("openapi-python-client").exists() {
        return skip("openapi-python-client is not in .venv; `make test` installs it");
    }
    let out = root.join("target/clients/python");
    fresh_dir(&out);
    // Its post-generation hook runs ruff, which lives beside it in the venv.
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );

    let server = fresh_server();
    let spec = served_document(&server, "/openapi.json", "python-openapi.json");
    run(Command::new(bin.join("openapi-python-client"))
        .args(["generate", "--path"])
        .arg(&spec)
        .args(["--meta", "none", "--output-path"])
        .arg(out.join("greeter_client"))
        .current_dir(&root)
        .env("PATH", &path));
    let stdout = run(Command::new(bin.join("python"))
        .arg("tests/clients/python/check_client.py")
        .arg(&server)
        .arg(API_KEY)
        .current_dir(&root)
        .env("PYTHONPATH", &out));

    assert!(
        stdout.contains("python client: 17 checks passed"),
        "{stdout}"
    );
}

#[test]
fn typescript_client_calls_every_operation() {
    let dir = project_root().join("tests/clients/typescript");
    let bin = dir.join("node_modules/.bin");
    if !bin.join("openapi-typescript").exists() {
        return skip("tests/clients/typescript/node_modules is missing; `make test` runs npm ci");
    }
    fresh_dir(&dir.join("generated"));
    fresh_dir(&dir.join("dist"));

    let server = fresh_server();
    let spec = served_document(&server, "/openapi.json", "typescript-openapi.json");
    run(Command::new(bin.join("openapi-typescript"))
        .arg(&spec)
        .args(["--default-non-nullable", "false"])
        .args(["--output", "generated/schema.d.ts"])
        .current_dir(&dir));
    run(Command::new(bin.join("tsc"))
        .args(["--project", "tsconfig.json"])
        .current_dir(&dir));
    let stdout = run(Command::new("node")
        .arg("dist/check_client.js")
        .arg(&server)
        .arg(API_KEY)
        .current_dir(&dir));

    assert!(
        stdout.contains("typescript client: 17 checks passed"),
        "{stdout}"
    );
}

#[test]
fn rust_client_calls_every_operation() {
    let root = project_root();
    let server = fresh_server();
    let spec = served_document(&server, "/openapi-3.0.json", "rust-openapi-3.0.json");
    let mut cargo = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    cargo
        .env("GREETER_CLIENT_SPEC", &spec)
        .args([
            "run",
            "--quiet",
            "--locked",
            "--manifest-path",
            "tests/clients/rust/Cargo.toml",
        ])
        .arg("--target-dir")
        .arg(root.join("target/clients/rust"))
        .arg("--")
        .arg(&server)
        .arg(API_KEY)
        .current_dir(&root);

    let stdout = run(&mut cargo);

    assert!(stdout.contains("rust client: 15 checks passed"), "{stdout}");
}
