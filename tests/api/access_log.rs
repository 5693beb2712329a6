//! The access line: `client "METHOD target HTTP/1.1" status bytes request-id seconds`, one per
//! request, on stderr, from the real binary.

use std::time::Duration;

use crate::helpers::{GreeterProcess, raw_http_blocking, send_and_wait_until_read};

/// Sends `request` to `socket`, returns the answer's `X-Request-Id`.
fn answered_id(socket: &str, request: &str) -> String {
    request_id_of(&raw_http_blocking(socket, request).expect("request failed"))
}

/// The `X-Request-Id` of `answer`.
fn request_id_of(answer: &str) -> String {
    crate::helpers::header_of(answer, "x-request-id")
        .unwrap_or_else(|| panic!("no x-request-id in {answer:?}"))
        .trim()
        .to_owned()
}

/// The access line that ends a request answered under `id`, split at spaces.
fn access_line(process: &mut GreeterProcess, id: &str) -> Vec<String> {
    let line = process.wait_for_line(&format!(" {id} "), Duration::from_secs(5));
    let fields = &line[line.find("greeter::access").expect("not an access line")..];
    fields.split(' ').skip(1).map(str::to_owned).collect()
}

#[test]
fn each_request_is_logged_with_its_status_size_id_and_duration() {
    let (mut process, address) = GreeterProcess::serve(&["--io-delay", "50ms"]);
    let socket = address.trim_start_matches("http://").to_owned();
    let close = "Host: test\r\nConnection: close\r\n";

    let id = answered_id(
        &socket,
        &format!("GET /?x=1 HTTP/1.1\r\n{close}X-Request-Id: client-7\r\n\r\n"),
    );
    assert_eq!(id, "client-7", "the client's own id is kept");
    let fields = access_line(&mut process, "client-7");
    assert_eq!(
        fields[..7],
        [
            "127.0.0.1",
            "\"GET",
            "/?x=1",
            "HTTP/1.1\"",
            "200",
            "17",
            "client-7"
        ]
    );
    let seconds: f64 = fields[7].parse().expect("duration in seconds");
    assert!(
        (0.05..5.0).contains(&seconds),
        "{seconds} s for a 50 ms wait"
    );

    // A HEAD is logged as HEAD, though it is routed as GET, and no body bytes were sent.
    let id = answered_id(&socket, &format!("HEAD / HTTP/1.1\r\n{close}\r\n"));
    let fields = access_line(&mut process, &id);
    assert_eq!(fields[1..6], ["\"HEAD", "/", "HTTP/1.1\"", "200", "0"]);

    // An error answer is logged with the size of the JSON body actually sent.
    let id = answered_id(&socket, &format!("GET /nowhere HTTP/1.1\r\n{close}\r\n"));
    let fields = access_line(&mut process, &id);
    let body = r#"{"detail":"Not Found"}"#;
    assert_eq!(fields[4..6], ["404".to_owned(), body.len().to_string()]);
}

/// Splits an access line's fields as a log parser does: a `"` starts a field that runs to the
/// next `"`, and nothing is escaped with `\` (as the combined log format's parsers read it).
fn parse_quoted_fields(fields: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = fields.trim();
    while !rest.is_empty() {
        let (field, after) = match rest.strip_prefix('"') {
            Some(quoted) => {
                let end = quoted.find('"').expect("an unclosed quote");
                (&quoted[..end], &quoted[end + 1..])
            }
            None => rest.split_at(rest.find(' ').unwrap_or(rest.len())),
        };
        out.push(field.to_owned());
        rest = after.trim_start();
    }
    out
}

#[test]
fn a_target_with_quotes_cannot_forge_fields() {
    let (mut process, address) = GreeterProcess::serve(&["--io-delay", "0s"]);
    let socket = address.trim_start_matches("http://").to_owned();
    // (actix-http refuses a `\`, a control byte, or a `"` in the query, with a bare 400 before
    // greeter sees it; the unit test of the escaping covers those.)
    let target = "/a\"_forged_\"b\"?q=1";
    let id = answered_id(
        &socket,
        &format!("GET {target} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"),
    );
    let line = process.wait_for_line(&format!(" {id} "), Duration::from_secs(5));
    let fields = &line[line.find("greeter::access] ").expect("not an access line") + 17..];
    let fields = parse_quoted_fields(fields);
    assert_eq!(fields.len(), 6, "{line}");
    assert_eq!(
        fields[1], "GET /a\\x22_forged_\\x22b\\x22?q=1 HTTP/1.1",
        "{line}"
    );
    assert_eq!(fields[2], "404");
    assert_eq!(fields[4], id);
}

#[test]
fn a_message_filter_applies_to_access_lines() {
    // `RUST_LOG`'s `/text` keeps only the lines whose message contains it (this one leaves out
    // even "listening on": the port is chosen here).
    let port = crate::nginx::free_port().to_string();
    let mut process = GreeterProcess::start(
        &["--port", &port, "--io-delay", "0s"],
        &[("RUST_LOG", "info/keep-me")],
    );
    let socket = format!("127.0.0.1:{port}");
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(&socket).is_err() {
        assert!(std::time::Instant::now() < deadline, "not listening");
        std::thread::sleep(Duration::from_millis(20));
    }
    for id in ["drop-me-1", "keep-me-1"] {
        let request =
            format!("GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\nX-Request-Id: {id}\r\n\r\n");
        assert_eq!(answered_id(&socket, &request), id);
    }
    // Lines are written in order: the first request's line would show before the second's.
    process.wait_for_line("keep-me-1", Duration::from_secs(5));
    assert!(
        !process
            .lines()
            .iter()
            .any(|line| line.contains("drop-me-1")),
        "{:#?}",
        process.lines()
    );
}

#[test]
fn access_lines_can_be_silenced_on_their_own() {
    let mut process = GreeterProcess::start(
        &["--port", "0", "--io-delay", "0s"],
        &[("RUST_LOG", "info,greeter::access=off")],
    );
    let address = process.address();
    let socket = address.trim_start_matches("http://").to_owned();

    let id = answered_id(
        &socket,
        "GET / HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n",
    );
    // Lines are written in order, so once a later line shows, the access line would have too.
    process.signal(nix::sys::signal::Signal::SIGTERM);
    process.wait_for_line("received", Duration::from_secs(5));
    assert!(
        process
            .lines()
            .iter()
            .any(|line| line.contains("listening on")),
        "other lines are still logged"
    );
    assert!(
        !process.lines().iter().any(|line| line.contains(&id)),
        "{:#?}",
        process.lines()
    );
}

/// A client that hangs up while its request waits is logged as `499` (nginx's "client closed
/// request"), under its request id, with no bytes sent.
#[test]
fn a_client_that_goes_away_during_the_wait_is_logged_as_499() {
    let (mut process, address) = GreeterProcess::serve(&["--io-delay", "5s"]);
    let socket = address.trim_start_matches("http://");
    let stream = send_and_wait_until_read(
        socket,
        "GET / HTTP/1.1\r\nHost: test\r\nX-Request-Id: gone-1\r\n\r\n",
    );
    drop(stream);

    let fields = access_line(&mut process, "gone-1");
    assert_eq!(fields[4..7], ["499", "0", "gone-1"]);
    let seconds: f64 = fields[7].parse().unwrap();
    assert!(
        seconds < 4.0,
        "logged after {seconds} s: not when the client left"
    );
}

/// A stderr that nobody reads (a full pipe) never stalls a request: lines that do not fit in the
/// log buffer are dropped and counted, and the count is reported once stderr drains.
#[actix_web::test]
async fn a_stalled_stderr_never_stalls_a_request() {
    use std::io::Read;

    let (mut child, mut stderr, socket) =
        spawn_with_stderr_unread(&["--workers", "2", "--io-delay", "0s"]);
    let address = format!("http://{socket}");
    // From here on nobody reads stderr: its pipe (64 KiB) fills, then the log buffer (256 KiB).
    let client = crate::helpers::client();
    let requests = 12_000; // ~1.3 MB of access lines
    let started = std::time::Instant::now();
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let (client, url) = (client.clone(), format!("{address}/healthz"));
            actix_rt::spawn(async move {
                for _ in 0..requests / 8 {
                    let answer =
                        tokio::time::timeout(Duration::from_secs(5), client.get(&url).send())
                            .await
                            .expect("a request stalled behind the log")
                            .expect("request failed");
                    assert_eq!(answer.status(), 200);
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("a client failed");
    }
    println!(
        "{requests} requests in {:?} with stderr stalled",
        started.elapsed()
    );

    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    let mut rest = String::new();
    stderr.read_to_string(&mut rest).unwrap();
    assert!(child.wait().unwrap().success());
    let report = rest
        .lines()
        .find(|line| line.contains("log lines dropped: stderr did not keep up"))
        .unwrap_or_else(|| panic!("no report of dropped lines in {} bytes", rest.len()));
    let dropped: u64 = report
        .split("greeter::log] ")
        .nth(1)
        .and_then(|tail| tail.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{report}"));
    let written = rest
        .lines()
        .filter(|line| line.contains("GET /healthz"))
        .count() as u64;
    // Every access line was written or counted; a few other lines (shutdown's) may be counted too.
    let accounted = written + dropped;
    assert!(dropped > 0, "{report}");
    assert!(
        (requests as u64..requests as u64 + 16).contains(&accounted),
        "{written} written, {dropped} dropped of {requests}"
    );
    // Lines logged at shutdown ("stopped") may themselves find the buffer still full and be
    // dropped and counted like any other: the bounded buffer promises no more.
}

/// A client that closes its sending side while its request waits is gone too: the request is
/// dropped (not answered into a closed socket) and logged as `499`, as nginx's proxy does.
#[test]
fn a_client_that_half_closes_during_the_wait_is_gone() {
    use std::io::Read;

    let (mut process, address) = GreeterProcess::serve(&["--io-delay", "5s"]);
    let socket = address.trim_start_matches("http://");
    let mut stream = send_and_wait_until_read(
        socket,
        "GET / HTTP/1.1\r\nHost: test\r\nX-Request-Id: half-1\r\n\r\n",
    );
    stream.shutdown(std::net::Shutdown::Write).unwrap();

    let fields = access_line(&mut process, "half-1");
    assert_eq!(fields[4..7], ["499", "0", "half-1"]);
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).unwrap();
    assert!(answer.is_empty(), "{}", String::from_utf8_lossy(&answer));
}

/// With stderr stalled (a full pipe nobody reads), the process still exits on SIGTERM: the last
/// flush waits a moment for stderr, then gives up.
#[test]
fn a_stalled_stderr_never_keeps_the_process_from_exiting() {
    use std::io::{Read, Write};

    let (mut child, _stderr, socket) =
        spawn_with_stderr_unread(&["--workers", "1", "--io-delay", "0s"]);
    // 400 access lines of 2 KiB each: more than the pipe and the log buffer together hold.
    let mut connection = std::net::TcpStream::connect(&socket).unwrap();
    let target = format!("/healthz?pad={}", "p".repeat(2000));
    let mut answer = [0; 4096];
    for _ in 0..400 {
        connection
            .write_all(format!("GET {target} HTTP/1.1\r\nHost: t\r\n\r\n").as_bytes())
            .unwrap();
        let read = connection.read(&mut answer).unwrap();
        assert!(answer[..read].starts_with(b"HTTP/1.1 200 OK"));
    }
    drop(connection);

    let signalled = std::time::Instant::now();
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    let deadline = signalled + Duration::from_secs(10);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("greeter did not exit with its stderr stalled");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    println!(
        "exited {status} {:?} after SIGTERM, stderr stalled",
        signalled.elapsed()
    );
    assert!(status.success(), "{status}");
    assert!(
        signalled.elapsed() < Duration::from_secs(5),
        "{:?}",
        signalled.elapsed()
    );
}

/// Starts greeter on a free port with `args` and reads its stderr up to the "listening" line,
/// then no further: returns the child, its unread stderr (a pipe that fills once nobody reads
/// it) and its `host:port`.
fn spawn_with_stderr_unread(
    args: &[&str],
) -> (
    std::process::Child,
    std::io::BufReader<std::process::ChildStderr>,
    String,
) {
    use std::io::BufRead;

    let mut all = vec!["--port", "0"];
    all.extend_from_slice(args);
    let mut child = GreeterProcess::command(&all)
        .spawn()
        .expect("cannot start greeter");
    let mut stderr = std::io::BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    while !line.contains("listening on http://") {
        line.clear();
        assert!(stderr.read_line(&mut line).unwrap() > 0, "greeter exited");
    }
    let socket = line[line.find("http://").unwrap() + "http://".len()..]
        .split_whitespace()
        .next()
        .unwrap()
        .to_owned();
    (child, stderr, socket)
}

/// Sends `request` from the loopback address `source` and returns the answer's request id.
fn answered_id_from(source: &str, socket: &str, request: &str) -> String {
    use std::io::{Read, Write};
    let client = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    let from: std::net::SocketAddr = format!("{source}:0").parse().unwrap();
    client.bind(&from.into()).unwrap();
    let to: std::net::SocketAddr = socket.parse().unwrap();
    client.connect(&to.into()).unwrap();
    let mut stream: std::net::TcpStream = client.into();
    stream.write_all(request.as_bytes()).unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    request_id_of(&answer)
}

/// The access line names the client: from a trusted proxy (by default this machine's
/// 127.0.0.1), the rightmost untrusted `X-Forwarded-For` entry, never a spoofed left one; from
/// an untrusted peer (127.0.0.2), the peer, whatever it claims; a malformed header is ignored.
#[test]
fn the_client_is_found_behind_trusted_proxies_only() {
    let (mut process, address) = GreeterProcess::serve(&[
        "--io-delay",
        "0s",
        "--forwarded-allow-ips",
        "127.0.0.1, 10.0.0.0/8",
    ]);
    let socket = address.trim_start_matches("http://").to_owned();
    let get = |xff: &str| {
        format!("GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\nX-Forwarded-For: {xff}\r\n\r\n")
    };
    for (source, xff, client) in [
        ("127.0.0.1", "6.6.6.6, 203.0.113.7, 10.0.0.5", "203.0.113.7"),
        ("127.0.0.1", "2001:db8::7", "2001:db8::7"),
        ("127.0.0.2", "203.0.113.7", "127.0.0.2"),
        ("127.0.0.1", "203.0.113.7, not-an-address", "127.0.0.1"),
    ] {
        let id = answered_id_from(source, &socket, &get(xff));
        let fields = access_line(&mut process, &id);
        assert_eq!(fields[0], client, "from {source} with {xff:?}");
        assert_eq!(fields[4], "200", "from {source} with {xff:?}");
    }
}

/// With `--log-format json`, every line is one JSON object with `ts`, `level`, `target` and
/// `msg`; an access line adds its fields, numbers as numbers.
#[test]
fn json_logs_are_one_object_per_line_with_the_access_fields() {
    let (mut process, address) =
        GreeterProcess::serve(&["--io-delay", "0s", "--log-format", "json"]);
    let socket = address.trim_start_matches("http://").to_owned();
    let id = answered_id(
        &socket,
        "GET /hello/Ada?x=1 HTTP/1.1\r\nHost: t\r\nConnection: close\r\nX-Request-Id: json-1\r\n\r\n",
    );
    assert_eq!(id, "json-1");
    let traced = answered_id(
        &socket,
        "GET /aggregate HTTP/1.1\r\nHost: t\r\nConnection: close\r\nX-Request-Id: json-2\r\n\
         traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01\r\n\r\n",
    );
    assert_eq!(traced, "json-2");
    let line = process.wait_for_line("json-1", Duration::from_secs(5));
    let traced_line = process.wait_for_line("json-2", Duration::from_secs(5));
    process.signal(nix::sys::signal::Signal::SIGTERM);
    assert_eq!(process.wait_for_exit(Duration::from_secs(10)), Some(0));

    let access: serde_json::Value = serde_json::from_str(&line).expect("an access line in JSON");
    assert_eq!(access["level"], "INFO");
    assert_eq!(access["target"], "greeter::access");
    assert_eq!(access["method"], "GET");
    assert_eq!(access["path"], "/hello/Ada?x=1");
    assert_eq!(access["status"], 200);
    assert_eq!(access["bytes"], r#"{"Hello":"Ada"}"#.len());
    assert!(
        access["duration_ms"].as_f64().is_some_and(|ms| ms >= 0.0),
        "{access}"
    );
    assert_eq!(access["request_id"], "json-1");
    assert_eq!(access["client_ip"], "127.0.0.1");
    assert!(access.get("trace_id").is_none(), "no trace: {access}");
    let traced: serde_json::Value = serde_json::from_str(&traced_line).unwrap();
    assert_eq!(traced["trace_id"], "4bf92f3577b34da6a3ce929d0e0e4736");
    for line in process.lines() {
        let object: serde_json::Value =
            serde_json::from_str(&line).unwrap_or_else(|err| panic!("not JSON ({err}): {line}"));
        for field in ["ts", "level", "target", "msg"] {
            assert!(object[field].is_string(), "no {field}: {line}");
        }
        let ts = object["ts"].as_str().unwrap();
        assert!(ts.ends_with('Z') && ts.len() == 24, "RFC 3339 UTC: {ts}");
    }
}

/// An error that ends the process is a JSON line too in `json` format.
#[test]
fn a_fatal_error_is_a_json_line_in_json_format() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let output = GreeterProcess::command(&["--port", &port, "--log-format", "json"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    let last = stderr.lines().last().unwrap_or_default();
    let object: serde_json::Value =
        serde_json::from_str(last).unwrap_or_else(|err| panic!("not JSON ({err}): {stderr}"));
    assert_eq!(object["level"], "ERROR", "{last}");
    assert!(
        object["msg"]
            .as_str()
            .unwrap()
            .starts_with("cannot listen on"),
        "{last}"
    );
}
