//! Shared test harness: an in-process app on `127.0.0.1:0`, the `greeter` binary as a child
//! process, raw HTTP, and the skip rule for tools that may be missing.

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::num::NonZeroUsize;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use greeter::config::ServeSettings;
use greeter::lifecycle::serving::ServingState;
use greeter::startup;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A running app and a client for it.
pub struct TestApp {
    /// `http://127.0.0.1:PORT`.
    pub address: String,
    /// A client with no connection limit and a generous timeout.
    pub client: awc::Client,
}

impl TestApp {
    /// The absolute URL of `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    /// `GET path`, returning status, headers and the whole body.
    pub async fn get(&self, path: &str) -> Reply {
        Reply::from(
            self.client
                .get(self.url(path))
                .send()
                .await
                .expect("request failed"),
        )
        .await
    }

    /// `GET path` with extra request `headers`.
    pub async fn get_with(&self, path: &str, headers: &[(&str, &str)]) -> Reply {
        let mut request = self.client.get(self.url(path));
        for header in headers {
            request = request.insert_header(*header);
        }
        Reply::from(request.send().await.expect("request failed")).await
    }

    /// `METHOD path` with no body.
    pub async fn request(&self, method: awc::http::Method, path: &str) -> Reply {
        Reply::from(
            self.client
                .request(method, self.url(path))
                .send()
                .await
                .expect("request failed"),
        )
        .await
    }

    /// `POST path` with `body` declared as `content_type` (none when `None`).
    pub async fn post(&self, path: &str, content_type: Option<&str>, body: &str) -> Reply {
        let mut request = self.client.post(self.url(path));
        if let Some(content_type) = content_type {
            request = request.insert_header(("content-type", content_type));
        }
        Reply::from(
            request
                .send_body(body.to_owned())
                .await
                .expect("request failed"),
        )
        .await
    }

    /// `POST path` with a JSON body.
    pub async fn post_json(&self, path: &str, body: &str) -> Reply {
        self.post(path, Some("application/json"), body).await
    }

    /// The `host:port` part of the address, for raw TCP.
    pub fn socket_address(&self) -> &str {
        self.address.trim_start_matches("http://")
    }
}

/// A complete answer.
pub struct Reply {
    /// Status code.
    pub status: u16,
    /// Response headers.
    pub headers: awc::http::header::HeaderMap,
    /// The whole body.
    pub body: Vec<u8>,
}

impl Reply {
    /// Reads the whole of `response`.
    pub async fn from<S>(mut response: awc::ClientResponse<S>) -> Self
    where
        S: futures_util::Stream<Item = Result<actix_web::web::Bytes, awc::error::PayloadError>>
            + Unpin,
    {
        let body = response.body().limit(32 << 20).await.expect("body failed");
        Self {
            status: response.status().as_u16(),
            headers: response.headers().clone(),
            body: body.to_vec(),
        }
    }

    /// A header's value as text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .get(name)
            .map(|v| v.to_str().expect("header is not text"))
    }

    /// The body parsed as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|err| {
            panic!(
                "body is not JSON ({err}): {:?}",
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    /// The body as text.
    pub fn text(&self) -> String {
        String::from_utf8(self.body.clone()).expect("body is not UTF-8")
    }
}

/// Starts the app with a short I/O wait, in this test's runtime.
pub fn spawn_app() -> TestApp {
    spawn_app_with(test_settings())
}

/// Starts the app with `settings` on a thread of its own, for tests that are not async;
/// returns its `host:port`. The server lives until the test process ends.
pub fn spawn_app_in_thread(settings: ServeSettings) -> String {
    let listener = free_port_listener();
    let address = listener.local_addr().unwrap().to_string();
    std::thread::spawn(move || {
        actix_rt::System::new().block_on(async move {
            startup::run(listener, &settings, ServingState::new())
                .expect("cannot start the server")
                .await
        })
    });
    address
}

/// Starts the app with the given I/O wait, in this test's runtime.
pub fn spawn_app_with_delay(io_delay: Duration) -> TestApp {
    spawn_app_with(ServeSettings {
        io_delay: io_delay.into(),
        ..test_settings()
    })
}

/// Settings for tests: 2 workers, a short I/O wait, the rest as by default.
pub fn test_settings() -> ServeSettings {
    ServeSettings {
        workers: NonZeroUsize::new(2).unwrap(),
        io_delay: Duration::from_millis(50).into(),
        ..ServeSettings::default()
    }
}

/// The parameters of a configured `GET /aggregate`, as `GET /hello/{name}` and
/// `GET /greetings` take them: `name` (required, 1 to 64 characters, no control character) and
/// `language` (one of five, `en` by default).
pub fn greeting_parameters() -> Vec<greeter::config::parameters::Parameter> {
    [
        serde_json::json!({"name": "name", "required": true, "max_length": 64,
                           "pattern": greeter::api::domain::Name::PATTERN,
                           "description": "Who to greet."}),
        serde_json::json!({"name": "language", "type": "enum",
                           "values": ["en", "fr", "es", "de", "ja"], "default": "en",
                           "description": "The greeting's language."}),
    ]
    .into_iter()
    .map(|table| {
        greeter::config::parameters::Parameter::declare(serde_json::from_value(table).unwrap())
            .unwrap()
    })
    .collect()
}

/// Settings whose `GET /aggregate` takes [`greeting_parameters`] and calls a greeter started
/// here (no I/O wait) with them: `hello` asks `GET /hello/{name}`, `greetings`
/// `GET /greetings?name={name}&language={language}`.
pub fn settings_with_parameters() -> ServeSettings {
    let upstream = spawn_app_in_thread(ServeSettings {
        io_delay: Duration::ZERO.into(),
        ..test_settings()
    });
    let upstream = |name: &str, path: &str| {
        greeter::config::Upstream::parse(&format!("{name}=http://{upstream}{path}")).unwrap()
    };
    ServeSettings {
        upstreams: vec![
            upstream("hello", "/hello/{name}"),
            upstream("greetings", "/greetings?name={name}&language={language}"),
        ],
        parameters: greeting_parameters(),
        ..test_settings()
    }
}

/// Starts the app with `settings` (host and port aside), in this test's runtime.
pub fn spawn_app_with(settings: ServeSettings) -> TestApp {
    spawn_app_serving(settings, ServingState::new())
}

/// Starts the app with `settings`, serving or draining as `serving` says, in this test's runtime.
pub fn spawn_app_serving(settings: ServeSettings, serving: ServingState) -> TestApp {
    let listener = free_port_listener();
    let address = format!("http://{}", listener.local_addr().unwrap());
    let server = startup::run(listener, &settings, serving).expect("cannot start the server");
    actix_rt::spawn(server);
    TestApp {
        address,
        client: client(),
    }
}

/// A listener on a free loopback port, bound as the server binds its own.
pub fn free_port_listener() -> TcpListener {
    let settings = ServeSettings::default();
    startup::listen("127.0.0.1:0".parse().unwrap(), settings.backlog)
        .expect("cannot bind a free port")
}

/// An HTTP client with no per-host connection limit and a generous timeout.
pub fn client() -> awc::Client {
    awc::Client::builder()
        .timeout(Duration::from_secs(60))
        .connector(
            awc::Connector::new()
                .limit(0)
                .timeout(Duration::from_secs(30)),
        )
        .disable_redirects()
        .finish()
}

/// Sends `request` as raw bytes and reads until the server closes the connection.
pub async fn raw_http(socket_address: &str, request: &str) -> String {
    let mut stream = TcpStream::connect(socket_address)
        .await
        .expect("connect failed");
    stream
        .write_all(request.as_bytes())
        .await
        .expect("write failed");
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(30), stream.read_to_end(&mut answer))
        .await
        .expect("server did not close the connection")
        .expect("read failed");
    String::from_utf8(answer).expect("answer is not UTF-8")
}

/// The project's root folder.
pub fn project_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Where skipped tests are listed, one `test: reason` line each, for `make test`'s last line.
pub const SKIPPED_TESTS_LOG: &str = "target/skipped-tests.log";

/// Skips a test whose tool is missing, saying why (on stderr and in [`SKIPPED_TESTS_LOG`]);
/// under `CI=true` a skip is a failure.
pub fn skip(reason: &str) {
    if std::env::var("CI").is_ok_and(|ci| ci == "true") {
        panic!("cannot skip under CI=true: {reason}");
    }
    eprintln!("SKIPPED: {reason}");
    let test = std::thread::current().name().unwrap_or("a test").to_owned();
    let log = project_root().join(SKIPPED_TESTS_LOG);
    let written = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log)
        .and_then(|mut file| {
            std::io::Write::write_all(&mut file, format!("{test}: {reason}\n").as_bytes())
        });
    if let Err(err) = written {
        eprintln!("cannot note the skip in {}: {err}", log.display());
    }
}

/// `greeter` run as a child process, its stderr collected line by line.
pub struct GreeterProcess {
    /// The child.
    pub child: Child,
    lines: Arc<Mutex<Vec<String>>>,
}

impl GreeterProcess {
    /// Starts `greeter` with `args` and extra environment `envs` (and `RUST_LOG=info`).
    pub fn start(args: &[&str], envs: &[(&str, &str)]) -> Self {
        let mut command = Self::command(args);
        for (key, value) in envs {
            command.env(key, value);
        }
        Self::spawn(command)
    }

    /// The `greeter` command with `args`, `RUST_LOG=info` and stderr piped, for [`Self::spawn`].
    pub fn command(args: &[&str]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_greeter"));
        command
            .args(args)
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        command
    }

    /// Starts `command` (made by [`Self::command`]), collecting its stderr.
    pub fn spawn(mut command: Command) -> Self {
        let mut child = command.spawn().expect("cannot start greeter");
        let stderr = child.stderr.take().unwrap();
        let lines = Arc::new(Mutex::new(Vec::new()));
        let sink = lines.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                sink.lock().unwrap().push(line);
            }
        });
        Self { child, lines }
    }

    /// Starts `greeter` on a free port and waits for it to listen; returns it with its address.
    pub fn serve(args: &[&str]) -> (Self, String) {
        let mut all = vec!["--port", "0", "--workers", "2"];
        all.extend_from_slice(args);
        let mut process = Self::start(&all, &[]);
        let address = process.address();
        (process, address)
    }

    /// Waits for the startup line and returns `http://host:port` from it.
    pub fn address(&mut self) -> String {
        let line = self.wait_for_line("listening on http://", Duration::from_secs(30));
        let start = line.find("http://").unwrap();
        line[start..].split_whitespace().next().unwrap().to_owned()
    }

    /// Waits until a stderr line contains `needle`, and returns it.
    pub fn wait_for_line(&mut self, needle: &str, within: Duration) -> String {
        let deadline = Instant::now() + within;
        loop {
            if let Some(line) = self.lines().into_iter().find(|l| l.contains(needle)) {
                return line;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "greeter exited ({status}) before logging {needle:?}: {:#?}",
                    self.lines()
                );
            }
            assert!(
                Instant::now() < deadline,
                "no {needle:?} in: {:#?}",
                self.lines()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Every stderr line so far.
    pub fn lines(&self) -> Vec<String> {
        self.lines.lock().unwrap().clone()
    }

    /// Sends `signal` to the process.
    pub fn signal(&self, signal: nix::sys::signal::Signal) {
        let pid = nix::unistd::Pid::from_raw(self.child.id() as i32);
        nix::sys::signal::kill(pid, signal).expect("cannot signal greeter");
    }

    /// Waits up to `within` for the process to exit and returns its exit code.
    pub fn wait_for_exit(&mut self, within: Duration) -> Option<i32> {
        let deadline = Instant::now() + within;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status.code();
            }
            assert!(
                Instant::now() < deadline,
                "greeter did not exit: {:#?}",
                self.lines()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for GreeterProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Blocking twin of [`raw_http`], for tests that drive a child process from plain threads.
pub fn raw_http_blocking(socket_address: &str, request: &str) -> std::io::Result<String> {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(socket_address)?;
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    stream.write_all(request.as_bytes())?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer)?;
    Ok(answer)
}

/// The value of the header `name` (lowercase, as actix-web writes it) in a raw `answer`'s head.
pub fn header_of<'a>(answer: &'a str, name: &str) -> Option<&'a str> {
    answer
        .split("\r\n\r\n")
        .next()?
        .lines()
        .find_map(|line| line.strip_prefix(&format!("{name}: ")))
}

/// A `GET` of `path` that closes the connection after the answer.
pub fn get_request(path: &str) -> String {
    format!("GET {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n")
}

/// Waits until the server end of `stream` has read everything sent on it: the kernel's
/// `/proc/net/tcp` shows that socket with an empty receive queue. A connection the server has not
/// accepted yet, or accepted but not read, keeps its bytes queued. Panics after 10 s.
pub fn wait_until_server_has_read(stream: &std::net::TcpStream) {
    wait_until_server_has_read_all(&[(stream.local_addr().unwrap(), stream.peer_addr().unwrap())]);
}

/// [`wait_until_server_has_read`] for many connections, each `(client, server)` addresses.
pub fn wait_until_server_has_read_all(
    connections: &[(std::net::SocketAddr, std::net::SocketAddr)],
) {
    let hex = |address: std::net::SocketAddr| match address.ip() {
        std::net::IpAddr::V4(ip) => format!(
            "{:08X}:{:04X}",
            u32::from_le_bytes(ip.octets()),
            address.port()
        ),
        std::net::IpAddr::V6(_) => panic!("IPv4 only"),
    };
    let mut waiting: std::collections::HashSet<(String, String)> = connections
        .iter()
        .map(|&(client, server)| (hex(server), hex(client)))
        .collect();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let table = std::fs::read_to_string("/proc/net/tcp").expect("no /proc/net/tcp");
        for line in table.lines() {
            let fields: Vec<&str> = line.split_whitespace().collect();
            if fields.len() > 4 && fields[4].split(':').nth(1) == Some("00000000") {
                waiting.remove(&(fields[1].to_owned(), fields[2].to_owned()));
            }
        }
        if waiting.is_empty() {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the server never read {} of the requests",
            waiting.len()
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Sends `request` on a new connection to `socket_address` and returns the connection once the
/// server has read it (see [`wait_until_server_has_read`]).
pub fn send_and_wait_until_read(socket_address: &str, request: &str) -> std::net::TcpStream {
    use std::io::Write;
    let mut stream = std::net::TcpStream::connect(socket_address).expect("connect failed");
    stream.write_all(request.as_bytes()).expect("write failed");
    wait_until_server_has_read(&stream);
    stream
}

/// Reads `stream` until the server closes it (30 s at most).
pub fn read_to_close(mut stream: std::net::TcpStream) -> std::io::Result<String> {
    use std::io::Read;
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer)?;
    Ok(answer)
}

/// The editions of the document: the version, where it is committed and where it is served.
pub const EDITIONS: [(greeter::api::openapi::SpecVersion, &str, &str); 2] = [
    (
        greeter::api::openapi::SpecVersion::V3_1,
        "openapi/openapi.json",
        "/openapi.json",
    ),
    (
        greeter::api::openapi::SpecVersion::V3_0,
        "openapi/openapi-3.0.json",
        "/openapi-3.0.json",
    ),
];
