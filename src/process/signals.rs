//! Graceful shutdown on SIGTERM and SIGINT alike, and at once on a second signal.
//!
//! actix-server stops gracefully on SIGTERM but abruptly on SIGINT (Ctrl-C); greeter treats both
//! the same: stop accepting, let every in-flight request finish (within `--shutdown-timeout`),
//! then exit. A second signal during that wait ends the process at once, as a second Ctrl-C
//! does in uvicorn. The handlers are installed by [`Signals::install`] before the listener is
//! bound, so no signal finds the process without them.

use std::task::Poll;

use actix_rt::signal::unix::{Signal, SignalKind, signal};
use actix_web::dev::ServerHandle;

use crate::process::logging;

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

/// Waits for a signal, then stops `server` gracefully; a second signal exits the process at
/// once with status 128 + its number, dropping what is still in flight.
pub async fn stop_on_signal(mut signals: Signals, server: ServerHandle) {
    let (name, _) = signals.next().await;
    log::info!("{name} received: finishing in-flight requests, then stopping");
    let graceful = server.stop(true);
    futures_util::pin_mut!(graceful);
    let second = signals.next();
    futures_util::pin_mut!(second);
    if let futures_util::future::Either::Right(((name, number), _)) =
        futures_util::future::select(graceful, second).await
    {
        log::warn!("{name} received again: stopping at once, in-flight requests are dropped");
        logging::flush_logs();
        std::process::exit(128 + number);
    }
}
