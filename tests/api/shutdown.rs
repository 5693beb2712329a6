use std::net::TcpStream;
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;

use crate::helpers::{GreeterProcess, get_request, read_to_close, send_and_wait_until_read};

/// A request waiting its 2 s when the signal arrives still gets its 200; the server refuses new
/// connections meanwhile and exits 0 once it is done.
fn drains_in_flight_requests_on(signal: Signal) {
    let (mut process, address) = GreeterProcess::serve(&["--io-delay", "2s"]);
    let socket = address.trim_start_matches("http://").to_owned();
    let stream = send_and_wait_until_read(&socket, &get_request("/"));
    let in_flight = std::thread::spawn(move || read_to_close(stream));

    let signalled = Instant::now();
    process.signal(signal);
    process.wait_for_line("received", Duration::from_secs(5));
    // The listener closes moments after the signal, while the request still waits.
    let refused = (0..75).any(|_| {
        std::thread::sleep(Duration::from_millis(20));
        TcpStream::connect(&socket).is_err()
    });

    let answer = in_flight
        .join()
        .unwrap()
        .expect("the in-flight request failed");
    assert!(answer.starts_with("HTTP/1.1 200 OK"), "{answer}");
    assert!(answer.ends_with(r#"{"Hello":"World"}"#), "{answer}");
    assert!(refused, "a new connection was accepted after {signal}");
    assert_eq!(
        process.wait_for_exit(Duration::from_secs(15)),
        Some(0),
        "{:#?}",
        process.lines()
    );
    assert!(signalled.elapsed() < Duration::from_secs(15));
}

#[test]
fn sigterm_lets_in_flight_requests_finish_then_exits_0() {
    drains_in_flight_requests_on(Signal::SIGTERM);
}

#[test]
fn sigint_lets_in_flight_requests_finish_then_exits_0() {
    drains_in_flight_requests_on(Signal::SIGINT);
}

/// A request longer than the grace period is dropped when it ends: the process exits on time.
#[test]
fn shutdown_gives_up_on_requests_after_the_grace_period() {
    let (mut process, address) =
        GreeterProcess::serve(&["--io-delay", "30s", "--shutdown-timeout", "1s"]);
    let socket = address.trim_start_matches("http://").to_owned();
    let stream = send_and_wait_until_read(&socket, &get_request("/"));
    let in_flight = std::thread::spawn(move || read_to_close(stream));

    let signalled = Instant::now();
    process.signal(Signal::SIGTERM);

    assert_eq!(process.wait_for_exit(Duration::from_secs(15)), Some(0));
    let waited = signalled.elapsed();
    assert!(
        waited >= Duration::from_millis(900) && waited < Duration::from_secs(5),
        "exited after {waited:?}"
    );
    let answer = in_flight.join().unwrap().unwrap_or_default();
    assert!(
        !answer.starts_with("HTTP/1.1 200"),
        "the 30 s request was answered: {answer}"
    );
}

/// A second signal during the graceful wait ends the process at once, with 128 + its number.
#[test]
fn a_second_signal_stops_at_once() {
    let (mut process, address) = GreeterProcess::serve(&["--io-delay", "30s"]);
    let socket = address.trim_start_matches("http://").to_owned();
    let stream = send_and_wait_until_read(&socket, &get_request("/"));

    process.signal(Signal::SIGTERM);
    process.wait_for_line("SIGTERM received", Duration::from_secs(5));
    let second = Instant::now();
    process.signal(Signal::SIGINT);

    assert_eq!(process.wait_for_exit(Duration::from_secs(5)), Some(130));
    assert!(
        second.elapsed() < Duration::from_secs(2),
        "{:?}",
        second.elapsed()
    );
    let answer = read_to_close(stream).unwrap_or_default();
    assert!(!answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(
        process
            .lines()
            .iter()
            .any(|line| line.contains("SIGINT received again: stopping at once")),
        "{:#?}",
        process.lines()
    );
}

/// The signal handlers are in place before the first connection is accepted: a SIGTERM sent the
/// moment the port takes a connection still stops the server gracefully (exit 0, not killed).
#[test]
fn a_signal_as_soon_as_the_port_is_open_stops_gracefully() {
    let port = crate::helpers::free_port_listener()
        .local_addr()
        .unwrap()
        .port()
        .to_string();
    let mut process = GreeterProcess::start(&["--port", &port, "--workers", "1"], &[]);
    let socket = format!("127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(30);
    while TcpStream::connect(&socket).is_err() {
        assert!(Instant::now() < deadline, "greeter never listened");
        std::thread::sleep(Duration::from_millis(1));
    }
    process.signal(Signal::SIGTERM);

    assert_eq!(
        process.wait_for_exit(Duration::from_secs(15)),
        Some(0),
        "{:#?}",
        process.lines()
    );
}

/// An aggregate in flight at SIGTERM finishes like any request: its upstream calls complete and
/// the answer carries their results.
#[test]
fn an_aggregate_in_flight_at_sigterm_is_answered() {
    let (_upstream, upstream_address) = GreeterProcess::serve(&["--io-delay", "1s"]);
    let (mut process, address) =
        GreeterProcess::serve(&["--upstream", &format!("slow={upstream_address}/")]);
    let socket = address.trim_start_matches("http://").to_owned();
    let stream = send_and_wait_until_read(&socket, &get_request("/aggregate"));

    process.signal(Signal::SIGTERM);
    process.wait_for_line("SIGTERM received", Duration::from_secs(5));
    let answer = read_to_close(stream).expect("the aggregate was cut off");

    assert!(answer.starts_with("HTTP/1.1 200 OK"), "{answer}");
    let body: serde_json::Value =
        serde_json::from_str(answer.split("\r\n\r\n").nth(1).unwrap()).unwrap();
    assert_eq!(body["sources"][0]["ok"], true, "{body}");
    assert_eq!(
        body["sources"][0]["body"],
        serde_json::json!({"Hello": "World"})
    );
    assert_eq!(process.wait_for_exit(Duration::from_secs(15)), Some(0));
}
