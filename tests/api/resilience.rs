//! Under pressure: thousands of slow clients, and a shutdown in the middle of a thousand
//! requests. Bounds are generous: these prove behaviour, `make bench` measures speed.

use std::time::{Duration, Instant};

use futures_util::future::join_all;
use greeter::config::ServeSettings;
use nix::sys::signal::Signal;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::{GreeterProcess, get_request, skip, spawn_app_with, test_settings};

/// Raises this process's open-file limit to what `needed` connections (both ends) take.
fn allow_open_files(needed: u64) -> bool {
    use nix::sys::resource::{Resource, getrlimit, setrlimit};
    let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE).unwrap();
    if soft >= needed {
        return true;
    }
    hard >= needed && setrlimit(Resource::RLIMIT_NOFILE, hard, hard).is_ok()
}

/// A client that sends a request head one byte every 500 ms and never finishes it; returns how
/// long the server took to close the connection, or `None` if it kept it past `give_up`.
async fn trickle(
    address: String,
    give_up: Duration,
    connected: std::sync::Arc<std::sync::atomic::AtomicUsize>,
) -> Option<Duration> {
    let mut stream = TcpStream::connect(&address).await.ok()?;
    connected.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let started = Instant::now();
    let head = format!("GET / HTTP/1.1\r\nHost: t\r\nX-Slow: {}", "s".repeat(1000));
    let mut buffer = [0; 512];
    for byte in head.bytes() {
        if stream.write_all(&[byte]).await.is_err() {
            return Some(started.elapsed());
        }
        match tokio::time::timeout(Duration::from_millis(500), stream.read(&mut buffer)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return Some(started.elapsed()),
            // The 408: the close follows it.
            Ok(Ok(_)) => {
                let _ = tokio::time::timeout(give_up, stream.read_to_end(&mut Vec::new())).await;
                return Some(started.elapsed());
            }
            Err(_) if started.elapsed() > give_up => return None,
            Err(_) => {}
        }
    }
    None
}

#[actix_web::test]
async fn five_thousand_trickling_clients_neither_starve_others_nor_stay() {
    const SLOW_CLIENTS: usize = 5000;
    if !allow_open_files(2 * SLOW_CLIENTS as u64 + 1000) {
        return skip("the open-file limit is too low for 10,000 sockets");
    }
    let head_timeout = Duration::from_secs(3);
    let app = spawn_app_with(ServeSettings {
        io_delay: Duration::from_secs(1).into(),
        head_timeout: head_timeout.into(),
        ..test_settings()
    });

    let connected = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let slow: Vec<_> = (0..SLOW_CLIENTS)
        .map(|_| {
            actix_rt::spawn(trickle(
                app.socket_address().to_owned(),
                Duration::from_secs(30),
                connected.clone(),
            ))
        })
        .collect();
    let deadline = Instant::now() + Duration::from_secs(30);
    while connected.load(std::sync::atomic::Ordering::Relaxed) < SLOW_CLIENTS {
        assert!(
            Instant::now() < deadline,
            "the slow clients could not connect"
        );
        actix_rt::time::sleep(Duration::from_millis(10)).await;
    }

    let started = Instant::now();
    let reply = app.get("/").await;
    let normal = started.elapsed();
    assert_eq!(reply.status, 200);
    assert!(
        normal >= Duration::from_secs(1) && normal < Duration::from_millis(1500),
        "a normal GET / took {normal:?} among slow clients"
    );

    let closed: Vec<Option<Duration>> = join_all(slow)
        .await
        .into_iter()
        .map(Result::unwrap)
        .collect();
    let kept = closed.iter().filter(|c| c.is_none()).count();
    assert_eq!(kept, 0, "{kept} slow clients were never disconnected");
    let latest = closed.iter().flatten().max().unwrap();
    let earliest = closed.iter().flatten().min().unwrap();
    // actix-http's deadlines come from a clock it caches (refreshed every 500 ms, later on a busy
    // worker), so some fall early; none falls at once.
    assert!(
        *earliest >= head_timeout / 3,
        "a slow client was dropped after {earliest:?}, before the head timeout"
    );
    assert!(
        *latest < head_timeout + Duration::from_secs(5),
        "the last closed after {latest:?}"
    );
    println!("GET / among {SLOW_CLIENTS} slow clients: {normal:?}; all closed by {latest:?}");
}

#[actix_web::test]
async fn no_accepted_request_is_lost_on_shutdown() {
    const CLIENTS: usize = 1000;
    let (mut process, address) = GreeterProcess::serve(&["--io-delay", "1s"]);
    let socket = address.trim_start_matches("http://").to_owned();

    let mut streams = Vec::with_capacity(CLIENTS);
    for _ in 0..CLIENTS {
        let mut stream = TcpStream::connect(&socket).await.expect("connect failed");
        stream.write_all(get_request("/").as_bytes()).await.unwrap();
        streams.push(stream);
    }
    // Once the server has read them all, each waits out its 1 s.
    let connections: Vec<_> = streams
        .iter()
        .map(|s| (s.local_addr().unwrap(), s.peer_addr().unwrap()))
        .collect();
    crate::helpers::wait_until_server_has_read_all(&connections);
    let answers = actix_rt::spawn(join_all(streams.into_iter().map(|mut stream| async move {
        let mut answer = Vec::new();
        let _ = stream.read_to_end(&mut answer).await;
        String::from_utf8_lossy(&answer).into_owned()
    })));

    process.signal(Signal::SIGTERM);
    let signalled = Instant::now();
    let mut refused = false;
    while !refused && signalled.elapsed() < Duration::from_millis(600) {
        actix_rt::time::sleep(Duration::from_millis(20)).await;
        refused = TcpStream::connect(&socket).await.is_err();
    }

    let answers = answers.await.unwrap();
    let completed = answers
        .iter()
        .filter(|a| a.starts_with("HTTP/1.1 200 OK") && a.ends_with(r#"{"Hello":"World"}"#))
        .count();
    assert_eq!(completed, CLIENTS, "requests lost on shutdown");
    assert!(refused, "new connections were still accepted after SIGTERM");
    assert_eq!(process.wait_for_exit(Duration::from_secs(30)), Some(0));
    println!(
        "{completed}/{CLIENTS} in-flight requests completed; exited {:?} after SIGTERM",
        signalled.elapsed()
    );
}
