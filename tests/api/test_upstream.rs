//! A test upstream: a small raw TCP server on a loopback port that answers as told, including
//! every way the typed errors of `GET /aggregate` name, and records what it was sent.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// How a test upstream answers each request.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Behaviour {
    /// `200` with `{"n": <the request's number on this server>}`, keeping the connection.
    Json,
    /// Like `Json`, then closes the connection without saying so (an idle timeout of zero).
    JsonThenClose,
    /// Like `Json` for a connection's first request; closes it unanswered at its second (an
    /// upstream's idle close that crosses the request).
    DropsSecondRequest,
    /// Reads the request, then never answers.
    Silent,
    /// Answers `200` JSON after this long.
    Slow(Duration),
    /// Sends half a status line, then closes.
    ClosesMidHead,
    /// Declares 100 bytes, sends 10, closes.
    ClosesMidBody,
    /// `200` with a body that is not JSON.
    NotJson,
    /// `200` with a body that is not UTF-8.
    NotUtf8,
    /// `200` declaring a body of this many bytes, and sending it.
    Large(usize),
    /// `200` with a chunked body of this many bytes.
    LargeChunked(usize),
    /// `500` with a JSON body.
    Status500,
    /// `500` declaring a body of this many bytes, and sending it.
    Status500Large(usize),
    /// Something that is not HTTP at all.
    NotHttp,
    /// `204 No Content`.
    NoContent,
    /// `200` with this many arrays nested in one another.
    NestedArrays(usize),
    /// `200` with this body.
    Body(&'static str),
    /// `200` with a JSON string of this many bytes, declared, after this long.
    LargeAfter(Duration, usize),
}

/// What a test upstream records, one entry per request.
type Record = Arc<Mutex<Vec<String>>>;

/// A test upstream: its URL, how many connections it accepted, how many it saw closed by the
/// caller, and what each request carried.
pub(crate) struct TestUpstream {
    pub(crate) url: String,
    pub(crate) accepted: Arc<AtomicUsize>,
    pub(crate) closed_by_caller: Arc<AtomicUsize>,
    /// The `X-Request-Id` of each request.
    pub(crate) request_ids: Record,
    /// The head of each request (lowercased): its request line first.
    pub(crate) heads: Record,
    /// The target of each request, as sent (not lowercased).
    pub(crate) targets: Record,
}

/// Starts an upstream on a free loopback port that answers as `behaviour` says.
pub(crate) async fn upstream(behaviour: Behaviour) -> TestUpstream {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/data", listener.local_addr().unwrap());
    let accepted = Arc::new(AtomicUsize::new(0));
    let closed_by_caller = Arc::new(AtomicUsize::new(0));
    let request_ids = Arc::new(Mutex::new(Vec::new()));
    let heads = Arc::new(Mutex::new(Vec::new()));
    let targets = Arc::new(Mutex::new(Vec::new()));
    let served = Arc::new(AtomicUsize::new(0));
    let (a, c, r, l) = (
        accepted.clone(),
        closed_by_caller.clone(),
        request_ids.clone(),
        (heads.clone(), targets.clone()),
    );
    actix_rt::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            a.fetch_add(1, Ordering::SeqCst);
            let (c, r, l, served) = (c.clone(), r.clone(), l.clone(), served.clone());
            actix_rt::spawn(serve(stream, behaviour, c, r, l, served));
        }
    });
    TestUpstream {
        url,
        accepted,
        closed_by_caller,
        request_ids,
        heads,
        targets,
    }
}

/// Serves requests on one connection as `behaviour` says, until either side closes.
async fn serve(
    mut stream: TcpStream,
    behaviour: Behaviour,
    closed_by_caller: Arc<AtomicUsize>,
    request_ids: Arc<Mutex<Vec<String>>>,
    (heads, targets): (Record, Record),
    served: Arc<AtomicUsize>,
) {
    for on_this_connection in 0.. {
        let Some(head) = read_head(&mut stream).await else {
            closed_by_caller.fetch_add(1, Ordering::SeqCst);
            return;
        };
        let target = head.split(' ').nth(1).unwrap_or_default().to_owned();
        targets.lock().unwrap().push(target);
        let head = head.to_ascii_lowercase();
        heads.lock().unwrap().push(head.clone());
        if let Some(id) = head
            .lines()
            .find_map(|line| line.strip_prefix("x-request-id: "))
        {
            request_ids.lock().unwrap().push(id.trim().to_owned());
        }
        let n = served.fetch_add(1, Ordering::SeqCst);
        let json = |body: &str| {
            format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            )
            .into_bytes()
        };
        let answer: Vec<u8> = match behaviour {
            Behaviour::DropsSecondRequest if on_this_connection > 0 => return,
            Behaviour::Json | Behaviour::JsonThenClose | Behaviour::DropsSecondRequest => {
                json(&format!("{{\"n\":{n}}}"))
            }
            Behaviour::Silent => {
                let mut rest = [0; 1];
                let _ = stream.read(&mut rest).await; // until the caller closes
                closed_by_caller.fetch_add(1, Ordering::SeqCst);
                return;
            }
            Behaviour::Slow(wait) => {
                actix_rt::time::sleep(wait).await;
                json("{}")
            }
            Behaviour::ClosesMidHead => b"HTTP/1.1 20".to_vec(),
            Behaviour::ClosesMidBody => {
                b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{\"a\":\"bcd\"".to_vec()
            }
            Behaviour::NotJson => json("hello"),
            Behaviour::NotUtf8 => {
                let mut answer = b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\n\"".to_vec();
                answer.extend_from_slice(&[0xFF, 0xFE, b'"']);
                answer
            }
            Behaviour::Large(size) => json(&format!("\"{}\"", "x".repeat(size - 2))),
            Behaviour::LargeChunked(size) => {
                let mut answer = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
                for chunk in "x".repeat(size).as_bytes().chunks(4096) {
                    answer.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
                    answer.extend_from_slice(chunk);
                    answer.extend_from_slice(b"\r\n");
                }
                answer.extend_from_slice(b"0\r\n\r\n");
                answer
            }
            Behaviour::Status500 => {
                b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 2\r\n\r\n{}".to_vec()
            }
            Behaviour::Status500Large(size) => {
                let mut answer =
                    format!("HTTP/1.1 500 Internal Server Error\r\nContent-Length: {size}\r\n\r\n")
                        .into_bytes();
                answer.resize(answer.len() + size, b'x');
                answer
            }
            Behaviour::NotHttp => b"SSH-2.0-OpenSSH_9.2\r\n".to_vec(),
            Behaviour::NoContent => b"HTTP/1.1 204 No Content\r\n\r\n".to_vec(),
            Behaviour::NestedArrays(depth) => {
                json(&format!("{}{}", "[".repeat(depth), "]".repeat(depth)))
            }
            Behaviour::Body(body) => json(body),
            Behaviour::LargeAfter(wait, size) => {
                actix_rt::time::sleep(wait).await;
                json(&format!("\"{}\"", "x".repeat(size - 2)))
            }
        };
        if stream.write_all(&answer).await.is_err() {
            return;
        }
        if let Behaviour::JsonThenClose = behaviour {
            // Closes its side, then waits for the caller to close its own: the moment the
            // caller has seen the close (counted in `closed_by_caller`).
            let _ = stream.shutdown().await;
            let mut rest = [0; 1];
            let _ = stream.read(&mut rest).await;
            closed_by_caller.fetch_add(1, Ordering::SeqCst);
            return;
        }
        if !matches!(
            behaviour,
            Behaviour::Json
                | Behaviour::Slow(_)
                | Behaviour::DropsSecondRequest
                | Behaviour::LargeAfter(..)
        ) {
            return; // closes
        }
    }
}

/// Reads one request head, or `None` when the caller closed first.
async fn read_head(stream: &mut TcpStream) -> Option<String> {
    let mut head = Vec::new();
    let mut byte = [0; 1];
    while !head.ends_with(b"\r\n\r\n") {
        match stream.read(&mut byte).await {
            Ok(1) => head.push(byte[0]),
            _ => return None,
        }
    }
    Some(String::from_utf8_lossy(&head).into_owned())
}

/// A loopback URL where nothing listens.
pub(crate) fn refusing_url() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    format!("http://{}/data", listener.local_addr().unwrap())
}

/// The result of the source `name` in an aggregate.
pub(crate) fn source<'a>(aggregate: &'a Value, name: &str) -> &'a Value {
    aggregate["sources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == name)
        .unwrap_or_else(|| panic!("no {name} in {aggregate}"))
}

/// The value of header `name` (lowercase) in each request `upstream` received.
pub(crate) fn header_values(upstream: &TestUpstream, name: &str) -> Vec<Option<String>> {
    let prefix = format!("{name}: ");
    upstream
        .heads
        .lock()
        .unwrap()
        .iter()
        .map(|head| {
            head.lines()
                .find_map(|line| line.strip_prefix(&prefix))
                .map(|value| value.trim().to_owned())
        })
        .collect()
}
