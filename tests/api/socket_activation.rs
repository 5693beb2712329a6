//! Socket activation: greeter serves on a listening socket it inherits (`LISTEN_FDS`, as systemd
//! passes it), so a restart refuses no connection: the socket outlives the process, and the
//! kernel queues what arrives until the next one accepts it. Tested with Debian's
//! `systemd-socket-activate` holding the socket and a shell loop restarting greeter.

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crate::helpers::{get_request, raw_http_blocking, skip};

/// `systemd-socket-activate` on a free loopback port, running greeter in a restart loop until
/// the file `stop` exists; killed (with its group) when dropped.
struct Activated {
    child: Child,
    address: String,
    stop: std::path::PathBuf,
}

impl Activated {
    fn start(activator: &str) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let stop = std::env::temp_dir().join(format!("greeter-activation-stop-{port}"));
        let _ = std::fs::remove_file(&stop);
        // Each round, a shell sets LISTEN_PID to its own pid and becomes greeter (listenfd takes
        // the socket only when LISTEN_PID is its pid, as systemd sets it).
        let script = r#"while [ ! -e "$STOP" ]; do
            sh -c 'export LISTEN_PID=$$; exec "$GREETER" --io-delay 20ms --workers 2'
        done"#;
        let child = Command::new(activator)
            .args([
                "--listen",
                &format!("127.0.0.1:{port}"),
                "-E",
                "STOP",
                "-E",
                "GREETER",
            ])
            .args(["-E", "RUST_LOG", "/bin/sh", "-c", script])
            .env("STOP", &stop)
            .env("GREETER", env!("CARGO_BIN_EXE_greeter"))
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("cannot start systemd-socket-activate");
        Self {
            child,
            address: format!("127.0.0.1:{port}"),
            stop,
        }
    }

    /// The pid of the greeter now serving (a child of the loop's shell), once there is one.
    fn greeter_pid(&self) -> i32 {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let children =
                std::fs::read_to_string(format!("/proc/{0}/task/{0}/children", self.child.id()))
                    .unwrap_or_default();
            for pid in children.split_whitespace() {
                let exe = std::fs::read_link(format!("/proc/{pid}/exe")).unwrap_or_default();
                if exe.ends_with("greeter") {
                    return pid.parse().unwrap();
                }
            }
            assert!(Instant::now() < deadline, "greeter did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Activated {
    fn drop(&mut self) {
        let _ = std::fs::write(&self.stop, "");
        if let Ok(pid) =
            std::fs::read_to_string(format!("/proc/{0}/task/{0}/children", self.child.id()))
        {
            for pid in pid.split_whitespace() {
                let _ = Command::new("kill").arg(pid).status();
            }
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.stop);
    }
}

/// What greeter cannot serve is refused at start, in one line: two sockets (the second would
/// hang its clients), a socket that is not listening, and a count listenfd would allocate for.
#[test]
fn sockets_greeter_cannot_serve_are_refused_in_one_line() {
    let greeter = env!("CARGO_BIN_EXE_greeter");
    let python = "import os, socket, sys\n\
        s = socket.socket(); s.bind(('127.0.0.1', 0))\n\
        if sys.argv[1] == 'listening': s.listen()\n\
        os.dup2(s.fileno(), 3); os.set_inheritable(3, True)\n\
        os.environ.update(LISTEN_FDS=sys.argv[2], LISTEN_PID=str(os.getpid()))\n\
        os.execv(sys.argv[3], [sys.argv[3], '--port', '0'])\n";
    for (listening, count, expected, code) in [
        (
            "listening",
            "2",
            "2 sockets were passed (LISTEN_FDS); greeter serves one",
            2,
        ),
        (
            "listening",
            "2147483647",
            "2147483647 sockets were passed",
            2,
        ),
        (
            "bound",
            "1",
            "the inherited socket (LISTEN_FDS) is not listening",
            1,
        ),
    ] {
        let output = Command::new("python3")
            .args(["-c", python, listening, count, greeter])
            .output()
            .expect("cannot run python3");
        let stderr = String::from_utf8_lossy(&output.stderr);
        let errors: Vec<&str> = stderr.lines().filter(|l| l.contains("error")).collect();
        assert_eq!(output.status.code(), Some(code), "{count}: {stderr}");
        assert_eq!(errors.len(), 1, "{stderr}");
        assert!(errors[0].contains(expected), "{count}: {stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
}

/// Restarts while the clients send: without the pause before the stop in
/// `src/lifecycle/signals.rs`, about one run in three loses a request or two to a reset.
const RESTARTS: usize = 6;

#[test]
fn restarts_under_steady_requests_refuse_or_fail_none() {
    let Some(activator) = [
        "/usr/bin/systemd-socket-activate",
        "/bin/systemd-socket-activate",
    ]
    .into_iter()
    .find(|path| std::path::Path::new(path).exists()) else {
        return skip("systemd-socket-activate is not installed (apt-get install systemd)");
    };
    let activated = Activated::start(activator);
    // The activator listens at once and starts the loop at the first connection.
    let deadline = Instant::now() + Duration::from_secs(10);
    let first_answer = loop {
        match raw_http_blocking(&activated.address, &get_request("/healthz")) {
            Ok(answer) => break answer,
            Err(_) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(20)),
            Err(error) => panic!("systemd-socket-activate does not listen: {error}"),
        }
    };
    assert!(first_answer.starts_with("HTTP/1.1 200"), "{first_answer}");
    let first = activated.greeter_pid();

    let running = Arc::new(AtomicBool::new(true));
    let sent = Arc::new(AtomicUsize::new(0));
    let failures = Arc::new(std::sync::Mutex::new(Vec::new()));
    let clients: Vec<_> = (0..12)
        .map(|_| {
            let (running, sent, failures) = (running.clone(), sent.clone(), failures.clone());
            let address = activated.address.clone();
            std::thread::spawn(move || {
                while running.load(Ordering::Relaxed) {
                    let answer = raw_http_blocking(&address, &get_request("/"));
                    sent.fetch_add(1, Ordering::Relaxed);
                    match answer {
                        Ok(answer) if answer.starts_with("HTTP/1.1 200") => {}
                        Ok(answer) => failures
                            .lock()
                            .unwrap()
                            .push(answer.lines().next().unwrap_or_default().to_owned()),
                        Err(error) => failures.lock().unwrap().push(error.to_string()),
                    }
                }
            })
        })
        .collect();

    let mut pids = vec![first];
    for _ in 0..RESTARTS {
        std::thread::sleep(Duration::from_millis(500));
        let pid = activated.greeter_pid();
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(pid),
            nix::sys::signal::Signal::SIGTERM,
        )
        .unwrap();
        // The next greeter takes over.
        let deadline = Instant::now() + Duration::from_secs(10);
        while activated.greeter_pid() == pid {
            assert!(Instant::now() < deadline, "greeter {pid} did not stop");
            std::thread::sleep(Duration::from_millis(10));
        }
        pids.push(activated.greeter_pid());
    }
    std::thread::sleep(Duration::from_millis(700));
    running.store(false, Ordering::Relaxed);
    for client in clients {
        client.join().unwrap();
    }

    let sent = sent.load(Ordering::Relaxed);
    let failures = failures.lock().unwrap();
    println!(
        "{sent} requests across {} greeter processes, {} failed",
        pids.len(),
        failures.len()
    );
    assert!(sent > 200, "only {sent} requests");
    pids.dedup();
    assert_eq!(pids.len(), RESTARTS + 1, "{RESTARTS} restarts: {pids:?}");
    assert!(
        failures.is_empty(),
        "{} of {sent} failed: {failures:?}",
        failures.len()
    );
}
