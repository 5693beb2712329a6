//! HTTP/2 to an upstream, on the h2 crate: a worker's calls to one upstream share a connection,
//! each call a stream of it; when the upstream's `SETTINGS_MAX_CONCURRENT_STREAMS` is reached,
//! another connection opens (hyper's pool would queue the call instead: hyper #2641), up to
//! the upstream's `max_connections`, past which calls queue on the least busy one. A connection
//! idle for the idle timeout is closed.
//!
//! A stream the upstream refuses (`REFUSED_STREAM`, or past a `GOAWAY`'s last stream) was not
//! processed, so the call is sent again, on another connection each time, until its deadline;
//! a stream reset, any other `GOAWAY` or a connection lost fail that call alone, each with its
//! own typed error.

use std::cell::{Cell, RefCell};
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, ready};
use std::time::{Duration, Instant};

use h2::client::SendRequest;
use h2::{Reason, RecvStream};
use hyper::body::{Bytes, Frame};
use tokio::io::{AsyncRead, AsyncWrite};

use super::{Failure, SourceErrorType};
use crate::lifecycle::memory;

/// How much of one answer's body the upstream may send ahead of greeter's reading.
const STREAM_WINDOW: u32 = 1 << 20;
/// How much of all the answers on one connection the upstream may send ahead.
const CONNECTION_WINDOW: u32 = 16 << 20;
/// How long a new connection waits for the upstream's SETTINGS (its stream limit); an upstream
/// that sends none is no HTTP/2 server.
const SETTINGS_WAIT: Duration = Duration::from_secs(1);

/// One HTTP/2 connection to the upstream, shared by the calls in flight on it.
pub(super) struct Connection {
    sender: SendRequest<Bytes>,
    /// Calls in flight on it.
    streams: Cell<usize>,
    /// Set when the connection has ended (closed, `GOAWAY`, lost).
    ended: Rc<Cell<bool>>,
    /// When its last call ended.
    idle_since: Cell<Instant>,
}

impl Connection {
    /// Whether another call may start a stream on it now.
    fn has_room(&self) -> bool {
        !self.ended.get() && self.streams.get() < self.sender.current_max_send_streams()
    }
}

/// A call's stream, counted on its connection while it lives.
pub(super) struct Stream(Rc<Connection>);

impl Drop for Stream {
    fn drop(&mut self) {
        let connection = &self.0;
        connection.streams.set(connection.streams.get() - 1);
        connection.idle_since.set(Instant::now());
    }
}

/// A worker's HTTP/2 connections to one upstream.
pub(super) struct Pool {
    connections: RefCell<Vec<Rc<Connection>>>,
    /// Held while a connection is being opened, so that a burst of calls opens one, not one
    /// each.
    opening: tokio::sync::Mutex<()>,
    /// Connections at most.
    max_connections: usize,
    idle_timeout: Duration,
    /// Whether the idle timer is armed.
    pruning: Cell<bool>,
}

impl Pool {
    /// An empty pool of at most `max_connections`, each closed when idle for `idle_timeout`.
    pub(super) fn new(max_connections: usize, idle_timeout: Duration) -> Rc<Self> {
        Rc::new(Self {
            connections: RefCell::default(),
            opening: tokio::sync::Mutex::new(()),
            max_connections,
            idle_timeout,
            pruning: Cell::new(false),
        })
    }

    /// A stream on a connection with room; else, while no other call is opening one and the
    /// pool is below its limit, `None` with the opening guard held (open one, then
    /// [`Self::add`] it); at the limit, a stream on the least busy connection (h2 queues it
    /// until one of its streams ends).
    pub(super) async fn stream(
        self: &Rc<Self>,
    ) -> (Option<Stream>, Option<tokio::sync::MutexGuard<'_, ()>>) {
        if let Some(stream) = self.stream_with_room() {
            return (Some(stream), None);
        }
        let guard = self.opening.lock().await;
        // Another call may have opened one meanwhile.
        if let Some(stream) = self.stream_with_room() {
            return (Some(stream), None);
        }
        let live = self.live();
        if live.len() < self.max_connections {
            return (None, Some(guard));
        }
        let least_busy = live.into_iter().min_by_key(|c| c.streams.get());
        (least_busy.map(start), None)
    }

    fn live(&self) -> Vec<Rc<Connection>> {
        let mut connections = self.connections.borrow_mut();
        connections.retain(|c| !c.ended.get());
        connections.clone()
    }

    fn stream_with_room(&self) -> Option<Stream> {
        let connections = self.connections.borrow();
        connections
            .iter()
            .find(|c| c.has_room())
            .cloned()
            .map(start)
    }

    /// Adds a connection just opened, and returns a stream on it.
    pub(super) fn add(self: &Rc<Self>, connection: Rc<Connection>) -> Stream {
        self.connections.borrow_mut().push(Rc::clone(&connection));
        self.arm_timer();
        start(connection)
    }

    /// Forgets `connection` (after a `GOAWAY` or a refused stream): no call starts on it again.
    pub(super) fn retire(&self, connection: &Rc<Connection>) {
        connection.ended.set(true);
        self.connections
            .borrow_mut()
            .retain(|c| !Rc::ptr_eq(c, connection));
    }

    /// Closes the connections idle for the idle timeout every so often, while any is left.
    fn arm_timer(self: &Rc<Self>) {
        if self.pruning.replace(true) {
            return;
        }
        let pool = Rc::downgrade(self);
        let every = self.idle_timeout;
        actix_rt::spawn(async move {
            loop {
                tokio::time::sleep(every / 4).await;
                let Some(pool) = pool.upgrade() else { return };
                let mut connections = pool.connections.borrow_mut();
                connections.retain(|c| {
                    !c.ended.get() && (c.streams.get() > 0 || c.idle_since.get().elapsed() < every)
                });
                if connections.is_empty() {
                    drop(connections);
                    pool.pruning.set(false);
                    memory::release_freed_memory();
                    return;
                }
            }
        });
    }
}

fn start(connection: Rc<Connection>) -> Stream {
    connection.streams.set(connection.streams.get() + 1);
    Stream(connection)
}

impl Stream {
    /// Its connection.
    pub(super) fn connection(&self) -> &Rc<Connection> {
        &self.0
    }

    /// Sends `request` (a GET, without a body) on the stream and waits for the answer's head.
    pub(super) async fn send(
        &self,
        request: http::Request<()>,
    ) -> Result<http::Response<Body>, h2::Error> {
        let mut sender = self.0.sender.clone().ready().await?;
        let (response, _) = sender.send_request(request, true)?;
        Ok(response.await?.map(Body))
    }
}

/// Starts HTTP/2 on `io` (after TLS, if any), its work spawned on this worker's event loop.
pub(super) async fn handshake<S>(io: S) -> Result<Rc<Connection>, Failure>
where
    S: AsyncRead + AsyncWrite + Unpin + 'static,
{
    let (sender, connection) = h2::client::Builder::new()
        .enable_push(false)
        .initial_window_size(STREAM_WINDOW)
        .initial_connection_window_size(CONNECTION_WINDOW)
        // No stream before the upstream's SETTINGS say how many it takes: opened past its
        // limit, they would be refused.
        .initial_max_send_streams(0)
        .handshake::<_, Bytes>(io)
        .await
        .map_err(|error| failed(&error, false))?;
    let ended = Rc::new(Cell::new(false));
    let on_end = Rc::clone(&ended);
    actix_rt::spawn(async move {
        let _ = connection.await; // its errors reach the calls through their streams
        on_end.set(true);
    });
    // The SETTINGS are the upstream's first frame, a round trip away. h2 tells of them by no
    // event: looked for every millisecond, for at most SETTINGS_WAIT.
    let waited = Instant::now();
    while sender.current_max_send_streams() == 0 && !ended.get() {
        if waited.elapsed() >= SETTINGS_WAIT {
            return Err(Failure::new(
                SourceErrorType::Protocol,
                format!(
                    "the upstream sent no HTTP/2 SETTINGS within {} (not HTTP/2?)",
                    humantime::format_duration(SETTINGS_WAIT)
                ),
            ));
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    Ok(Rc::new(Connection {
        sender,
        streams: Cell::new(0),
        ended,
        idle_since: Cell::new(Instant::now()),
    }))
}

/// Whether a call that failed with `error` was not processed by the upstream, and so may be
/// sent again.
pub(super) fn was_refused(error: &h2::Error) -> bool {
    error.reason() == Some(Reason::REFUSED_STREAM)
        || (error.is_go_away() && error.reason() == Some(Reason::NO_ERROR))
}

/// The failure of a call whose stream ended with `error`; `answered` says whether the answer's
/// head had arrived.
pub(super) fn failed(error: &h2::Error, answered: bool) -> Failure {
    let reason = error
        .reason()
        .map_or_else(|| "no reason".to_owned(), |reason| format!("{reason:?}"));
    if error.is_go_away() && !error.is_remote() {
        // h2 itself ended the connection: the upstream broke the protocol.
        return Failure::new(
            SourceErrorType::Protocol,
            format!("the upstream does not speak HTTP/2 as it should ({reason})"),
        );
    }
    if error.is_go_away() {
        return Failure::new(
            SourceErrorType::Connect,
            format!("the upstream closed the connection (GOAWAY: {reason})"),
        );
    }
    if error.is_reset() {
        let kind = if answered {
            SourceErrorType::InvalidBody
        } else {
            SourceErrorType::Protocol
        };
        return Failure::new(kind, format!("the upstream reset the stream ({reason})"));
    }
    if let Some(io) = error.get_io() {
        return Failure::new(
            SourceErrorType::Connect,
            format!("the connection was lost: {}", io.kind()),
        );
    }
    Failure::new(
        SourceErrorType::Protocol,
        format!("the upstream broke HTTP/2: {reason}"),
    )
}

/// An answer's body on its stream, read as it arrives, each chunk's window given back.
pub(super) struct Body(RecvStream);

impl hyper::body::Body for Body {
    type Data = Bytes;
    type Error = h2::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, h2::Error>>> {
        let stream = &mut self.get_mut().0;
        match ready!(stream.poll_data(cx)) {
            Some(Ok(data)) => {
                let _ = stream.flow_control().release_capacity(data.len());
                Poll::Ready(Some(Ok(Frame::data(data))))
            }
            Some(Err(error)) => Poll::Ready(Some(Err(error))),
            None => match ready!(stream.poll_trailers(cx)) {
                Ok(Some(trailers)) => Poll::Ready(Some(Ok(Frame::trailers(trailers)))),
                Ok(None) => Poll::Ready(None),
                Err(error) => Poll::Ready(Some(Err(error))),
            },
        }
    }

    fn is_end_stream(&self) -> bool {
        self.0.is_end_stream()
    }
}

/// Whether a body error is the upstream's reset, and its reason.
pub(super) fn reset_reason(error: &(dyn std::error::Error + 'static)) -> Option<String> {
    let error = error.downcast_ref::<h2::Error>()?;
    error.reason().map(|reason| format!("{reason:?}"))
}
