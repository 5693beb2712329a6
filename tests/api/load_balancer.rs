//! Replicas behind a real load balancer: three greeter processes behind Debian's HAProxy (active
//! health checks on `/readyz`, retries and redispatch on a connection failure) under steady load
//! from oha (300 connections, `GET /` with its 1 s wait, 15 s). A replica killed with SIGKILL
//! mid-load, and a rolling restart (SIGTERM with `--drain-delay`, start again, wait until
//! HAProxy sees it up), each lose no request. A `POST` the dying replica was handling is answered
//! `502` and not sent again: it may have been applied. The HAProxy configuration is the one
//! docs/deployment.md shows.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::helpers::{GreeterProcess, get_request, project_root, raw_http_blocking, skip};

/// How long a SIGTERM'd replica keeps serving with `/readyz` at 503: past HAProxy's
/// `fall 2` × `inter 500ms`, so HAProxy has taken it out before it stops listening.
const DRAIN_DELAY: &str = "2s";

/// The HAProxy configuration for `replicas` (loopback ports), listening on `port`.
pub fn haproxy_config(port: u16, replicas: &[u16]) -> String {
    let servers: String = replicas
        .iter()
        .enumerate()
        .map(|(index, replica)| format!("    server greeter{index} 127.0.0.1:{replica}\n"))
        .collect();
    format!(
        r#"global
    maxconn 4000

defaults
    mode http
    timeout connect 1s
    timeout client 30s
    timeout server 10s
    timeout queue 5s

frontend api
    bind 127.0.0.1:{port}
    default_backend greeter

backend greeter
    balance roundrobin
    # A request whose replica refused the connection, reset it or closed it without an answer
    # is sent again, to another replica (redispatch), up to 3 times...
    retries 3
    option redispatch 1
    # (Not response-timeout: a slow request would be sent again and again.)
    retry-on conn-failure empty-response
    # ...unless it may have changed something: only GET and HEAD are sent again; a POST (or
    # any other method) is answered 502 instead.
    http-request disable-l7-retry unless METH_GET
    # Readiness: a draining replica answers 503 and is taken out after two checks (1 s).
    option httpchk GET /readyz
    http-check expect status 200
    default-server check inter 500ms fall 2 rise 2
{servers}"#
    )
}

/// HAProxy in the foreground on a free port, stopped when dropped.
struct HaProxy {
    child: Child,
    port: u16,
    _config: PathBuf,
}

impl HaProxy {
    fn start(binary: &Path, replicas: &[u16]) -> Self {
        let port = free_port();
        let config = std::env::temp_dir().join(format!("greeter-haproxy-{port}.cfg"));
        std::fs::write(&config, haproxy_config(port, replicas)).unwrap();
        let child = Command::new(binary)
            .args(["-db", "-f"])
            .arg(&config)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("cannot start haproxy");
        let proxy = Self {
            child,
            port,
            _config: config,
        };
        proxy.wait_until_all_up(replicas.len());
        proxy
    }

    /// Waits until `count` consecutive requests are answered 200 (every replica is up).
    fn wait_until_all_up(&self, count: usize) {
        let deadline = Instant::now() + Duration::from_secs(15);
        let address = format!("127.0.0.1:{}", self.port);
        loop {
            let all = (0..count * 2).all(|_| {
                raw_http_blocking(&address, &get_request("/healthz"))
                    .is_ok_and(|answer| answer.starts_with("HTTP/1.1 200"))
            });
            if all {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "HAProxy does not reach the replicas"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for HaProxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self._config);
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A greeter replica on `port`, as a deployment would run it.
fn replica(port: u16) -> GreeterProcess {
    let port = port.to_string();
    let mut process = GreeterProcess::start(
        &[
            "--port",
            &port,
            "--workers",
            "1",
            "--io-delay",
            "1s",
            "--drain-delay",
            DRAIN_DELAY,
        ],
        &[],
    );
    process.address();
    process
}

/// Waits until `replica` has logged `count` access lines that contain `what` (30 s at most).
fn wait_for_lines(replica: &GreeterProcess, what: &str, count: usize) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while replica.lines().iter().filter(|l| l.contains(what)).count() < count {
        assert!(
            Instant::now() < deadline,
            "fewer than {count} lines with {what:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The requests each replica holds now: its `http_requests_in_flight` less the scrape itself.
fn in_flight(ports: &[u16]) -> i64 {
    ports
        .iter()
        .map(|port| {
            let metrics = raw_http_blocking(&format!("127.0.0.1:{port}"), &get_request("/metrics"))
                .unwrap_or_default();
            metrics
                .lines()
                .find_map(|line| line.strip_prefix("http_requests_in_flight "))
                .and_then(|value| value.trim().parse::<i64>().ok())
                .map_or(0, |value| value - 1)
        })
        .sum()
}

/// Three replicas on free ports, and HAProxy in front of them once it reaches all three.
fn three_replicas_behind(haproxy: &Path) -> (Vec<GreeterProcess>, [u16; 3], HaProxy) {
    let ports = [free_port(), free_port(), free_port()];
    let replicas = ports.iter().map(|port| replica(*port)).collect();
    let proxy = HaProxy::start(haproxy, &ports);
    (replicas, ports, proxy)
}

/// HAProxy and oha, or why they cannot be used.
fn tools() -> Result<(PathBuf, PathBuf), String> {
    let haproxy = ["/usr/sbin/haproxy", "/usr/bin/haproxy"]
        .into_iter()
        .map(PathBuf::from)
        .find(|path| path.exists())
        .ok_or("HAProxy is not installed (apt-get install haproxy)")?;
    let oha = project_root().join("target/tools/bin/oha");
    if !oha.exists() {
        return Err("oha is not in target/tools; `make test` installs it".into());
    }
    Ok((haproxy, oha))
}

/// What oha saw.
#[derive(Debug)]
struct Load {
    requests: u64,
    non_200: u64,
    errors: u64,
    p99_ms: f64,
}

/// oha on `url` with `connections` for `seconds`, waiting for the requests in flight at the end.
fn oha(oha: &Path, url: &str, connections: u32, seconds: u32) -> Load {
    let output = Command::new(oha)
        .args([
            "-z",
            &format!("{seconds}s"),
            "-w",
            "-c",
            &connections.to_string(),
        ])
        .args(["--no-tui", "--output-format", "json", url])
        .output()
        .expect("cannot run oha");
    assert!(output.status.success(), "{output:?}");
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let statuses = report["statusCodeDistribution"]
        .as_object()
        .cloned()
        .unwrap_or_default();
    let count = |v: &serde_json::Value| v.as_u64().unwrap_or_default();
    Load {
        requests: statuses.values().map(count).sum::<u64>()
            + report["errorDistribution"]
                .as_object()
                .map_or(0, |e| e.values().map(count).sum()),
        non_200: statuses
            .iter()
            .filter(|(status, _)| *status != "200")
            .map(|(_, n)| count(n))
            .sum(),
        errors: report["errorDistribution"]
            .as_object()
            .map_or(0, |e| e.values().map(count).sum()),
        p99_ms: report["latencyPercentiles"]["p99"]
            .as_f64()
            .unwrap_or_default()
            * 1000.0,
    }
}

#[test]
fn a_replica_killed_mid_load_loses_no_request() {
    let (haproxy, oha_binary) = match tools() {
        Ok(found) => found,
        Err(reason) => return skip(&reason),
    };
    let (mut replicas, _, proxy) = three_replicas_behind(&haproxy);
    let url = format!("http://127.0.0.1:{}/", proxy.port);

    let load = std::thread::spawn(move || oha(&oha_binary, &url, 300, 15));
    // Mid-load: once the replica has answered 400 requests (about 4 s in).
    wait_for_lines(&replicas[1], "\"GET / HTTP/1.1\" 200", 400);
    replicas[1].child.kill().unwrap(); // SIGKILL: no drain, connections reset
    let load = load.join().unwrap();

    println!("kill -9 of one of 3 replicas mid-load: {load:?}");
    assert!(load.requests > 2500, "{load:?}");
    assert_eq!((load.errors, load.non_200), (0, 0), "{load:?}");
    // The requests the dead replica held are answered after their retry: two waits.
    assert!(load.p99_ms < 3000.0, "{load:?}");
}

#[test]
fn a_rolling_restart_loses_no_request() {
    let (haproxy, oha_binary) = match tools() {
        Ok(found) => found,
        Err(reason) => return skip(&reason),
    };
    let (mut replicas, ports, proxy) = three_replicas_behind(&haproxy);
    let url = format!("http://127.0.0.1:{}/", proxy.port);

    let load = std::thread::spawn(move || oha(&oha_binary, &url, 300, 20));
    // Under load: once the first replica has answered 100 requests.
    wait_for_lines(&replicas[0], "\"GET / HTTP/1.1\" 200", 100);
    let mut drains = Vec::new();
    for (index, port) in ports.iter().enumerate() {
        let signalled = Instant::now();
        replicas[index].signal(nix::sys::signal::Signal::SIGTERM);
        assert_eq!(
            replicas[index].wait_for_exit(Duration::from_secs(30)),
            Some(0),
            "replica {index}: {:#?}",
            replicas[index].lines()
        );
        drains.push(signalled.elapsed());
        replicas[index] = replica(*port);
        // HAProxy takes it back after two good checks (`rise 2`), which the replica logs.
        wait_for_lines(&replicas[index], "\"GET /readyz HTTP/1.0\" 200", 2);
    }
    let load = load.join().unwrap();

    println!("rolling restart of 3 replicas: {load:?}, each drained in {drains:?}");
    assert!(load.requests > 3500, "{load:?}");
    assert_eq!((load.errors, load.non_200), (0, 0), "{load:?}");
    // No request waits for a replica that is going away: one wait, and a little.
    assert!(load.p99_ms < 2000.0, "{load:?}");
    for drain in drains {
        // The drain delay, then the requests in flight (1 s wait), then the pause before stop.
        assert!(drain >= Duration::from_secs(2), "{drain:?}");
        assert!(drain < Duration::from_secs(5), "{drain:?}");
    }
}

/// GETs on a dying replica are sent again; POSTs are not (they may have been applied).
#[test]
fn a_post_on_a_killed_replica_is_answered_502_not_sent_again() {
    let (haproxy, _) = match tools() {
        Ok(found) => found,
        Err(reason) => return skip(&reason),
    };
    let (mut replicas, ports, proxy) = three_replicas_behind(&haproxy);
    let address = format!("127.0.0.1:{}", proxy.port);

    let body = r#"{"name":"Ada"}"#;
    let post = format!(
        "POST /greetings HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let requests: Vec<_> = (0..30)
        .map(|i| {
            let request = if i % 2 == 0 {
                post.clone()
            } else {
                get_request("/")
            };
            let address = address.clone();
            std::thread::spawn(move || {
                let answer = raw_http_blocking(&address, &request).unwrap_or_default();
                (
                    i % 2 == 0,
                    answer.lines().next().unwrap_or_default().to_owned(),
                )
            })
        })
        .collect();
    // Once all 30 are in flight (each waits its 1 s on a replica).
    let deadline = Instant::now() + Duration::from_secs(5);
    while in_flight(&ports) < 30 {
        assert!(Instant::now() < deadline, "the requests never all arrived");
        std::thread::sleep(Duration::from_millis(20));
    }
    replicas[0].child.kill().unwrap();
    let answers: Vec<(bool, String)> = requests.into_iter().map(|t| t.join().unwrap()).collect();

    let posts: Vec<&String> = answers.iter().filter(|(p, _)| *p).map(|(_, s)| s).collect();
    let gets: Vec<&String> = answers
        .iter()
        .filter(|(p, _)| !*p)
        .map(|(_, s)| s)
        .collect();
    println!("POSTs: {posts:?}\nGETs: {gets:?}");
    assert!(
        gets.iter().all(|s| s.starts_with("HTTP/1.1 200")),
        "{gets:?}"
    );
    let refused = posts
        .iter()
        .filter(|s| s.starts_with("HTTP/1.1 502"))
        .count();
    let served = posts
        .iter()
        .filter(|s| s.starts_with("HTTP/1.1 200"))
        .count();
    assert!(refused >= 1, "no POST was on the killed replica: {posts:?}");
    assert_eq!(refused + served, posts.len(), "{posts:?}");
    // Never sent again: the surviving replicas handled exactly the POSTs answered 200 (their
    // access lines reach stderr within 100 ms; wait for as many, then count).
    let handled = || -> usize {
        replicas[1..]
            .iter()
            .map(|replica| {
                let lines = replica.lines();
                lines
                    .iter()
                    .filter(|l| l.contains("\"POST /greetings HTTP/1.1\" 200"))
                    .count()
            })
            .sum()
    };
    let deadline = Instant::now() + Duration::from_secs(5);
    while handled() < served && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    let handled = handled();
    assert_eq!(
        handled, served,
        "POSTs handled by the survivors vs answered 200"
    );
}
