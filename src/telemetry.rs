//! Logging: env_logger, filtered by `RUST_LOG` (default `info`), into a buffer that a
//! background thread flushes every [`LOG_FLUSH_INTERVAL`], so that a request costs a copy into
//! memory rather than a `write(2)`; panics are logged as errors.
//!
//! A crate does this for `tracing` (tracing-appender's `non_blocking`, a channel to a writer
//! thread), but it brings tracing-subscriber into a `log`/env_logger program, and a channel
//! wakes a thread per line: measured here, that cost more than the `write(2)` it saved.

use std::io::{self, BufWriter, IsTerminal, Stderr, Write};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use env_logger::WriteStyle;

/// Filter used when `RUST_LOG` is not set.
pub const DEFAULT_LOG_FILTER: &str = "info";
/// How often buffered log lines are written out (and when the buffer fills, at once).
pub const LOG_FLUSH_INTERVAL: Duration = Duration::from_millis(100);
/// The log buffer's size.
pub const LOG_BUFFER_BYTES: usize = 256 * 1024;

type Buffer = Arc<Mutex<BufWriter<Stderr>>>;

static BUFFER: OnceLock<Buffer> = OnceLock::new();

/// An `io::Write` into the shared buffer.
struct BufferedStderr(Buffer);

impl Write for BufferedStderr {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0
            .lock()
            .map_err(|_| io::Error::other("log buffer poisoned"))?
            .write_all(buf)?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        // Flushing is the background thread's job (and `flush_logs`'s).
        Ok(())
    }
}

/// Installs env_logger as the global logger, writing into the buffer, starts the thread that
/// flushes it, and [`log_panics`]; later calls do nothing.
pub fn init_logging() {
    let buffer: Buffer = Arc::new(Mutex::new(BufWriter::with_capacity(
        LOG_BUFFER_BYTES,
        io::stderr(),
    )));
    let env = env_logger::Env::default().default_filter_or(DEFAULT_LOG_FILTER);
    // Colours only for a terminal: otherwise env_logger would colour each line and then strip
    // the colours again, which cost more than formatting the line (measured with callgrind).
    let style = if io::stderr().is_terminal() {
        WriteStyle::Always
    } else {
        WriteStyle::Never
    };
    let installed = env_logger::Builder::from_env(env)
        .target(env_logger::Target::Pipe(Box::new(BufferedStderr(
            buffer.clone(),
        ))))
        .write_style(style)
        .format_indent(None)
        .try_init();
    if installed.is_ok() {
        let _ = BUFFER.set(buffer.clone());
        std::thread::Builder::new()
            .name("log-flusher".into())
            .spawn(move || {
                loop {
                    std::thread::sleep(LOG_FLUSH_INTERVAL);
                    if let Ok(mut buffer) = buffer.lock() {
                        let _ = buffer.flush();
                    }
                }
            })
            .expect("cannot start the log flusher thread");
        log_panics();
    }
}

/// Writes out every line logged so far; call before exiting.
pub fn flush_logs() {
    if let Some(Ok(mut buffer)) = BUFFER.get().map(|buffer| buffer.lock()) {
        let _ = buffer.flush();
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
