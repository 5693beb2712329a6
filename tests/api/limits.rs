//! Every limit is a setting with a default and a test at its edge, over real sockets.

use std::time::{Duration, Instant};

use bytesize::ByteSize;
use greeter::config::ServeSettings;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::{GreeterProcess, raw_http, spawn_app, spawn_app_with, test_settings};

/// `GET target` with one `X-Pad` header sized so that the whole head is `head_size` bytes.
fn request_of_head_size(target: &str, head_size: usize) -> String {
    let fixed = format!("GET {target} HTTP/1.1\r\nHost: t\r\nConnection: close\r\nX-Pad: \r\n\r\n");
    let pad = "p".repeat(head_size - fixed.len());
    let request =
        format!("GET {target} HTTP/1.1\r\nHost: t\r\nConnection: close\r\nX-Pad: {pad}\r\n\r\n");
    assert_eq!(request.len(), head_size);
    request
}

/// `/healthz?pad=qqq...` of exactly `length` bytes.
fn target_of_length(length: usize) -> String {
    format!(
        "/healthz?pad={}",
        "q".repeat(length - "/healthz?pad=".len())
    )
}

fn status_and_body(answer: &str) -> (&str, &str) {
    let (head, body) = answer.split_once("\r\n\r\n").unwrap_or((answer, ""));
    (head.lines().next().unwrap_or_default(), body)
}

#[actix_web::test]
async fn the_head_size_limit_holds_at_its_default_edge_of_8_kib() {
    let app = spawn_app();

    let at_limit = raw_http(
        app.socket_address(),
        &request_of_head_size("/healthz", 8192),
    )
    .await;
    assert_eq!(status_and_body(&at_limit).0, "HTTP/1.1 200 OK");

    let over = raw_http(
        app.socket_address(),
        &request_of_head_size("/healthz", 8193),
    )
    .await;
    let (status, body) = status_and_body(&over);
    assert_eq!(status, "HTTP/1.1 431 Request Header Fields Too Large");
    assert!(
        over.to_ascii_lowercase()
            .contains("content-type: application/json"),
        "{over}"
    );
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(body).unwrap(),
        json!({"detail": "Request Header Fields Too Large: the request line and headers exceed the limit of 8192 bytes"})
    );
}

#[actix_web::test]
async fn the_head_size_limit_is_a_setting() {
    let app = spawn_app_with(ServeSettings {
        max_header_size: ByteSize::kib(2),
        ..test_settings()
    });

    let at_limit = raw_http(
        app.socket_address(),
        &request_of_head_size("/healthz", 2048),
    )
    .await;
    assert_eq!(status_and_body(&at_limit).0, "HTTP/1.1 200 OK");
    let over = raw_http(
        app.socket_address(),
        &request_of_head_size("/healthz", 2049),
    )
    .await;
    assert_eq!(
        status_and_body(&over).0,
        "HTTP/1.1 431 Request Header Fields Too Large"
    );
}

#[actix_web::test]
async fn the_uri_length_limit_holds_at_its_default_edge_of_4_kib() {
    let app = spawn_app();

    assert_eq!(app.get(&target_of_length(4096)).await.status, 200);
    let reply = app.get(&target_of_length(4097)).await;
    assert_eq!(reply.status, 414);
    assert_eq!(
        reply.json(),
        json!({"detail": "URI Too Long: the request target exceeds the limit of 4096 bytes"})
    );
}

#[actix_web::test]
async fn the_uri_length_limit_is_a_setting() {
    let app = spawn_app_with(ServeSettings {
        max_uri_length: ByteSize::b(300),
        ..test_settings()
    });

    assert_eq!(app.get(&target_of_length(300)).await.status, 200);
    assert_eq!(app.get(&target_of_length(301)).await.status, 414);
}

/// At the largest `--max-uri-length` (32KiB), the longest target is served and one byte more is
/// the JSON `414`: every limit the setting takes can be told by a `414` (actix-http itself
/// cannot parse targets of 65,534 bytes or more).
#[actix_web::test]
async fn the_largest_uri_length_limit_still_answers_414() {
    let app = spawn_app_with(ServeSettings {
        max_uri_length: "32KiB".parse().unwrap(),
        max_header_size: "96KiB".parse().unwrap(),
        ..test_settings()
    });

    assert_eq!(app.get(&target_of_length(32 * 1024)).await.status, 200);
    let reply = app.get(&target_of_length(32 * 1024 + 1)).await;
    assert_eq!(reply.status, 414);
    assert_eq!(
        reply.json(),
        json!({"detail": "URI Too Long: the request target exceeds the limit of 32768 bytes"})
    );
}

/// Reads until the server closes the connection; returns what it sent and when it closed.
async fn read_until_closed(stream: &mut TcpStream, within: Duration) -> (String, Instant) {
    let mut answer = Vec::new();
    tokio::time::timeout(within, stream.read_to_end(&mut answer))
        .await
        .expect("the server did not close the connection")
        .ok();
    (
        String::from_utf8_lossy(&answer).into_owned(),
        Instant::now(),
    )
}

#[actix_web::test]
async fn a_slow_head_gets_408_and_is_disconnected_at_the_head_timeout() {
    let timeout = Duration::from_millis(600);
    let app = spawn_app_with(ServeSettings {
        head_timeout: timeout.into(),
        ..test_settings()
    });

    // `started` precedes the connect; the server's timer starts once it has accepted.
    let started = Instant::now();
    let mut slow = TcpStream::connect(app.socket_address()).await.unwrap();
    slow.write_all(b"GET /healthz HT").await.unwrap();
    let (answer, closed) = read_until_closed(&mut slow, Duration::from_secs(10)).await;

    assert!(answer.starts_with("HTTP/1.1 408"), "{answer:?}");
    let waited = closed - started;
    assert!(
        waited >= timeout && waited < timeout * 5,
        "closed after {waited:?}"
    );
}

#[actix_web::test]
async fn a_head_sent_within_the_timeout_is_served() {
    let timeout = Duration::from_millis(600);
    let app = spawn_app_with(ServeSettings {
        head_timeout: timeout.into(),
        ..test_settings()
    });

    let mut client = TcpStream::connect(app.socket_address()).await.unwrap();
    client.write_all(b"GET /healthz HT").await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    client
        .write_all(b"TP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let (answer, _) = read_until_closed(&mut client, Duration::from_secs(10)).await;

    assert!(answer.starts_with("HTTP/1.1 200 OK"), "{answer:?}");
}

#[actix_web::test]
async fn idle_keep_alive_connections_close_at_the_keep_alive_timeout() {
    let idle = Duration::from_millis(1500);
    let app = spawn_app_with(ServeSettings {
        keep_alive: idle.into(),
        ..test_settings()
    });
    let mut client = TcpStream::connect(app.socket_address()).await.unwrap();
    let request = b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n";
    let mut buffer = vec![0; 4096];

    // Two requests on one connection, the second within the timeout.
    let mut answered = Instant::now();
    for round in 0..2 {
        if round > 0 {
            tokio::time::sleep(idle / 3).await;
        }
        client.write_all(request).await.unwrap();
        let read = client.read(&mut buffer).await.unwrap();
        answered = Instant::now();
        assert!(buffer[..read].starts_with(b"HTTP/1.1 200 OK"));
    }
    let (rest, closed) = read_until_closed(&mut client, Duration::from_secs(10)).await;

    assert_eq!(rest, "", "nothing more is sent before closing");
    let idled = closed - answered;
    // actix-http reads its clock from a cache refreshed every 500 ms, so a deadline can fall up
    // to 500 ms early.
    assert!(
        idled >= idle - Duration::from_millis(550) && idled < idle * 3,
        "closed after {idled:?} idle"
    );
}

#[actix_web::test]
async fn keep_alive_0s_closes_after_each_answer() {
    let app = spawn_app_with(ServeSettings {
        keep_alive: Duration::ZERO.into(),
        ..test_settings()
    });
    let mut client = TcpStream::connect(app.socket_address()).await.unwrap();

    client
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n")
        .await
        .unwrap();
    let sent = Instant::now();
    let (answer, closed) = read_until_closed(&mut client, Duration::from_secs(10)).await;

    assert!(answer.starts_with("HTTP/1.1 200 OK"), "{answer:?}");
    assert!(
        answer.to_ascii_lowercase().contains("connection: close"),
        "{answer:?}"
    );
    // Far sooner than the default keep-alive would close it.
    assert!(
        closed - sent < Duration::from_secs(1),
        "{:?}",
        closed - sent
    );
}

/// With one worker allowed 2 connections, a third waits for a free slot: it is answered only
/// after one of the first two has been answered and closed.
#[actix_web::test]
async fn a_worker_serves_at_most_max_connections_at_once() {
    let app = spawn_app_with(ServeSettings {
        workers: std::num::NonZeroUsize::new(1).unwrap(),
        max_connections: std::num::NonZeroUsize::new(2),
        io_delay: Duration::from_secs(1).into(),
        ..test_settings()
    });
    let address = app.socket_address().to_owned();
    // Each of the first two is accepted and busy once its /healthz is answered.
    let mut busy = Vec::new();
    for _ in 0..2 {
        busy.push(in_flight(&address, &crate::helpers::get_request("/")).await);
    }
    let busy_since = Instant::now();
    let finished = |mut stream: TcpStream| async move {
        let (answer, closed) = read_until_closed(&mut stream, Duration::from_secs(10)).await;
        assert!(answer.ends_with(r#"{"Hello":"World"}"#), "{answer:?}");
        closed
    };
    let third = async {
        let answer = raw_http(&address, &crate::helpers::get_request("/healthz")).await;
        assert!(answer.starts_with("HTTP/1.1 200 OK"), "{answer:?}");
        Instant::now()
    };
    let (first_two, third) = futures_util::future::join(
        futures_util::future::join_all(busy.into_iter().map(finished)),
        third,
    )
    .await;

    // Served at once, the third would answer within milliseconds; it waits for a slot, which
    // frees when one of the first two, 1 s into its wait, is answered and closed.
    let first_free = first_two.into_iter().min().unwrap();
    let waited = third.saturating_duration_since(busy_since);
    assert!(
        waited >= Duration::from_millis(800),
        "the third was served after {waited:?}: it did not wait for a slot"
    );
    assert!(
        third + Duration::from_millis(50) >= first_free,
        "the third was served before a slot was free"
    );
}

/// Opens a connection, pipelines `GET /healthz` and `request`, and returns once the healthz
/// answer is read: the connection is accepted, and `request` is in the handler.
async fn in_flight(address: &str, request: &str) -> TcpStream {
    let mut stream = TcpStream::connect(address).await.unwrap();
    let healthz = "GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n";
    stream
        .write_all(format!("{healthz}{request}").as_bytes())
        .await
        .unwrap();
    let mut seen = Vec::new();
    let mut buffer = [0; 512];
    while !seen.ends_with(br#"{"status":"ok"}"#) {
        let read = stream.read(&mut buffer).await.unwrap();
        assert!(read > 0, "closed before answering /healthz");
        seen.extend_from_slice(&buffer[..read]);
    }
    stream
}

/// The listening socket's accept queue is the `--backlog` setting, as `ss` reports it.
#[test]
fn the_accept_queue_is_the_backlog_setting() {
    let (_process, address) = GreeterProcess::serve(&["--backlog", "7"]);
    let port = address.rsplit(':').next().unwrap();

    let output = match std::process::Command::new("ss")
        .args(["-ltnH", &format!("sport = :{port}")])
        .output()
    {
        Ok(output) => output,
        Err(_) => return crate::helpers::skip("`ss` (iproute2) is not installed"),
    };
    let line = String::from_utf8_lossy(&output.stdout).into_owned();

    // State, Recv-Q, Send-Q (the backlog), local address, peer address.
    let send_q = line.split_whitespace().nth(2);
    assert_eq!(send_q, Some("7"), "{line}");
}

/// Starts greeter (2 workers) with its open-files limit at `soft` and `hard`, plus `args`;
/// returns it once it listens.
fn greeter_with_open_files(soft: u64, hard: u64, args: &[&str]) -> GreeterProcess {
    use std::os::unix::process::CommandExt;

    let mut all = vec!["--port", "0", "--workers", "2"];
    all.extend_from_slice(args);
    let mut command = GreeterProcess::command(&all);
    // SAFETY: setrlimit(2) is async-signal-safe, and nothing else runs between fork and exec.
    unsafe {
        command.pre_exec(move || {
            nix::sys::resource::setrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE, soft, hard)
                .map_err(std::io::Error::from)
        });
    }
    let mut process = GreeterProcess::spawn(command);
    process.address();
    process
}

/// The process's (soft, hard) limit on open files, from `/proc`.
fn open_files_limit(process: &GreeterProcess) -> (u64, u64) {
    let limits = std::fs::read_to_string(format!("/proc/{}/limits", process.child.id())).unwrap();
    let line = limits
        .lines()
        .find(|line| line.starts_with("Max open files"))
        .unwrap();
    let numbers: Vec<u64> = line
        .split_whitespace()
        .filter_map(|word| word.parse().ok())
        .collect();
    (numbers[0], numbers[1])
}

#[test]
fn the_open_files_limit_is_raised_to_what_the_connections_need() {
    let (_, hard_now) = nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE)
        .expect("cannot read the open files limit");
    let hard = hard_now.min(4096);
    // Two workers at 100 connections, and 64 spare descriptors.
    let needed = 2 * 100 + 64;
    assert!(
        hard > needed,
        "this machine's hard limit ({hard_now}) is too low for the test"
    );

    let process = greeter_with_open_files(128, hard, &["--max-connections", "100"]);

    assert_eq!(open_files_limit(&process), (needed, hard));
    assert!(
        !process.lines().iter().any(|l| l.contains("open files")),
        "{:#?}",
        process.lines()
    );
}

/// With default settings, a hard limit below what 25,000 connections per worker need is used
/// whole and the default is fitted to it, said in the start-up line: no warning.
#[test]
fn a_hard_limit_below_the_default_need_fits_the_default_quietly() {
    let mut process = greeter_with_open_files(128, 1024, &[]);

    assert_eq!(open_files_limit(&process), (1024, 1024));
    // 1,024 less 64 spare descriptors, shared by two workers.
    let fitted = 480;
    let line = process.wait_for_line("listening on", Duration::from_secs(5));
    assert!(
        line.contains(&format!(
            "connections per worker: {fitted} (fitted to the limit of 1024 open files"
        )),
        "{line}"
    );
    assert!(
        !process.lines().iter().any(|l| l.contains(" WARN ")),
        "{:#?}",
        process.lines()
    );
}

/// A `--max-connections` the hard limit cannot hold is kept, and warned about.
#[test]
fn a_chosen_max_connections_past_the_hard_limit_is_warned_about() {
    let mut process = greeter_with_open_files(128, 1024, &["--max-connections", "5000"]);

    assert_eq!(open_files_limit(&process), (1024, 1024));
    let warning = process.wait_for_line("open files are limited to 1024", Duration::from_secs(5));
    assert!(warning.contains("WARN"), "{warning}");
    assert!(warning.contains("--max-connections 5000"), "{warning}");
}
