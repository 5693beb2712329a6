//! Logging: env_logger, filtered by `RUST_LOG` (default `info`).

/// Filter used when `RUST_LOG` is not set.
pub const DEFAULT_LOG_FILTER: &str = "info";

/// Installs env_logger as the global logger, and a panic hook that logs a panic's message and
/// place as an error line; later calls do nothing.
pub fn init_logging() {
    let env = env_logger::Env::default().default_filter_or(DEFAULT_LOG_FILTER);
    if env_logger::Builder::from_env(env).try_init().is_ok() {
        std::panic::set_hook(Box::new(|info| log::error!("panic: {info}")));
    }
}
