//! Logging: `RUST_LOG` (default `info`) parsed by env_logger, lines in env_logger's format
//! (`[2026-11-26T08:00:00Z INFO  target] message`) written into a buffer that a background
//! thread flushes every [`LOG_FLUSH_INTERVAL`], so that a request costs a copy into memory
//! rather than a `write(2)`; panics are logged as errors.
//!
//! env_logger's own writer is not used: into a custom target it copies every line once more
//! to strip colours, and with two locks; at one access line per request that was a tenth of
//! the CPU a request costs (measured with perf). A crate does buffering for `tracing`
//! (tracing-appender's `non_blocking`, a channel to a writer thread), but it brings
//! tracing-subscriber into a `log` program, and a channel wakes a thread per line: measured
//! here, that cost more than the `write(2)` it saved.

use std::cell::RefCell;
use std::io::{self, IsTerminal, Write};
use std::sync::{Mutex, MutexGuard, OnceLock};
use std::time::{Duration, SystemTime};

use log::{Level, Log, Metadata, Record};

/// Filter used when `RUST_LOG` is not set.
pub const DEFAULT_LOG_FILTER: &str = "info";
/// How often buffered log lines are written out (and when the buffer fills, at once).
pub const LOG_FLUSH_INTERVAL: Duration = Duration::from_millis(100);
/// The log buffer's size.
pub const LOG_BUFFER_BYTES: usize = 256 * 1024;

static BUFFER: OnceLock<LogBuffer> = OnceLock::new();

/// Lines waiting to be written, and the writing side. A line is appended under `pending`'s
/// lock only; the `write(2)` happens under `output`'s, so a thread that logs never waits for
/// stderr, only for another thread's append (or, when the buffer is full, for its turn).
struct LogBuffer {
    pending: Mutex<Vec<u8>>,
    /// A second vector, swapped with `pending` to be written out while `pending` refills.
    output: Mutex<Vec<u8>>,
}

impl LogBuffer {
    fn new() -> Self {
        Self {
            pending: Mutex::new(Vec::with_capacity(LOG_BUFFER_BYTES)),
            output: Mutex::new(Vec::with_capacity(LOG_BUFFER_BYTES)),
        }
    }

    /// Appends `line`; writes the buffer out when it is full.
    fn append(&self, line: &[u8]) {
        let Ok(mut pending) = self.pending.lock() else {
            return;
        };
        pending.extend_from_slice(line);
        if pending.len() >= LOG_BUFFER_BYTES {
            self.write_out(pending);
        }
    }

    /// Writes out every line appended so far.
    fn flush(&self) {
        if let Ok(pending) = self.pending.lock()
            && !pending.is_empty()
        {
            self.write_out(pending);
        }
    }

    /// Swaps `pending`'s lines into the output vector, lets go of `pending`, then writes them.
    /// Taking `output` before letting go of `pending` keeps the lines in order.
    fn write_out(&self, mut pending: MutexGuard<'_, Vec<u8>>) {
        let Ok(mut output) = self.output.lock() else {
            return;
        };
        std::mem::swap(&mut *pending, &mut *output);
        drop(pending);
        let _ = io::stderr().lock().write_all(&output);
        output.clear();
    }
}

thread_local! {
    /// Each thread formats its lines here, outside the buffer's lock.
    static LINE: RefCell<Vec<u8>> = RefCell::new(Vec::with_capacity(256));
}

/// The logger: env_logger's filter, [`write_line`]'s format, the shared buffer.
struct BufferedLogger {
    filter: env_logger::Logger,
    buffer: &'static LogBuffer,
    colour: bool,
}

impl Log for BufferedLogger {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        self.filter.enabled(metadata)
    }

    fn log(&self, record: &Record<'_>) {
        if !self.filter.matches(record) {
            return;
        }
        let write = |line: &mut Vec<u8>| {
            line.clear();
            write_line(line, record, SystemTime::now(), self.colour);
            self.buffer.append(line);
        };
        // A line logged while formatting another (a `Display` that logs) gets its own vector.
        let reused = LINE.try_with(|line| line.try_borrow_mut().map(|mut line| write(&mut line)));
        if !matches!(reused, Ok(Ok(()))) {
            write(&mut Vec::new());
        }
    }

    fn flush(&self) {
        flush_logs();
    }
}

/// Appends `record` as one line, `[2026-11-26T08:00:00Z INFO  target] message`, to `line`;
/// with `colour`, the level is coloured as env_logger colours it.
pub fn write_line(line: &mut Vec<u8>, record: &Record<'_>, now: SystemTime, colour: bool) {
    let level = record.level();
    let (on, off) = match (colour, level) {
        (false, _) => ("", ""),
        (true, Level::Error) => ("\x1b[31m", "\x1b[0m"),
        (true, Level::Warn) => ("\x1b[33m", "\x1b[0m"),
        (true, Level::Info) => ("\x1b[32m", "\x1b[0m"),
        (true, Level::Debug) => ("\x1b[34m", "\x1b[0m"),
        (true, Level::Trace) => ("\x1b[36m", "\x1b[0m"),
    };
    let _ = writeln!(
        line,
        "[{} {on}{level:<5}{off} {}] {}",
        humantime::format_rfc3339_seconds(now),
        record.target(),
        record.args()
    );
}

/// Installs the logger (filter from `RUST_LOG`, else [`DEFAULT_LOG_FILTER`]), starts the
/// thread that flushes its buffer, and [`log_panics`]; later calls do nothing.
pub fn init_logging() {
    let buffer = BUFFER.get_or_init(LogBuffer::new);
    let env = env_logger::Env::default().default_filter_or(DEFAULT_LOG_FILTER);
    let filter = env_logger::Builder::from_env(env).build();
    let max_level = filter.filter();
    let logger = BufferedLogger {
        filter,
        buffer,
        colour: io::stderr().is_terminal(),
    };
    if log::set_boxed_logger(Box::new(logger)).is_ok() {
        log::set_max_level(max_level);
        std::thread::Builder::new()
            .name("log-flusher".into())
            .spawn(|| {
                loop {
                    std::thread::sleep(LOG_FLUSH_INTERVAL);
                    flush_logs();
                }
            })
            .expect("cannot start the log flusher thread");
        log_panics();
    }
}

/// Writes out every line logged so far; call before exiting.
pub fn flush_logs() {
    if let Some(buffer) = BUFFER.get() {
        buffer.flush();
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
    fn lines_have_env_loggers_format() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_764_144_000);
        let mut line = Vec::new();
        let args = format_args!("served {}", 7);
        let record = Record::builder()
            .level(Level::Info)
            .target("greeter::access")
            .args(args)
            .build();

        write_line(&mut line, &record, now, false);
        assert_eq!(
            String::from_utf8(line.clone()).unwrap(),
            "[2025-11-26T08:00:00Z INFO  greeter::access] served 7\n"
        );

        line.clear();
        write_line(&mut line, &record, now, true);
        assert_eq!(
            String::from_utf8(line).unwrap(),
            "[2025-11-26T08:00:00Z \x1b[32mINFO \x1b[0m greeter::access] served 7\n"
        );
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
