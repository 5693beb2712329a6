//! Logging: env_logger, filtered by `RUST_LOG` (default `info`).

/// Filter used when `RUST_LOG` is not set.
pub const DEFAULT_LOG_FILTER: &str = "info";

/// Installs env_logger as the global logger; later calls do nothing.
pub fn init_logging() {
    let env = env_logger::Env::default().default_filter_or(DEFAULT_LOG_FILTER);
    let _ = env_logger::Builder::from_env(env).try_init();
}
