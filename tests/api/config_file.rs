//! The configuration file (`--config`), through the real binary: upstreams with their own
//! limits and headers called at real upstreams, flags and environment over the file, one-line
//! errors naming file, line and key, `greeter check-config`, and secrets that appear in no
//! output at all.

use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

use nix::sys::signal::Signal;
use serde_json::Value;

use crate::helpers::{GreeterProcess, client};
use crate::nginx::TempDir;
use crate::test_upstream::{Behaviour, header_values, source, upstream};

/// A secret no output may show: an upstream's credential, from the environment and a file.
const SECRET_ENV: &str = "tok-env-5f1d8a0c3b7e49";
const SECRET_FILE: &str = "tok-file-9a2c7e1f0d4b88";

fn greeter(args: &[&str], envs: &[(&str, &str)]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_greeter"))
        .args(args)
        .envs(envs.iter().copied())
        .env_remove("GREETER_CONFIG")
        .output()
        .unwrap()
}

fn write(dir: &TempDir, name: &str, text: &str) -> String {
    let path = dir.0.join(name);
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

/// The file's upstreams carry their headers (written, from the environment, from a file) and
/// their own timeout and body limit; a flag and a variable override the file's settings.
#[actix_web::test]
async fn upstreams_from_the_file_get_their_headers_and_limits_and_flags_win() {
    let fast = upstream(Behaviour::Json).await;
    let slow = upstream(Behaviour::Slow(Duration::from_secs(2))).await;
    let large = upstream(Behaviour::Large(2000)).await;
    let dir = TempDir::new("config");
    let secret_file = write(&dir, "key", &format!("{SECRET_FILE}\n"));
    let config = write(
        &dir,
        "greeter.toml",
        &format!(
            r#"# settings, as the flags name them
port = 1
upstream_timeout = "5s"
log_format = "text"

[[upstreams]]
name = "fast"
url = "{fast}"
[upstreams.headers]
Accept = "application/vnd.test+json"
Authorization = {{ env = "TEST_UPSTREAM_TOKEN" }}
X-Api-Key = {{ file = "{secret_file}" }}

[[upstreams]]
name = "slow"
url = "{slow}"
timeout = "300ms"

[[upstreams]]
name = "large"
url = "{large}"
max_body = "1KiB"
"#,
            fast = fast.url,
            slow = slow.url,
            large = large.url,
        ),
    );
    let mut process = GreeterProcess::start(
        &["--config", &config, "--port", "0"],
        &[
            ("TEST_UPSTREAM_TOKEN", &format!("Bearer {SECRET_ENV}")),
            ("GREETER_LOG_FORMAT", "json"),
            ("RUST_LOG", "debug"),
        ],
    );
    let address = process.address();
    let mut response = client()
        .get(format!("{address}/aggregate"))
        .send()
        .await
        .unwrap();
    let answer: Value = response.json().limit(1 << 20).await.unwrap();
    assert_eq!(source(&answer, "fast")["ok"], true, "{answer}");
    assert_eq!(
        header_values(&fast, "accept"),
        [Some("application/vnd.test+json".to_owned())]
    );
    assert_eq!(
        header_values(&fast, "authorization"),
        [Some(format!("bearer {SECRET_ENV}"))], // heads are lowercased
    );
    assert_eq!(
        header_values(&fast, "x-api-key"),
        [Some(SECRET_FILE.to_owned())]
    );
    assert_eq!(
        header_values(&slow, "authorization"),
        [None],
        "headers are per upstream"
    );

    let slow_result = source(&answer, "slow");
    assert_eq!(slow_result["error"]["type"], "timeout", "{answer}");
    assert_eq!(slow_result["error"]["detail"], "no answer within 300ms");
    assert_eq!(source(&answer, "large")["error"]["type"], "too_large");

    // The environment's log format and the flag's port won over the file's.
    let access = process.wait_for_line("/aggregate", Duration::from_secs(5));
    assert!(access.starts_with('{'), "JSON logs: {access}");

    // No output shows a secret: the logs (debug level), the metrics, the documents.
    let mut outputs = vec![answer.to_string()];
    for path in ["/metrics", "/openapi.json", "/openapi-3.0.json"] {
        let mut response = client()
            .get(format!("{address}{path}"))
            .send()
            .await
            .unwrap();
        let body = response.body().limit(1 << 22).await.unwrap();
        outputs.push(String::from_utf8_lossy(&body).into_owned());
    }
    process.signal(Signal::SIGTERM);
    assert_eq!(process.wait_for_exit(Duration::from_secs(10)), Some(0));
    outputs.extend(process.lines());
    assert!(outputs.len() > 6, "{outputs:?}");
    for output in &outputs {
        assert!(
            !output.contains(SECRET_ENV) && !output.contains(SECRET_FILE),
            "a secret in: {output}"
        );
    }
}

/// `greeter check-config` prints the settings as resolved, where each came from, and every
/// upstream's headers with the secrets redacted; an error is one line and exit 2.
#[test]
fn check_config_prints_the_resolved_settings_with_secrets_redacted() {
    let dir = TempDir::new("check-config");
    let secret_file = write(&dir, "key", SECRET_FILE);
    let config = write(
        &dir,
        "greeter.toml",
        &format!(
            "io_delay = \"250ms\"\nport = 9000\n\n[[upstreams]]\nname = \"billing\"\n\
             url = \"https://billing.example/v1\"\ntimeout = \"3s\"\n[upstreams.headers]\n\
             Accept = \"application/json\"\nAuthorization = {{ env = \"TEST_TOKEN\" }}\n\
             X-Api-Key = {{ file = \"{secret_file}\" }}\nX-Auth-Token = \"{SECRET_ENV}\"\n"
        ),
    );
    let output = greeter(
        &["check-config", "--config", &config, "--port", "9100"],
        &[
            ("TEST_TOKEN", SECRET_ENV),
            ("GREETER_UPSTREAM_TIMEOUT", "4s"),
        ],
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    for line in [
        &format!("io_delay = \"250ms\"  # {config}:1"),
        "port = \"9100\"  # command line",
        "upstream_timeout = \"4s\"  # environment: GREETER_UPSTREAM_TIMEOUT",
        "host = \"127.0.0.1\"  # default",
        &format!("[[upstreams]]  # {config}:4"),
        "name = \"billing\"",
        "timeout = \"3s\"  # its own",
        "max_body = 1048576  # bytes, from --upstream-max-body",
        "\"accept\" = \"application/json\"",
        "\"authorization\" = { env = \"TEST_TOKEN\" }  # a secret, 22 bytes",
        &format!("\"x-api-key\" = {{ file = \"{secret_file}\" }}  # a secret, 23 bytes"),
        "# \"x-auth-token\" = <a credential written in the file, 22 bytes, redacted>",
    ] {
        assert!(
            stdout.lines().any(|l| l == line),
            "no {line:?} in:\n{stdout}"
        );
    }
    // The output is a configuration file that gives the same settings.
    let again = write(&dir, "again.toml", &stdout);
    let output = greeter(
        &["check-config", "--config", &again],
        &[("TEST_TOKEN", SECRET_ENV)],
    );
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let replayed = String::from_utf8_lossy(&output.stdout);
    assert!(
        replayed.contains("upstream_timeout = \"4s\"  # "),
        "{replayed}"
    );
    assert!(
        replayed.contains("\"authorization\" = { env = \"TEST_TOKEN\" }"),
        "{replayed}"
    );
    for output in [&stdout, &stderr] {
        assert!(!output.contains(SECRET_ENV) && !output.contains(SECRET_FILE));
    }

    // A variable a header needs, unset: one line naming it, exit 2, no port bound.
    let output = greeter(&["check-config", "--config", &config], &[]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert_eq!(
        stderr.trim_end(),
        format!(
            "error: {config}:10: upstreams[0].headers.Authorization: the environment variable \
             TEST_TOKEN is not set"
        )
    );
}

/// Each kind of mistake in the file is one line naming the file, the line and the key, with
/// exit 2, whether serving or checking; no secret is in it.
#[test]
fn a_bad_file_is_one_line_naming_file_line_and_key() {
    let dir = TempDir::new("bad-config");
    let cases: [(&str, usize, &str); 11] = [
        ("port = 8000\nworkrs = 2\n", 2, "workrs: unknown setting"),
        (
            "\nio_delay = \"soon\"\n",
            2,
            "io_delay: invalid value 'soon' for '--io-delay",
        ),
        (
            "max_connections = 0\n",
            1,
            "max_connections: invalid value '0'",
        ),
        ("port = [\n", 2, "invalid array"),
        (
            "[[upstreams]]\nname = \"a\"\nurl = \"http://127.0.0.1:9/\"\nretries = 3\n",
            4,
            "upstreams[0].retries: unknown key",
        ),
        (
            "[[upstreams]]\nname = \"a\"\nurl = \"http://127.0.0.1:9/\"\n\
             ca_file = \"/etc/ca.pem\"\n",
            4,
            "upstreams[0].ca_file: the upstream is called over http://",
        ),
        (
            "[[upstreams]]\nname = \"a\"\nurl = \"http://127.0.0.1:9/\"\n\
             headers = { X-Key = \"tok-file-9a2c7e1f0d4b88\\r\\nX-Evil: 1\" }\n",
            4,
            "upstreams[0].headers.X-Key: the value holds a control character",
        ),
        (
            "[[upstreams]]\nname = \"a\"\nurl = \"http://127.0.0.1:9/\"\n\
             [[upstreams]]\nname = \"a\"\nurl = \"http://127.0.0.1:8/\"\n",
            5,
            "upstreams[1].name: the name a is given twice",
        ),
        (
            "port = 0\nrate_limit_burst = 5\n",
            2,
            "rate_limit_burst: --rate-limit-burst needs --rate-limit",
        ),
        (
            "\nupstream_body_budget = \"1KiB\"\n",
            2,
            "upstream_body_budget: invalid value '1.0 KiB' for '--upstream-body-budget",
        ),
        (
            "api_keys_file = \"/nonexistent/keys\"\n",
            1,
            "api_keys_file: --api-keys-file /nonexistent/keys: cannot read it",
        ),
    ];
    for (text, line, says) in cases {
        let config = write(&dir, "bad.toml", text);
        for command in [&["--port", "0"][..], &["check-config"]] {
            let mut args = command.to_vec();
            args.extend(["--config", &config]);
            let output = greeter(&args, &[]);
            let stderr = String::from_utf8_lossy(&output.stderr);
            // Serving, a file that cannot be read at start is logged (exit 1) as any start-up
            // error; every other mistake stops it before that (exit 2).
            let code = if text.starts_with("api_keys_file") && command[0] != "check-config" {
                1
            } else {
                2
            };
            assert_eq!(output.status.code(), Some(code), "{text:?}: {stderr}");
            assert_eq!(stderr.lines().count(), 1, "{text:?}: {stderr}");
            let expected = match line {
                0 => "error: ".to_owned(),
                line => format!("error: {config}:{line}: "),
            };
            assert!(stderr.starts_with(&expected), "{text:?}: {stderr}");
            assert!(stderr.contains(says), "{text:?}: {stderr}");
            assert!(!stderr.contains(SECRET_FILE), "{stderr}");
        }
    }
    // The file itself: missing, or not a regular file.
    for (path, says) in [
        ("/nonexistent/greeter.toml", "cannot read it"),
        ("/dev/zero", "is not a regular file"),
    ] {
        let output = greeter(&["--config", path], &[]);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{stderr}");
        assert!(
            stderr.starts_with(&format!("error: {path}: {says}")),
            "{stderr}"
        );
    }
    // From the environment as well as the flag.
    let output = Command::new(env!("CARGO_BIN_EXE_greeter"))
        .arg("check-config")
        .env("GREETER_CONFIG", "/nonexistent/env.toml")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("/nonexistent/env.toml"));
}

/// The example file in deploy/ is valid as shipped (given the secrets it names).
#[test]
fn the_example_file_checks() {
    let example = crate::helpers::project_root().join("deploy/config/greeter.toml");
    let dir = TempDir::new("example");
    let key = write(&dir, "weather-key", "example-key");
    let (ca, _) = crate::upstream_tls::certificate_authority("example CA");
    let ca = write(&dir, "internal-ca.pem", &ca);
    let text = std::fs::read_to_string(&example)
        .unwrap()
        .replace("/run/credentials/greeter.service/weather-key", &key)
        .replace("/etc/greeter/internal-ca.pem", &ca);
    let config = write(&dir, "greeter.toml", &text);
    let output = greeter(
        &["check-config", "--config", &config],
        &[("BILLING_TOKEN", "example-token")],
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    assert!(Path::new(&example).exists());
}

/// `greeter healthcheck` asks the port of the configuration file the server reads
/// (`GREETER_CONFIG` in a container), unless told another.
#[test]
fn healthcheck_asks_the_configuration_files_port() {
    let (mut server, address) = GreeterProcess::serve(&[]);
    let port = address.rsplit(':').next().unwrap().to_owned();
    let dir = TempDir::new("healthcheck-config");
    let config = write(&dir, "greeter.toml", &format!("port = {port}\n"));
    let output = Command::new(env!("CARGO_BIN_EXE_greeter"))
        .arg("healthcheck")
        .env("GREETER_CONFIG", &config)
        .env_remove("GREETER_PORT")
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let elsewhere = greeter(&["healthcheck", "--config", &config, "--port", "1"], &[]);
    assert_eq!(elsewhere.status.code(), Some(1), "the flag wins");
    server.signal(Signal::SIGTERM);
    server.wait_for_exit(Duration::from_secs(10));
}
