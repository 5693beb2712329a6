//! The access line: `client "METHOD target HTTP/1.1" status bytes request-id seconds`, one per
//! request, on stderr, from the real binary.

use std::time::Duration;

use crate::helpers::{GreeterProcess, raw_http_blocking};

/// Sends `request` to `socket`, returns the answer's `X-Request-Id`.
fn answered_id(socket: &str, request: &str) -> String {
    let answer = raw_http_blocking(socket, request).expect("request failed");
    answer
        .lines()
        .find_map(|line| line.strip_prefix("x-request-id: "))
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

    // A HEAD is logged as HEAD, though it is routed as GET.
    let id = answered_id(&socket, &format!("HEAD / HTTP/1.1\r\n{close}\r\n"));
    let fields = access_line(&mut process, &id);
    assert_eq!(fields[1..5], ["\"HEAD", "/", "HTTP/1.1\"", "200"]);

    // An error answer is logged with the size of the JSON body actually sent.
    let id = answered_id(&socket, &format!("GET /nowhere HTTP/1.1\r\n{close}\r\n"));
    let fields = access_line(&mut process, &id);
    let body = r#"{"detail":"Not Found"}"#;
    assert_eq!(fields[4..6], ["404".to_owned(), body.len().to_string()]);
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
    // A later line proves the log was flushed after the request.
    std::thread::sleep(Duration::from_millis(300));
    process.signal(nix::sys::signal::Signal::SIGTERM);
    process.wait_for_line("received", Duration::from_secs(5));
    assert!(
        !process.lines().iter().any(|line| line.contains(&id)),
        "{:#?}",
        process.lines()
    );
}
