use std::net::TcpListener;
use std::process::{Command, Output};

use crate::helpers::{GreeterProcess, get_request, project_root, raw_http_blocking};

fn greeter(args: &[&str], envs: &[(&str, &str)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_greeter"));
    command.args(args);
    for (key, value) in envs {
        command.env(key, value);
    }
    command.output().expect("cannot run greeter")
}

fn assert_one_line_error_naming(output: &Output, flag: &str) {
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert_eq!(
        stderr.trim_end().lines().count(),
        1,
        "not one line: {stderr:?}"
    );
    assert!(stderr.starts_with("error: "), "{stderr}");
    assert!(stderr.contains(flag), "does not name {flag}: {stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn help_documents_every_setting_and_its_environment_variable() {
    let output = greeter(&["--help"], &[]);
    let help = String::from_utf8_lossy(&output.stdout);

    assert!(output.status.success());
    for setting in [
        "host",
        "port",
        "workers",
        "backlog",
        "max-body",
        "max-header-size",
        "max-uri-length",
        "head-timeout",
        "keep-alive",
        "max-connections",
        "shutdown-timeout",
        "docs-path",
        "openapi-path",
        "root-path",
        "io-delay",
        "upstream-timeout",
        "upstream-max-body",
        "upstream-max-connections",
    ] {
        let flag = format!("--{setting}");
        let variable = format!("GREETER_{}", setting.to_uppercase().replace('-', "_"));
        for item in [&flag, &variable] {
            assert!(
                help.contains(item.as_str()),
                "--help does not mention {item}:\n{help}"
            );
        }
    }
    for item in [
        "RUST_LOG",
        "serve",
        "openapi",
        "--upstream",
        "GREETER_UPSTREAMS",
    ] {
        assert!(
            help.contains(item),
            "--help does not mention {item}:\n{help}"
        );
    }
}

#[test]
fn bad_flag_values_get_a_one_line_error_and_exit_code_2() {
    for (flag, value) in [
        ("--port", "abc"),
        ("--port", "70000"),
        ("--workers", "0"),
        ("--workers", "-1"),
        ("--port", "-80"),
        ("--io-delay", "soon"),
        ("--io-delay", "-1s"),
        ("--host", "nowhere"),
        ("--backlog", "0"),
        // Past actix-server's 512 workers (it panicked), and a duration that overflowed the
        // clock of every connection.
        ("--workers", "513"),
        ("--head-timeout", "400000000000y"),
        ("--keep-alive", "400000000000y"),
        ("--shutdown-timeout", "2h"),
        ("--max-uri-length", "64KiB"),
    ] {
        let output = greeter(&[flag, value], &[]);
        assert_one_line_error_naming(&output, flag);
    }
    // A target limit the head limit would always beat to it (the target is part of the head).
    let output = greeter(&["--max-uri-length", "8KiB", "--port", "0"], &[]);
    assert_one_line_error_naming(&output, "--max-header-size");
    // A body budget below the largest body: a body that size could never be held.
    let output = greeter(
        &[
            "--upstream-body-budget",
            "512KiB",
            "--upstream-max-body",
            "1MiB",
        ],
        &[],
    );
    assert_one_line_error_naming(&output, "--upstream-body-budget");
    assert!(String::from_utf8_lossy(&output.stderr).contains("smaller than --upstream-max-body"));
    let output = greeter(
        &[
            "--upstream-body-budget",
            "1MiB",
            "--upstream-max-body",
            "1MiB",
            "--help",
        ],
        &[],
    );
    assert!(output.status.success(), "equal is fine");
}

#[test]
fn bad_environment_values_name_their_flag() {
    for (variable, flag) in [
        ("GREETER_PORT", "--port"),
        ("GREETER_WORKERS", "--workers"),
        ("GREETER_IO_DELAY", "--io-delay"),
        ("GREETER_HOST", "--host"),
        ("GREETER_BACKLOG", "--backlog"),
    ] {
        let output = greeter(&[], &[(variable, "bogus")]);
        assert_one_line_error_naming(&output, flag);
    }
}

#[test]
fn unknown_arguments_get_a_one_line_error() {
    let output = greeter(&["--colour", "blue"], &[]);
    assert_one_line_error_naming(&output, "--colour");
}

/// `greeter openapi | head -c 200`: a reader that stops early is no error (exit 0, nothing on
/// stderr). The document (over 64 KiB) is larger than the pipe holds, so the write meets the
/// closed pipe.
#[test]
fn openapi_into_a_pipe_closed_early_is_no_error() {
    use std::io::Read;
    let mut child = Command::new(env!("CARGO_BIN_EXE_greeter"))
        .arg("openapi")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut start = [0u8; 200];
    child.stdout.take().unwrap().read_exact(&mut start).unwrap();
    assert!(start.starts_with(b"{"));
    let output = child.wait_with_output().unwrap();
    assert_eq!(
        (
            output.status.code(),
            String::from_utf8_lossy(&output.stderr).as_ref()
        ),
        (Some(0), "")
    );
}

#[test]
fn openapi_subcommand_prints_each_edition() {
    for (args, committed) in [
        (&["openapi"][..], "openapi/openapi.json"),
        (
            &["openapi", "--spec-version", "3.1"][..],
            "openapi/openapi.json",
        ),
        (
            &["openapi", "--spec-version", "3.0"][..],
            "openapi/openapi-3.0.json",
        ),
    ] {
        let output = greeter(args, &[]);

        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let committed = std::fs::read_to_string(project_root().join(committed)).unwrap();
        assert_eq!(String::from_utf8(output.stdout).unwrap(), committed);
    }
    assert_one_line_error_naming(
        &greeter(&["openapi", "--spec-version", "2.0"], &[]),
        "--spec-version",
    );
}

#[test]
fn a_port_in_use_is_a_clean_error() {
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();

    let output = greeter(&["--port", &port], &[("RUST_LOG", "off")]);

    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!("cannot listen on 127.0.0.1:{port}")),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn environment_variables_configure_the_server() {
    let port = crate::helpers::free_port_listener()
        .local_addr()
        .unwrap()
        .port()
        .to_string();
    let mut process = GreeterProcess::start(
        &[],
        &[
            ("GREETER_PORT", &port),
            ("GREETER_WORKERS", "1"),
            ("GREETER_IO_DELAY", "0s"),
        ],
    );

    let line = process.wait_for_line("listening on", std::time::Duration::from_secs(30));

    assert!(
        line.contains(&format!("http://127.0.0.1:{port} ")),
        "{line}"
    );
    assert!(line.contains("workers: 1, "), "{line}");
    assert!(line.contains("I/O delay: 0s"), "{line}");
}

#[test]
fn startup_line_names_the_urls_and_each_request_is_logged() {
    let (mut process, address) = GreeterProcess::serve(&["--io-delay", "0s"]);
    let startup = process.wait_for_line("listening on", std::time::Duration::from_secs(1));
    assert!(
        startup.contains(&format!("docs: {address}/docs/")),
        "{startup}"
    );
    assert!(
        startup.contains(&format!("spec: {address}/openapi.json")),
        "{startup}"
    );

    let socket = address.trim_start_matches("http://");
    raw_http_blocking(socket, &get_request("/healthz")).unwrap();
    raw_http_blocking(socket, &get_request("/nope")).unwrap();

    let timeout = std::time::Duration::from_secs(10);
    let line = process.wait_for_line(r#""GET /healthz HTTP/1.1" 200"#, timeout);
    let id = line.split_whitespace().rev().nth(1).unwrap_or_default();
    assert!(
        greeter::http::request_id::is_sane(id.as_bytes()),
        "no request id in {line}"
    );
    process.wait_for_line(r#""GET /nope HTTP/1.1" 404"#, timeout);
}

#[test]
fn a_docs_path_that_collides_with_a_route_is_a_clean_error() {
    let output = greeter(
        &["--port", "0", "--docs-path", "/healthz"],
        &[("RUST_LOG", "off")],
    );

    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("/healthz is taken by an API route"),
        "{stderr}"
    );
}

#[test]
fn docs_settings_come_from_the_environment_too() {
    let mut process = GreeterProcess::start(
        &[],
        &[
            ("GREETER_PORT", "0"),
            ("GREETER_DOCS_PATH", "off"),
            ("GREETER_OPENAPI_PATH", "/spec.json"),
            ("GREETER_ROOT_PATH", "/api/v1"),
        ],
    );

    let line = process.wait_for_line("listening on", std::time::Duration::from_secs(30));

    assert!(line.contains("docs: off"), "{line}");
    assert!(line.contains("/spec.json"), "{line}");
    assert!(line.contains("root path: /api/v1"), "{line}");
}

/// The binary allocates with jemalloc, configured for one arena (`src/main.rs`,
/// docs/benchmarks.md): jemalloc reports its settings at exit when asked to.
#[test]
fn the_binary_allocates_with_jemalloc_in_one_arena() {
    let output = greeter(&["openapi"], &[("_RJEM_MALLOC_CONF", "stats_print:true")]);
    let stderr = String::from_utf8_lossy(&output.stderr);

    assert!(output.status.success(), "{stderr}");
    assert!(stderr.contains("jemalloc statistics"), "{stderr}");
    assert!(stderr.contains("opt.narenas: 1\n"), "{stderr}");
}

/// A panic before serving (here: too few file descriptors for the runtime) is written to stderr
/// with its message and place, and the exit code says so; nothing is left in the log buffer.
#[test]
fn a_panic_before_serving_is_printed_and_exits_non_zero() {
    use std::os::unix::process::CommandExt;

    // Whatever the log filter: a panic is never filtered out.
    for filter in ["info", "off"] {
        let mut command = Command::new(env!("CARGO_BIN_EXE_greeter"));
        command
            .args(["--port", "0", "--workers", "2"])
            .env("RUST_LOG", filter);
        // SAFETY: setrlimit(2) is async-signal-safe, and nothing else runs between fork and exec.
        unsafe {
            command.pre_exec(|| {
                nix::sys::resource::setrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE, 8, 8)
                    .map_err(std::io::Error::from)
            });
        }
        let output = command.output().expect("cannot run greeter");
        let stderr = String::from_utf8_lossy(&output.stderr);

        assert_eq!(output.status.code(), Some(101), "{filter}: {stderr}");
        let panic = stderr
            .lines()
            .find(|line| line.contains("ERROR greeter::panic] panic at "))
            .unwrap_or_else(|| panic!("{filter}: no panic line in {stderr:?}"));
        assert!(panic.contains(".rs:"), "the place is missing: {panic}");
        assert!(panic.contains("Too many open files"), "one line: {panic}");
        assert!(
            stderr
                .trim_end()
                .ends_with("error: greeter panicked (see the line above)"),
            "{filter}: {stderr}"
        );
    }
}

#[test]
fn bad_upstreams_get_a_one_line_error_naming_the_flag() {
    for (value, says) in [
        ("nothing", "expected NAME=URL"),
        ("Upper=http://127.0.0.1:9/", "must be 1 to 32 of a-z"),
        ("a=https://127.0.0.1:99999/", "a port is 1 to 65535"),
        (
            "a=ftp://127.0.0.1:9/",
            "is not an absolute http:// or https:// URL",
        ),
        ("a=/relative", "is not an absolute http:// or https:// URL"),
        (
            "a=http://user:secret@127.0.0.1:9/",
            "carries no user or password",
        ),
        ("a=http://127.0.0.1:0/", "port 0: a port is 1 to 65535"),
        ("a=http://127.0.0.1:+80/", "port +80: a port is 1 to 65535"),
        ("a=http://[::1]x:80/", "after the host is not a port"),
        ("a=http://127.0.0.1:99999/", "a port is 1 to 65535"),
        ("a=http://[::1]:65536/", "a port is 1 to 65535"),
        (
            "a=http://:80/",
            "is not an absolute http:// or https:// URL",
        ),
    ] {
        let output = greeter(&["--upstream", value], &[]);
        assert_one_line_error_naming(&output, "--upstream");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(says), "{value}: {stderr}");
    }
    let twice = greeter(
        &["--port", "0"],
        &[(
            "GREETER_UPSTREAMS",
            "a=http://127.0.0.1:9/,a=http://127.0.0.1:10/",
        )],
    );
    assert_one_line_error_naming(&twice, "--upstream");
    assert!(String::from_utf8_lossy(&twice.stderr).contains("the name a is given twice"));
}

#[test]
fn upstream_limits_hold_at_their_edges() {
    for (flag, value) in [
        ("--upstream-timeout", "0s"),
        ("--upstream-timeout", "61min"),
        ("--upstream-max-connections", "0"),
        ("--upstream-max-connections", "65536"),
        ("--upstream-max-body", "0"),
    ] {
        assert_one_line_error_naming(&greeter(&[flag, value, "--port", "0"], &[]), flag);
    }
    // The edges themselves are accepted: only the bad port is refused.
    let output = greeter(
        &[
            "--upstream-timeout",
            "1h",
            "--upstream-max-connections",
            "65535",
            "--port",
            "99999",
        ],
        &[],
    );
    assert_one_line_error_naming(&output, "--port");
}

#[test]
fn drain_delay_holds_at_its_edges() {
    for value in ["61min", "-1s", "soon"] {
        assert_one_line_error_naming(
            &greeter(&["--drain-delay", value, "--port", "0"], &[]),
            "--drain-delay",
        );
    }
    assert_one_line_error_naming(
        &greeter(&["--port", "0"], &[("GREETER_DRAIN_DELAY", "2h")]),
        "--drain-delay",
    );
    // The edges themselves are accepted: only the bad port is refused.
    for value in ["0s", "1h"] {
        let output = greeter(&["--drain-delay", value, "--port", "99999"], &[]);
        assert_one_line_error_naming(&output, "--port");
    }
}

#[test]
fn forwarded_settings_refuse_bad_values_in_one_line() {
    for value in ["10.0.0.0/33", "localhost", "1.2.3.4,nope"] {
        assert_one_line_error_naming(
            &greeter(&["--forwarded-allow-ips", value, "--port", "0"], &[]),
            "--forwarded-allow-ips",
        );
    }
    assert_one_line_error_naming(
        &greeter(&["--forwarded-header", "x-real-ip", "--port", "0"], &[]),
        "--forwarded-header",
    );
}

#[test]
fn rate_limit_settings_hold_at_their_edges() {
    for (flag, value) in [
        ("--rate-limit", "0/s"),
        ("--rate-limit", "1000001/s"),
        ("--rate-limit", "10/h"),
        ("--rate-limit", "ten/s"),
        ("--rate-limit", "10"),
        ("--rate-limit-burst", "0"),
        ("--rate-limit-burst", "1000001"),
    ] {
        assert_one_line_error_naming(&greeter(&[flag, value, "--port", "0"], &[]), flag);
    }
    // A burst needs a rate.
    assert_one_line_error_naming(
        &greeter(&["--rate-limit-burst", "5", "--port", "0"], &[]),
        "--rate-limit",
    );
    // The edges themselves are accepted: only the bad port is refused.
    for (rate, burst) in [("1/min", "1"), ("1000000/s", "1000000")] {
        let output = greeter(
            &[
                "--rate-limit",
                rate,
                "--rate-limit-burst",
                burst,
                "--port",
                "99999",
            ],
            &[],
        );
        assert_one_line_error_naming(&output, "--port");
    }
}

#[test]
fn cors_origins_refuse_what_is_not_an_origin() {
    for value in [
        "app.example.com",
        "https://app.example.com/",
        "ftp://x.test",
        "https://u@x.test",
        "https://x.test/path",
    ] {
        assert_one_line_error_naming(
            &greeter(&["--cors-allow-origin", value, "--port", "0"], &[]),
            "--cors-allow-origin",
        );
    }
    let output = greeter(
        &[
            "--cors-allow-origin",
            "https://a.test:8443,*",
            "--port",
            "99999",
        ],
        &[],
    );
    assert_one_line_error_naming(&output, "--port");
}

#[test]
fn metrics_path_and_log_format_refuse_bad_values_in_one_line() {
    for value in ["metrics", "/metrics/", "/a//b"] {
        assert_one_line_error_naming(
            &greeter(&["--metrics-path", value, "--port", "0"], &[]),
            "--metrics-path",
        );
    }
    assert_one_line_error_naming(
        &greeter(&["--log-format", "yaml", "--port", "0"], &[]),
        "--log-format",
    );
    assert_one_line_error_naming(
        &greeter(&["--port", "0"], &[("GREETER_LOG_FORMAT", "xml")]),
        "--log-format",
    );
}

#[test]
fn at_most_64_upstreams_are_accepted() {
    let upstreams = |count: usize| {
        (0..count)
            .map(|i| format!("u{i}=http://127.0.0.1:9/"))
            .collect::<Vec<_>>()
            .join(",")
    };
    // 64 pass the check (the start then stops later, at the missing key file); 65 are refused.
    let at_limit = greeter(
        &["--port", "0", "--api-keys-file", "/nonexistent/keys"],
        &[("GREETER_UPSTREAMS", &upstreams(64))],
    );
    let stderr = String::from_utf8_lossy(&at_limit.stderr);
    assert_eq!(at_limit.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("--api-keys-file /nonexistent/keys: cannot read it"),
        "{stderr}"
    );
    let over = greeter(&["--port", "0"], &[("GREETER_UPSTREAMS", &upstreams(65))]);
    assert_one_line_error_naming(&over, "at most 64 upstreams");
}

#[test]
fn healthcheck_exits_0_only_on_a_200() {
    let (mut server, address) = crate::helpers::GreeterProcess::serve(&["--io-delay", "0s"]);
    let port = address.rsplit(':').next().unwrap().to_owned();
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let silent_url = format!("http://{}/healthz", silent.local_addr().unwrap());
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}/healthz", listener.local_addr().unwrap())
    };

    // By default it asks /healthz at GREETER_PORT, as the container image's HEALTHCHECK does.
    let healthy = greeter(&["healthcheck"], &[("GREETER_PORT", &port)]);
    assert_eq!(healthy.status.code(), Some(0), "{healthy:?}");
    assert!(String::from_utf8_lossy(&healthy.stdout).contains("200 OK"));
    for (args, expected) in [
        (
            vec!["--url".to_owned(), format!("{address}/nowhere")],
            "404",
        ),
        (vec!["--url".to_owned(), closed], "cannot connect"),
        (
            vec![
                "--url".to_owned(),
                silent_url,
                "--timeout".to_owned(),
                "300ms".to_owned(),
            ],
            "no answer within 300ms",
        ),
        (
            vec!["--url".to_owned(), "https://127.0.0.1/".to_owned()],
            "only http://",
        ),
        // The longest timeout (a longer one is refused as a bad flag value: it once panicked).
        (
            vec![
                "--url".to_owned(),
                format!("{address}/nowhere"),
                "--timeout".to_owned(),
                "1h".to_owned(),
            ],
            "404",
        ),
        // A port past 65535 is no port 80 (it once asked port 80 instead).
        (
            vec![
                "--url".to_owned(),
                "http://127.0.0.1:65616/healthz".to_owned(),
            ],
            "a port is 1 to 65535",
        ),
    ] {
        let args: Vec<&str> = ["healthcheck"]
            .into_iter()
            .chain(args.iter().map(String::as_str))
            .collect();
        let started = std::time::Instant::now();
        let output = greeter(&args, &[]);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "{args:?}: {stderr}");
        assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
        assert!(
            stderr.starts_with("unhealthy: ") && stderr.contains(expected),
            "{args:?}: {stderr}"
        );
        assert!(
            started.elapsed() < std::time::Duration::from_secs(3),
            "{args:?}"
        );
    }
    server.signal(nix::sys::signal::Signal::SIGTERM);
    assert_eq!(
        server.wait_for_exit(std::time::Duration::from_secs(30)),
        Some(0)
    );
}

/// Start-up says where greeter listens once: actix-server's own three lines stay quiet unless
/// RUST_LOG names it, and a connection figure fitted to the open-files limit says how.
#[test]
fn start_up_says_where_it_listens_in_one_line() {
    let (mut process, address) = GreeterProcess::serve(&["--upstream", "a=http://127.0.0.1:9/"]);
    process.wait_for_line("listening on", std::time::Duration::from_secs(5));
    std::thread::sleep(std::time::Duration::from_millis(300));
    let lines = process.lines();
    let listening: Vec<&String> = lines
        .iter()
        .filter(|l| l.contains("listening") || l.contains("starting"))
        .collect();
    assert_eq!(listening.len(), 1, "{lines:#?}");
    assert!(listening[0].contains(&address), "{lines:#?}");
    assert!(
        listening[0].contains("connections per worker: "),
        "{lines:#?}"
    );
    assert!(
        !lines.iter().any(|l| l.contains("actix_server")),
        "{lines:#?}"
    );
    assert!(
        !lines.iter().any(|l| l.contains("open files are limited")),
        "{lines:#?}"
    );
    let mut named = GreeterProcess::command(&["--port", "0"]);
    named.env("RUST_LOG", "info,actix_server=info");
    let mut named = GreeterProcess::spawn(named);
    named.wait_for_line("actix_server", std::time::Duration::from_secs(5));
}

/// Every numeric setting at its largest value still starts a server that serves (a duration
/// with no upper bound once started one whose every connection panicked).
#[test]
fn a_server_at_every_largest_value_serves() {
    let mut args = Vec::new();
    for bound in greeter::config::bounds::BOUNDS {
        match bound.flag {
            // The port is 0 here; the workers and connections at their largest would take
            // threads and descriptors a test should not, and an hour's I/O wait an hour;
            // the healthcheck's are not the server's; the rate limit needs its period.
            "--port" | "--workers" | "--max-connections" | "--io-delay" => {}
            flag if flag.starts_with("healthcheck ") => {}
            "--rate-limit" => args.extend([bound.flag, "1000000/s"]),
            _ => args.extend([bound.flag, bound.max]),
        }
    }
    let (_process, address) = GreeterProcess::serve(&args);
    let socket = address.trim_start_matches("http://");
    let answer = raw_http_blocking(socket, &get_request("/healthz")).unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    let answer = raw_http_blocking(socket, &get_request("/nowhere")).unwrap();
    assert!(answer.starts_with("HTTP/1.1 404"), "{answer}");
}

/// The README's table of settings states each numeric setting's range as the code's table does,
/// lists every subcommand, and stays short enough to read (at most 200 lines).
#[test]
fn the_readme_agrees_with_the_code() {
    let readme = std::fs::read_to_string(project_root().join("README.md")).unwrap();
    for bound in greeter::config::bounds::BOUNDS {
        let flag = bound.flag;
        let row = readme
            .lines()
            .find(|line| line.starts_with(&format!("| `{flag}` |")))
            .unwrap_or_else(|| panic!("the README has no row for {flag}"));
        let range = format!("{} to {}", bound.min, bound.max);
        let cells: Vec<&str> = row.split('|').map(str::trim).collect();
        let column = cells.get(4).copied().unwrap_or_default();
        assert!(
            column == range || column == format!("N {range}"),
            "the README says {column:?} for {flag}, the code {range}"
        );
    }
    for subcommand in [
        "greeter [serve]",
        "greeter check-config",
        "greeter openapi",
        "greeter healthcheck",
    ] {
        assert!(readme.contains(subcommand), "the README lacks {subcommand}");
    }
    let lines = readme.lines().count();
    assert!(lines <= 200, "the README has {lines} lines");
}
