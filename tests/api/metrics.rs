//! `GET /metrics`: Prometheus' text format read by real parsers (the Python client's, and
//! `promtool check metrics`) and scraped by a real Prometheus server started here; counts match
//! the requests made, and unmatched paths add no series.

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use greeter::config::{Mount, ServeSettings, Upstream};
use serde_json::Value;

use crate::helpers::{
    GreeterProcess, TestApp, project_root, raw_http, skip, spawn_app_with, test_settings,
};

/// One sample of the text: its name, labels and value.
#[derive(Debug)]
struct Sample {
    name: String,
    labels: Value,
    value: f64,
}

/// The samples of `text`, as the official Python client's parser reads it; `None` (after a
/// skip) where the parser is not installed.
fn parse(text: &str) -> Option<Vec<Sample>> {
    let python = project_root().join(".venv/bin/python");
    if !python.exists() {
        skip("the Python prometheus_client parser is not in .venv; `make test` installs it");
        return None;
    }
    let mut parser = Command::new(python);
    parser.arg(project_root().join("tests/metrics/parse_metrics.py"));
    let output = run_with_input(&mut parser, text).unwrap();
    assert!(
        output.status.success(),
        "the parser refused the text: {}\n{text}",
        String::from_utf8_lossy(&output.stderr)
    );
    let samples: Vec<Value> = serde_json::from_slice(&output.stdout).unwrap();
    Some(
        samples
            .into_iter()
            .map(|s| Sample {
                name: s["name"].as_str().unwrap().to_owned(),
                labels: s["labels"].clone(),
                value: s["value"].as_f64().unwrap(),
            })
            .collect(),
    )
}

/// Runs `command` with `input` on its stdin; its output, or why it could not start.
fn run_with_input(command: &mut Command, input: &str) -> std::io::Result<std::process::Output> {
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    child
        .stdin
        .take()
        .expect("a piped stdin")
        .write_all(input.as_bytes())?;
    child.wait_with_output()
}

/// The value of the sample `name` whose labels include `labels`, if there is one.
fn value(samples: &[Sample], name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    samples
        .iter()
        .find(|s| s.name == name && labels.iter().all(|(k, v)| s.labels[*k] == *v))
        .map(|s| s.value)
}

async fn metrics_text(app: &TestApp) -> String {
    let reply = app.get("/metrics").await;
    assert_eq!(reply.status, 200);
    assert_eq!(
        reply.header("content-type"),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    reply.text()
}

/// The series (sample lines) of a metrics text.
fn series(text: &str) -> usize {
    text.lines().filter(|l| !l.starts_with('#')).count()
}

/// Asserts that the app's metrics have no series beyond `before` but those of the scrape that
/// measured `before` (its own `GET /metrics` series), and that they count in `sample`.
async fn assert_counted_in_no_new_series(app: &TestApp, before: usize, sample: &str) {
    let text = metrics_text(app).await;
    let scrape_series = text
        .lines()
        .filter(|l| !l.starts_with('#') && l.contains(r#"route="/metrics""#))
        .count();
    assert_eq!(series(&text), before + scrape_series, "{text}");
    assert!(text.contains(sample), "no {sample} in {text}");
}

#[actix_web::test]
async fn requests_are_counted_by_method_route_template_and_status() {
    let app = spawn_app_with(ServeSettings {
        io_delay: Duration::ZERO.into(),
        ..test_settings()
    });
    for _ in 0..3 {
        assert_eq!(app.get("/").await.status, 200);
    }
    assert_eq!(app.get("/hello/Ada").await.status, 200);
    assert_eq!(app.get("/hello/Grace").await.status, 200);
    assert_eq!(app.get("/nowhere/at/all").await.status, 404);
    let head = raw_http(
        app.socket_address(),
        "HEAD /healthz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    let post = raw_http(
        app.socket_address(),
        "POST /healthz HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert!(post.starts_with("HTTP/1.1 405"), "{post}");

    let Some(samples) = parse(&metrics_text(&app).await) else {
        return;
    };
    let count = |method, route, status| {
        value(
            &samples,
            "http_requests_total",
            &[("method", method), ("route", route), ("status", status)],
        )
    };
    assert_eq!(count("GET", "/", "200"), Some(3.0));
    assert_eq!(count("GET", "/hello/{name}", "200"), Some(2.0));
    assert_eq!(count("GET", "unmatched", "404"), Some(1.0));
    assert_eq!(count("HEAD", "/healthz", "200"), Some(1.0));
    // No route takes it (the fallback answers 405): unmatched too.
    assert_eq!(count("POST", "unmatched", "405"), Some(1.0));
    let histogram_count = value(
        &samples,
        "http_request_duration_seconds_count",
        &[("method", "GET"), ("route", "/hello/{name}")],
    );
    assert_eq!(histogram_count, Some(2.0));
    // The scrape itself is in flight while it renders.
    assert_eq!(value(&samples, "http_requests_in_flight", &[]), Some(1.0));
    for process in [
        "process_resident_memory_bytes",
        "process_open_fds",
        "process_start_time_seconds",
    ] {
        assert!(
            value(&samples, process, &[]).is_some_and(|v| v > 0.0),
            "{process}"
        );
    }
    // Whole seconds (the collector's resolution): 0 this early in a test process is fine.
    assert!(value(&samples, "process_cpu_seconds_total", &[]).is_some_and(|v| v >= 0.0));
}

/// A scanner's 10,000 different unknown paths all count under `route="unmatched"`: not one
/// series is added.
#[actix_web::test]
async fn ten_thousand_unknown_paths_add_no_series() {
    let app = spawn_app_with(test_settings());
    assert_eq!(app.get("/scan/first").await.status, 404);
    let before = series(&metrics_text(&app).await);

    let paths: Vec<String> = (0..10_000).map(|n| format!("/scan/{n}/x{n}.php")).collect();
    for chunk in paths.chunks(100) {
        let replies = futures_util::future::join_all(chunk.iter().map(|path| app.get(path))).await;
        assert!(replies.iter().all(|r| r.status == 404));
    }

    let sample = r#"http_requests_total{method="GET",route="unmatched",status="404"} 10001"#;
    assert_counted_in_no_new_series(&app, before, sample).await;
}

/// Made-up methods (a client may send any token) count as `method="other"`: no series each.
#[actix_web::test]
async fn made_up_methods_add_no_series() {
    let app = spawn_app_with(test_settings());
    let warm = raw_http(
        app.socket_address(),
        "XMETHOD0 / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert!(warm.starts_with("HTTP/1.1 405"), "{warm}");
    let before = series(&metrics_text(&app).await);

    for n in 1..200 {
        let answer = raw_http(
            app.socket_address(),
            &format!("XMETHOD{n} / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"),
        )
        .await;
        assert!(answer.starts_with("HTTP/1.1 405"), "{answer}");
    }

    let sample = r#"http_requests_total{method="other",route="unmatched",status="405"} 200"#;
    assert_counted_in_no_new_series(&app, before, sample).await;
}

/// Each upstream call of `GET /aggregate` is counted by upstream and outcome.
#[actix_web::test]
async fn upstream_calls_are_counted_by_upstream_and_outcome() {
    let upstream = spawn_app_with(test_settings());
    let refusing = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let refusing_url = format!("http://{}/", refusing.local_addr().unwrap());
    drop(refusing);
    let app = spawn_app_with(ServeSettings {
        upstreams: vec![
            Upstream::parse(&format!("good={}/", upstream.address)).unwrap(),
            Upstream::parse(&format!("gone={refusing_url}")).unwrap(),
        ],
        ..test_settings()
    });
    for _ in 0..2 {
        assert_eq!(app.get("/aggregate").await.status, 200);
    }

    let Some(samples) = parse(&metrics_text(&app).await) else {
        return;
    };
    let calls = |upstream, outcome| {
        value(
            &samples,
            "upstream_requests_total",
            &[("upstream", upstream), ("outcome", outcome)],
        )
    };
    assert_eq!(calls("good", "ok"), Some(2.0));
    assert_eq!(calls("gone", "connect"), Some(2.0));
    let durations = value(
        &samples,
        "upstream_request_duration_seconds_count",
        &[("upstream", "good")],
    );
    assert_eq!(durations, Some(2.0));
}

#[actix_web::test]
async fn the_metrics_path_is_a_setting_and_off_removes_it() {
    let moved = spawn_app_with(ServeSettings {
        metrics_path: "/internal/metrics".parse().unwrap(),
        ..test_settings()
    });
    assert_eq!(moved.get("/internal/metrics").await.status, 200);
    assert_eq!(moved.get("/metrics").await.status, 404);

    let off = spawn_app_with(ServeSettings {
        metrics_path: Mount::Off,
        ..test_settings()
    });
    let reply = off.get("/metrics").await;
    assert_eq!(reply.status, 404);
    assert_eq!(reply.json(), serde_json::json!({"detail": "Not Found"}));
}

#[test]
fn a_metrics_path_an_api_route_or_the_docs_take_is_refused_at_start() {
    for taken in [
        "/healthz",
        "/hello/metrics",
        "/openapi.json",
        "/docs/metrics",
    ] {
        let output = GreeterProcess::command(&["--port", "0", "--metrics-path", taken])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "{taken}: {stderr}");
        assert!(
            stderr.contains(&format!("{taken} is taken")),
            "{taken}: {stderr}"
        );
    }
}

/// `promtool check metrics` (Prometheus' own linter) passes on the text after real traffic.
#[actix_web::test]
async fn promtool_check_metrics_passes() {
    let app = spawn_app_with(test_settings());
    assert_eq!(app.get("/hello/Ada").await.status, 200);
    assert_eq!(app.get("/nowhere").await.status, 404);
    let text = metrics_text(&app).await;

    let mut promtool = Command::new("promtool");
    promtool.args(["check", "metrics"]);
    let Ok(output) = run_with_input(&mut promtool, &text) else {
        return skip("promtool is not installed (Debian package prometheus; .ci/run installs it)");
    };
    assert!(
        output.status.success(),
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// A real Prometheus server, started here with a scrape configuration pointing at a greeter
/// process, sees the target up and `http_requests_total` at the number of requests made.
#[test]
fn a_real_prometheus_scrapes_greeter() {
    let Ok(prometheus) = which("prometheus") else {
        return skip(
            "prometheus is not installed (Debian package prometheus; .ci/run installs it)",
        );
    };
    let (_greeter, address) = GreeterProcess::serve(&["--io-delay", "0s"]);
    let target = address.trim_start_matches("http://").to_owned();
    for _ in 0..7 {
        let answer =
            crate::helpers::raw_http_blocking(&target, &crate::helpers::get_request("/")).unwrap();
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    }
    let dir = project_root().join(format!("target/prometheus-test-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let config = dir.join("prometheus.yml");
    std::fs::write(
        &config,
        format!(
            "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:\n  - job_name: greeter\n    static_configs:\n      - targets: ['{target}']\n"
        ),
    )
    .unwrap();
    let web = crate::helpers::free_port_listener()
        .local_addr()
        .unwrap()
        .to_string();
    /// Kills the server when the test ends, passed or failed.
    struct Killed(std::process::Child);
    impl Drop for Killed {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let _server = Killed(
        Command::new(prometheus)
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.join("data").display()
            ))
            .arg(format!("--web.listen-address={web}"))
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.join("prometheus.log")).unwrap())
            .spawn()
            .unwrap(),
    );

    let query = |promql: &str| -> Option<f64> {
        let encoded =
            percent_encoding::utf8_percent_encode(promql, percent_encoding::NON_ALPHANUMERIC);
        let answer = crate::helpers::raw_http_blocking(
            &web,
            &crate::helpers::get_request(&format!("/api/v1/query?query={encoded}")),
        )
        .ok()?;
        let body: Value = serde_json::from_str(answer.split_once("\r\n\r\n")?.1).ok()?;
        body["data"]["result"][0]["value"][1].as_str()?.parse().ok()
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    let requests = r#"http_requests_total{job="greeter",method="GET",route="/",status="200"}"#;
    loop {
        if query(r#"up{job="greeter"}"#) == Some(1.0) && query(requests) == Some(7.0) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "Prometheus never saw the target up with 7 requests: up {:?}, requests {:?}; log:\n{}",
            query(r#"up{job="greeter"}"#),
            query(requests),
            std::fs::read_to_string(dir.join("prometheus.log")).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(250));
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// The path of `program` on `PATH`.
fn which(program: &str) -> Result<std::path::PathBuf, ()> {
    std::env::var_os("PATH")
        .and_then(|path| {
            std::env::split_paths(&path)
                .map(|dir| dir.join(program))
                .find(|candidate| candidate.is_file())
        })
        .ok_or(())
}
