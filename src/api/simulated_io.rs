//! The simulated I/O wait that stands in for a database or network call, as the original
//! example's `await asyncio.sleep(1)` does.

use std::time::Duration;

/// A wait on the async runtime's timer: it parks the request, never a thread.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SimulatedIo {
    delay: Duration,
}

impl SimulatedIo {
    /// A wait of `delay`; `Duration::ZERO` answers at once.
    pub fn new(delay: Duration) -> Self {
        Self { delay }
    }

    /// Awaits the configured delay without blocking the worker thread.
    pub async fn wait(&self) {
        if !self.delay.is_zero() {
            actix_rt::time::sleep(self.delay).await;
        }
    }
}
