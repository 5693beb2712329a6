//! Graceful shutdown on SIGTERM and SIGINT alike: a drain, then a stop, and an exit at once on
//! a further signal.
//!
//! actix-server stops gracefully on SIGTERM but abruptly on SIGINT (Ctrl-C); greeter treats both
//! the same. The first signal turns the server to draining ([`ServingState`]: `/readyz` answers
//! 503 and every answer closes its connection) and keeps serving for `--drain-delay`, so that a
//! load balancer moves its clients elsewhere before anything is refused; a second signal ends
//! the drain early. Then the listener closes and every in-flight request finishes (within
//! `--shutdown-timeout`); a signal during that wait ends the process at once, as a second
//! Ctrl-C does in uvicorn. A repeat of the first signal within [`REPEAT_WINDOW`] is the same
//! stop, not a second one (GNU `timeout` sends its signal twice). The handlers are installed by
//! [`Signals::install`] before the listener is bound, so no signal finds the process without
//! them.

use std::task::Poll;
use std::time::Duration;

use actix_rt::signal::unix::{Signal, SignalKind, signal};
use actix_web::dev::ServerHandle;

use crate::lifecycle::serving::ServingState;
use crate::telemetry::logging;

/// SIGTERM and SIGINT, caught from the moment they are installed.
pub struct Signals {
    terminate: Signal,
    interrupt: Signal,
}

impl Signals {
    /// Installs the handlers; call inside the actix system, before listening.
    pub fn install() -> std::io::Result<Self> {
        let handlers = signal(SignalKind::terminate())
            .and_then(|terminate| Ok((terminate, signal(SignalKind::interrupt())?)));
        let (terminate, interrupt) = handlers.map_err(|err| {
            std::io::Error::new(err.kind(), format!("cannot handle signals: {err}"))
        })?;
        Ok(Self {
            terminate,
            interrupt,
        })
    }

    /// Waits for the next SIGTERM or SIGINT; returns its name and number.
    async fn next(&mut self) -> (&'static str, i32) {
        std::future::poll_fn(|cx| {
            if self.terminate.poll_recv(cx).is_ready() {
                Poll::Ready(("SIGTERM", 15))
            } else if self.interrupt.poll_recv(cx).is_ready() {
                Poll::Ready(("SIGINT", 2))
            } else {
                Poll::Pending
            }
        })
        .await
    }
}

/// A repeat of the first signal within this long is the same request to stop, not a second
/// one: GNU `timeout` (and some supervisors) signal the child and then its process group, so one
/// stop arrives as two signals moments apart.
pub const REPEAT_WINDOW: Duration = Duration::from_secs(1);

/// The first signal: its name and when it came.
struct First {
    name: &'static str,
    at: std::time::Instant,
}

impl Signals {
    /// Waits for a signal that is not `first` repeated within [`REPEAT_WINDOW`].
    async fn next_after(&mut self, first: &First) -> (&'static str, i32) {
        loop {
            let (name, number) = self.next().await;
            if name == first.name && first.at.elapsed() < REPEAT_WINDOW {
                log::debug!("{name} received again within {REPEAT_WINDOW:?}: the same stop");
                continue;
            }
            return (name, number);
        }
    }
}

/// Between pausing the accept thread and stopping the workers: time for the pause to reach the
/// accept thread and for the workers to take the connections it handed them.
pub const ACCEPT_SETTLE: Duration = Duration::from_millis(100);

/// Waits for a signal, drains for `drain_delay` (a second signal ends it early), then stops
/// `server` gracefully; a signal during the stop exits the process at once with status
/// 128 + its number, dropping what is still in flight.
pub async fn stop_on_signal(
    mut signals: Signals,
    server: ServerHandle,
    serving: ServingState,
    drain_delay: Duration,
) {
    let (name, _) = signals.next().await;
    let first = First {
        name,
        at: std::time::Instant::now(),
    };
    serving.begin_draining();
    if !drain_delay.is_zero() {
        log::info!(
            "{name} received: draining for {} (/readyz answers 503, connections close after \
             their answer), then finishing in-flight requests",
            humantime::format_duration(drain_delay)
        );
        let drained = actix_rt::time::sleep(drain_delay);
        futures_util::pin_mut!(drained);
        let second = signals.next_after(&first);
        futures_util::pin_mut!(second);
        if let futures_util::future::Either::Right(((name, _), _)) =
            futures_util::future::select(drained, second).await
        {
            log::info!("{name} received again: ending the drain early");
        }
        log::info!("drain over: no longer accepting, finishing in-flight requests");
    } else {
        log::info!("{name} received: finishing in-flight requests, then stopping");
    }
    // actix-server tells its accept thread and its workers to stop at the same time: a
    // connection accepted in between reaches a stopping worker, which drops it unread (the
    // client gets a reset). So accepting stops first; connections the kernel queues from then
    // on stay in the socket's backlog (the next process takes them when the socket is
    // inherited, as under systemd), and the workers take what was accepted before they stop.
    server.pause().await;
    actix_rt::time::sleep(ACCEPT_SETTLE).await;
    let graceful = server.stop(true);
    futures_util::pin_mut!(graceful);
    let next = signals.next_after(&first);
    futures_util::pin_mut!(next);
    if let futures_util::future::Either::Right(((name, number), _)) =
        futures_util::future::select(graceful, next).await
    {
        log::warn!("{name} received again: stopping at once, in-flight requests are dropped");
        logging::flush_logs();
        std::process::exit(128 + number);
    }
}
