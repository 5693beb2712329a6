//! Logging: env_logger, filtered by `RUST_LOG` (default `info`), and panics logged as errors.

/// Filter used when `RUST_LOG` is not set.
pub const DEFAULT_LOG_FILTER: &str = "info";

/// Installs env_logger as the global logger and [`log_panics`]; later calls do nothing.
pub fn init_logging() {
    let env = env_logger::Env::default().default_filter_or(DEFAULT_LOG_FILTER);
    if env_logger::Builder::from_env(env).try_init().is_ok() {
        log_panics();
    }
}

/// Replaces the panic hook with one that logs the panic's message and place as one error line,
/// so a handler's panic shows in the log like any other failure.
pub fn log_panics() {
    std::panic::set_hook(Box::new(|info| log::error!("panic: {info}")));
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;

    static LINES: Mutex<Vec<String>> = Mutex::new(Vec::new());

    struct Capture;

    impl log::Log for Capture {
        fn enabled(&self, _: &log::Metadata<'_>) -> bool {
            true
        }
        fn log(&self, record: &log::Record<'_>) {
            LINES
                .lock()
                .unwrap()
                .push(format!("{} {}", record.level(), record.args()));
        }
        fn flush(&self) {}
    }

    #[test]
    fn a_panic_is_logged_with_its_message_and_place() {
        log::set_logger(&Capture).unwrap();
        log::set_max_level(log::LevelFilter::Trace);
        log_panics();

        let _ = std::panic::catch_unwind(|| panic!("the disco"));

        let _ = std::panic::take_hook();
        let lines = LINES.lock().unwrap();
        let line = lines
            .iter()
            .find(|l| l.contains("the disco"))
            .expect("no panic line");
        assert!(line.starts_with("ERROR panic: "), "{line}");
        assert!(line.contains("src/telemetry.rs"), "{line}");
    }
}
