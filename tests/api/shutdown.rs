use std::net::TcpStream;
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;

use crate::helpers::{GreeterProcess, get_request, raw_http_blocking};

/// A request waiting its 2 s when the signal arrives still gets its 200; the server refuses new
/// connections meanwhile and exits 0 once it is done.
fn drains_in_flight_requests_on(signal: Signal) {
    let (mut process, address) = GreeterProcess::serve(&["--io-delay", "2s"]);
    let socket = address.trim_start_matches("http://").to_owned();
    let in_flight = {
        let socket = socket.clone();
        std::thread::spawn(move || raw_http_blocking(&socket, &get_request("/")))
    };
    std::thread::sleep(Duration::from_millis(300));

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
    let in_flight = std::thread::spawn(move || raw_http_blocking(&socket, &get_request("/")));
    std::thread::sleep(Duration::from_millis(300));

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
