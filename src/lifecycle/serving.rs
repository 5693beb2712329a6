//! Whether the server is serving or draining: shared by every worker, turned once by the first
//! shutdown signal ([`crate::lifecycle::signals`]), read by `GET /readyz` and by the HTTP layer,
//! which closes each connection after its answer while draining.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// The server's shutdown state; clones share it.
#[derive(Debug, Clone, Default)]
pub struct ServingState {
    draining: Arc<AtomicBool>,
}

impl ServingState {
    /// A server that is serving.
    pub fn new() -> Self {
        Self::default()
    }

    /// A shutdown began: from now on the server is draining (it never turns back).
    pub fn begin_draining(&self) {
        self.draining.store(true, Ordering::Relaxed);
    }

    /// Whether a shutdown began.
    pub fn is_draining(&self) -> bool {
        self.draining.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draining_is_shared_by_clones_and_final() {
        let state = ServingState::new();
        let worker = state.clone();
        assert!(!worker.is_draining());
        state.begin_draining();
        state.begin_draining();
        assert!(worker.is_draining());
    }
}
