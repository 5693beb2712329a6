//! Graceful shutdown on SIGTERM and SIGINT alike.
//!
//! actix-server stops gracefully on SIGTERM but abruptly on SIGINT (Ctrl-C); greeter treats both
//! the same: stop accepting, let every in-flight request finish, then exit.

use actix_web::dev::ServerHandle;

/// Waits for SIGTERM or SIGINT, then stops `server` gracefully.
pub async fn stop_on_signal(server: ServerHandle) -> std::io::Result<()> {
    let signal = wait_for_signal().await?;
    log::info!("{signal} received: finishing in-flight requests, then stopping");
    server.stop(true).await;
    Ok(())
}

#[cfg(unix)]
async fn wait_for_signal() -> std::io::Result<&'static str> {
    use actix_rt::signal::unix::{SignalKind, signal};
    use std::task::Poll;

    let mut terminate = signal(SignalKind::terminate())?;
    let mut interrupt = signal(SignalKind::interrupt())?;
    Ok(std::future::poll_fn(|cx| {
        if terminate.poll_recv(cx).is_ready() {
            Poll::Ready("SIGTERM")
        } else if interrupt.poll_recv(cx).is_ready() {
            Poll::Ready("SIGINT")
        } else {
            Poll::Pending
        }
    })
    .await)
}

#[cfg(not(unix))]
async fn wait_for_signal() -> std::io::Result<&'static str> {
    actix_rt::signal::ctrl_c().await?;
    Ok("Ctrl-C")
}
