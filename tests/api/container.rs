//! The container image `make image` builds (make test builds it first where docker or podman is
//! installed): at most 13 MB, labelled, running greeter as a non-root user with nothing else in
//! it (no shell), answering `GET /` and `/docs/`, healthy by its own `HEALTHCHECK`, and stopped
//! by `stop` with exit 0 within the drain and grace time.

use std::process::{Command, Output};
use std::time::{Duration, Instant};

use crate::helpers::{get_request, raw_http_blocking, skip};

/// The image's name, as the Makefile tags it.
fn image() -> String {
    format!("greeter:{}", env!("CARGO_PKG_VERSION"))
}

/// docker or podman, with the arguments `run` needs on these machines (podman: the runc runtime
/// and explicit limits within the machine's hard ones).
fn engine() -> Option<(String, Vec<&'static str>)> {
    for (name, run_args) in [
        ("docker", vec![]),
        (
            "podman",
            vec![
                "--runtime",
                "runc",
                "--ulimit",
                "nofile=20000:20000",
                "--ulimit",
                "nproc=4096:4096",
            ],
        ),
    ] {
        // `info` asks the engine itself: a docker client without its daemon does not count.
        if Command::new(name)
            .arg("info")
            .output()
            .is_ok_and(|o| o.status.success())
        {
            return Some((name.to_owned(), run_args));
        }
    }
    None
}

fn run(engine: &str, args: &[&str]) -> Output {
    Command::new(engine)
        .args(args)
        .output()
        .expect("cannot run the container engine")
}

fn text(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).trim().to_owned()
}

/// A container removed when dropped.
struct Container {
    engine: String,
    id: String,
}

impl Drop for Container {
    fn drop(&mut self) {
        let _ = run(&self.engine, &["rm", "--force", &self.id]);
    }
}

#[test]
fn the_image_serves_as_a_non_root_user_with_nothing_else_and_stops_cleanly() {
    let Some((engine, run_args)) = engine() else {
        return skip("neither docker nor podman is installed (apt-get install podman runc)");
    };
    let inspect = run(&engine, &["image", "inspect", &image()]);
    if !inspect.status.success() {
        return skip(&format!(
            "{} is not built; make test runs make image first",
            image()
        ));
    }
    let details: serde_json::Value = serde_json::from_slice(&inspect.stdout).unwrap();
    let details = &details[0];
    let size = details["Size"].as_u64().unwrap();
    // 12 MB until HTTP/2 to upstreams (h2, 0.35 MB of code) and the configuration file
    // (figment, toml) came in: 12.5 MB measured, with the start-up-only crates optimised for
    // size (docs/benchmarks.md).
    assert!(size <= 13_000_000, "the image is {size} bytes");
    let config = &details["Config"];
    assert_eq!(config["User"], "10001:10001");
    let labels = &config["Labels"];
    for label in ["source", "version", "licenses", "title"] {
        let name = format!("org.opencontainers.image.{label}");
        assert!(
            labels[&name].as_str().is_some_and(|v| !v.is_empty()),
            "{name}: {labels}"
        );
    }
    assert_eq!(
        labels["org.opencontainers.image.version"],
        env!("CARGO_PKG_VERSION")
    );
    // docker reports it in the config, podman beside it.
    let health_check = match &config["Healthcheck"] {
        serde_json::Value::Null => &details["Healthcheck"],
        found => found,
    };
    assert!(
        health_check["Test"].to_string().contains("healthcheck"),
        "{details}"
    );

    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    // Read-only, as the Kubernetes manifest runs it.
    let mut args = vec!["run", "--detach", "--read-only", "--network", "host"];
    args.extend(run_args.iter().copied());
    let port_env = format!("GREETER_PORT={port}");
    args.extend(["--env", &port_env, "--env", "GREETER_DRAIN_DELAY=1s"]);
    let image = image();
    args.push(&image);
    let started = run(&engine, &args);
    assert!(started.status.success(), "{started:?}");
    let container = Container {
        engine: engine.clone(),
        id: text(&started),
    };

    let address = format!("127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(20);
    let greeting = loop {
        match raw_http_blocking(&address, &get_request("/")) {
            Ok(answer) => break answer,
            Err(_) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(100)),
            Err(error) => panic!("the container does not answer: {error}"),
        }
    };
    assert!(greeting.starts_with("HTTP/1.1 200") && greeting.ends_with(r#"{"Hello":"World"}"#));
    let docs = raw_http_blocking(&address, &get_request("/docs/")).unwrap();
    assert!(docs.starts_with("HTTP/1.1 200"), "{docs}");

    // Its own HEALTHCHECK, run by the engine as it would on schedule (docker runs it itself;
    // podman needs systemd timers for that, absent here), and by hand inside (no curl there).
    if engine == "podman" {
        let health = run(&engine, &["healthcheck", "run", &container.id]);
        assert!(health.status.success(), "{health:?}");
    }
    let health = run(&engine, &["exec", &container.id, "/greeter", "healthcheck"]);
    assert!(health.status.success(), "{health:?}");
    // Nothing but greeter: no shell to run.
    let shell = run(&engine, &["exec", &container.id, "/bin/sh", "-c", "true"]);
    assert!(!shell.status.success(), "the image has a shell");
    // greeter runs as uid 10001 on the host too (no user namespace here).
    let pid = text(&run(
        &engine,
        &["inspect", "--format", "{{.State.Pid}}", &container.id],
    ));
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let uid = status
        .lines()
        .find(|l| l.starts_with("Uid:"))
        .unwrap()
        .to_owned();
    assert!(
        uid.split_whitespace().skip(1).all(|id| id == "10001"),
        "{uid}"
    );

    let stopping = Instant::now();
    let stopped = run(&engine, &["stop", "--time", "30", &container.id]);
    let took = stopping.elapsed();
    assert!(stopped.status.success(), "{stopped:?}");
    let exit = text(&run(
        &engine,
        &["inspect", "--format", "{{.State.ExitCode}}", &container.id],
    ));
    assert_eq!(exit, "0", "exit code after stop");
    // The 1 s drain, then the stop: well before the 30 s after which the engine kills.
    assert!(took < Duration::from_secs(10), "stop took {took:?}");
    println!("image {size} bytes; stop took {took:?}");
}
