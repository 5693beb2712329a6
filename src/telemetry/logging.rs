//! Logging: `RUST_LOG` (default `info`) parsed by env_logger, lines in env_logger's format
//! (`[2026-11-26T08:00:00Z INFO  target] message`) or, with `--log-format json`, as one JSON
//! object each (`ts`, `level`, `target`, `msg` and the record's key-values, such as an access
//! line's `status` and `duration_ms`), appended to a bounded buffer that a thread of
//! its own writes to stderr every [`LOG_FLUSH_INTERVAL`] (sooner when the buffer is half full),
//! so that a request costs a copy into memory rather than a `write(2)`; panics are logged as
//! errors.
//!
//! A thread that logs never writes to stderr and never waits for it: when stderr is slow or
//! stalled (a pipe nobody reads), lines that do not fit in the buffer are dropped and counted,
//! and the count is reported by the next write that gets through.
//!
//! env_logger's own writer is not used: into a custom target it copies every line once more
//! to strip colours, and with two locks; at one access line per request that was a tenth of
//! the CPU a request costs (measured with perf). A crate does buffering for `tracing`
//! (tracing-appender's `non_blocking`, a channel to a writer thread), but it brings
//! tracing-subscriber into a `log` program, and a channel wakes a thread per line: measured
//! here, that cost more than the `write(2)` it saved.

use std::cell::{Cell, RefCell};
use std::io::{self, IsTerminal, Write};
use std::sync::{Condvar, Mutex, MutexGuard, OnceLock, PoisonError, mpsc};
use std::time::{Duration, SystemTime};

use log::{Level, Log, Metadata, Record};

use crate::config::LogFormat;

/// Filter used when `RUST_LOG` is not set.
pub const DEFAULT_LOG_FILTER: &str = "info";
/// How often buffered log lines are written out (sooner when the buffer is half full).
pub const LOG_FLUSH_INTERVAL: Duration = Duration::from_millis(100);
/// The log buffer's size: lines past it, while stderr does not keep up, are dropped.
const LOG_BUFFER_BYTES: usize = 256 * 1024;
/// The longest a flush before exiting waits for a stalled stderr: the process exits anyway.
pub const EXIT_FLUSH_LIMIT: Duration = Duration::from_secs(1);

static BUFFER: OnceLock<LogBuffer> = OnceLock::new();
static FORMAT: OnceLock<LogFormat> = OnceLock::new();
/// Whether text lines colour their level (stderr is a terminal); set by [`init_logging`].
static COLOUR: OnceLock<bool> = OnceLock::new();
/// Whether `RUST_LOG` filters messages too (`info/regex`); set by [`init_logging`].
static MESSAGE_FILTER: OnceLock<bool> = OnceLock::new();

/// The format lines are written in: the one [`init_logging`] was given, text before that.
fn format() -> LogFormat {
    FORMAT.get().copied().unwrap_or_default()
}

/// Lines waiting to be written, appended by every thread that logs and written out by the
/// flusher thread (or at exit).
struct LogBuffer {
    capacity: usize,
    pending: Mutex<Pending>,
    /// Wakes the flusher when the buffer is half full.
    half_full: Condvar,
    /// The lines being written; held while writing, so writes keep their order.
    output: Mutex<Vec<u8>>,
}

/// The lines appended since the last write, and how many did not fit.
struct Pending {
    lines: Vec<u8>,
    dropped: u64,
}

impl LogBuffer {
    fn new(capacity: usize) -> Self {
        Self {
            capacity,
            pending: Mutex::new(Pending {
                lines: Vec::with_capacity(capacity),
                dropped: 0,
            }),
            half_full: Condvar::new(),
            output: Mutex::new(Vec::with_capacity(capacity)),
        }
    }

    /// The lines waiting; a thread that panicked while holding them left them whole.
    fn pending(&self) -> MutexGuard<'_, Pending> {
        self.pending.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Appends `line`, or counts it as dropped when the buffer has no room for it; never
    /// writes, never waits for the writer.
    fn append(&self, line: &[u8]) {
        let mut pending = self.pending();
        let before = pending.lines.len();
        if before + line.len() > self.capacity {
            pending.dropped += 1;
            return;
        }
        pending.lines.extend_from_slice(line);
        let half = self.capacity / 2;
        if before < half && pending.lines.len() >= half {
            self.half_full.notify_one();
        }
    }

    /// Appends `line` whatever the room: for the few lines that must not be lost (a panic, the
    /// error that ends the process).
    fn append_always(&self, line: &[u8]) {
        self.pending().lines.extend_from_slice(line);
        self.half_full.notify_one();
    }

    /// Waits until the buffer is half full or `interval` has passed.
    fn wait(&self, interval: Duration) {
        let pending = self.pending();
        if pending.lines.len() < self.capacity / 2 {
            let _ = self.half_full.wait_timeout(pending, interval);
        }
    }

    /// Writes every line appended so far to `sink`, then a line counting the dropped ones.
    fn write_out(&self, sink: &mut impl Write) {
        let mut output = self.output.lock().unwrap_or_else(PoisonError::into_inner);
        let dropped = {
            let mut pending = self.pending();
            std::mem::swap(&mut pending.lines, &mut *output);
            std::mem::take(&mut pending.dropped)
        };
        if dropped > 0 {
            write_own_line(
                &mut output,
                Level::Warn,
                "greeter::log",
                format_args!("{dropped} log lines dropped: stderr did not keep up"),
            );
        }
        let _ = sink.write_all(&output);
        let _ = sink.flush();
        output.clear();
    }
}

thread_local! {
    /// Each thread formats its lines here, outside the buffer's lock.
    static LINE: Cell<Vec<u8>> = const { Cell::new(Vec::new()) };
}

/// Runs `write` on this thread's line vector, cleared. A line logged while formatting another
/// (a `Display` that logs) finds the vector taken and gets a new one.
fn with_line(write: impl FnOnce(&mut Vec<u8>)) {
    let mut line = LINE.try_with(Cell::take).unwrap_or_default();
    line.clear();
    write(&mut line);
    let _ = LINE.try_with(|kept| kept.set(line));
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
        with_line(|line| {
            write_line(line, record, SystemTime::now(), self.colour);
            self.buffer.append(line);
        });
    }

    /// Wakes the writer thread; never writes from the calling thread.
    fn flush(&self) {
        self.buffer.half_full.notify_one();
    }
}

/// Appends `record` as one line, `[2026-11-26T08:00:00Z INFO  target] message`, to `line`;
/// with `colour`, the level is coloured as env_logger colours it.
fn write_line(line: &mut Vec<u8>, record: &Record<'_>, now: SystemTime, colour: bool) {
    if format() == LogFormat::Json {
        return write_json_line(line, record, now);
    }
    write_text_prefix(line, record.level(), record.target(), now, colour);
    let _ = writeln!(line, "{}", record.args());
}

/// Appends a text line's start, `[2026-11-26T08:00:00Z INFO  target] `, the level coloured as
/// env_logger colours it when `colour`.
fn write_text_prefix(
    line: &mut Vec<u8>,
    level: Level,
    target: &str,
    now: SystemTime,
    colour: bool,
) {
    let (on, off) = match (colour, level) {
        (false, _) => ("", ""),
        (true, Level::Error) => ("\x1b[31m", "\x1b[0m"),
        (true, Level::Warn) => ("\x1b[33m", "\x1b[0m"),
        (true, Level::Info) => ("\x1b[32m", "\x1b[0m"),
        (true, Level::Debug) => ("\x1b[34m", "\x1b[0m"),
        (true, Level::Trace) => ("\x1b[36m", "\x1b[0m"),
    };
    let padded: &[u8] = match level {
        Level::Error => b"ERROR",
        Level::Warn => b"WARN ",
        Level::Info => b"INFO ",
        Level::Debug => b"DEBUG",
        Level::Trace => b"TRACE",
    };
    line.push(b'[');
    write_rfc3339_seconds(line, now);
    line.push(b' ');
    line.extend_from_slice(on.as_bytes());
    line.extend_from_slice(padded);
    line.extend_from_slice(off.as_bytes());
    line.push(b' ');
    line.extend_from_slice(target.as_bytes());
    line.extend_from_slice(b"] ");
}

/// Appends one text-format line of `target` at `level`, whose message `write_message` writes
/// as bytes, with no `core::fmt` and no `log` record: the access line, one per request, costs
/// about half as much this way (measured with perf). Returns `false`, writing nothing, when
/// lines are JSON (the caller logs through `log` then, for the fields) or before
/// [`init_logging`]; the caller checks the filter (`log::log_enabled!`).
pub fn append_text_line(
    level: Level,
    target: &str,
    write_message: impl FnOnce(&mut Vec<u8>),
) -> bool {
    let (Some(buffer), Some(&colour)) = (BUFFER.get(), COLOUR.get()) else {
        return false;
    };
    // A message filter (`RUST_LOG=info/regex`) matches the formatted message: only the `log`
    // path applies it.
    if format() != LogFormat::Text || MESSAGE_FILTER.get() == Some(&true) {
        return false;
    }
    with_line(|line| {
        write_text_prefix(line, level, target, SystemTime::now(), colour);
        write_message(line);
        line.push(b'\n');
        buffer.append(line);
    });
    true
}

thread_local! {
    /// The last second this thread wrote a timestamp for, and its RFC 3339 text: formatting a
    /// date costs more than the rest of an access line, and one second has many lines.
    static SECOND: RefCell<(u64, String)> = const { RefCell::new((u64::MAX, String::new())) };
}

/// Appends `now` as `2026-11-26T08:00:00Z`, formatted once per second per thread.
fn write_rfc3339_seconds(line: &mut Vec<u8>, now: SystemTime) {
    let second = now
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |since| since.as_secs());
    let cached = SECOND.try_with(|cache| {
        let Ok(mut cache) = cache.try_borrow_mut() else {
            return false;
        };
        if cache.0 != second {
            cache.1.clear();
            let _ = std::fmt::Write::write_fmt(
                &mut cache.1,
                format_args!("{}", humantime::format_rfc3339_seconds(now)),
            );
            cache.0 = second;
        }
        line.extend_from_slice(cache.1.as_bytes());
        true
    });
    if cached != Ok(true) {
        let _ = write!(line, "{}", humantime::format_rfc3339_seconds(now));
    }
}

/// Installs the logger (filter from `RUST_LOG`, else [`DEFAULT_LOG_FILTER`]; lines in `format`)
/// and the panic hook, and starts the thread that writes the buffer out; later calls do nothing.
pub fn init_logging(format: LogFormat) -> io::Result<()> {
    let _ = FORMAT.set(format);
    let buffer = BUFFER.get_or_init(|| LogBuffer::new(LOG_BUFFER_BYTES));
    let env = env_logger::Env::default().default_filter_or(DEFAULT_LOG_FILTER);
    // actix-server's three start-up lines repeat greeter's own "listening on" line: they show
    // only when RUST_LOG names actix_server (a directive of its own overrides this one).
    let filter = env_logger::Builder::new()
        .filter_module("actix_server", log::LevelFilter::Warn)
        .parse_env(env)
        .build();
    let max_level = filter.filter();
    let _ = MESSAGE_FILTER.set(std::env::var("RUST_LOG").is_ok_and(|value| value.contains('/')));
    let colour = *COLOUR.get_or_init(|| io::stderr().is_terminal());
    let logger = BufferedLogger {
        filter,
        buffer,
        colour,
    };
    if log::set_boxed_logger(Box::new(logger)).is_ok() {
        log::set_max_level(max_level);
        log_panics(buffer);
        std::thread::Builder::new()
            .name("log-flusher".into())
            .spawn(move || {
                loop {
                    buffer.wait(LOG_FLUSH_INTERVAL);
                    buffer.write_out(&mut io::stderr().lock());
                }
            })?;
    }
    Ok(())
}

/// Writes out every line logged so far; call before exiting. Waits at most
/// [`EXIT_FLUSH_LIMIT`]: a stalled stderr (the writer thread blocked on a full pipe) must not keep
/// the process from exiting.
pub fn flush_logs() {
    let Some(buffer) = BUFFER.get() else {
        return;
    };
    let (done, finished) = mpsc::channel();
    let writer = std::thread::Builder::new()
        .name("log-exit-flush".into())
        .spawn(move || {
            buffer.write_out(&mut io::stderr().lock());
            let _ = done.send(());
        });
    if writer.is_ok() {
        let _ = finished.recv_timeout(EXIT_FLUSH_LIMIT);
    }
}

/// Writes `message` as the one line `error: <message>` that ends the process, whatever the log
/// filter, through the log's buffer (so it never blocks on a stalled stderr): call
/// [`flush_logs`] after it.
pub fn print_error(message: &str) {
    let line = match format() {
        LogFormat::Text => format!("error: {message}\n").into_bytes(),
        LogFormat::Json => {
            let mut line = Vec::new();
            write_own_line(
                &mut line,
                Level::Error,
                "greeter",
                format_args!("{message}"),
            );
            line
        }
    };
    match BUFFER.get() {
        Some(buffer) => buffer.append_always(&line),
        None => {
            let _ = io::stderr().write_all(&line);
        }
    }
}

/// Appends a line of greeter's own (not from a `log` macro: it bypasses the filter), now and
/// without colour, in the format in force.
fn write_own_line(line: &mut Vec<u8>, level: Level, target: &str, args: std::fmt::Arguments<'_>) {
    let record = Record::builder()
        .level(level)
        .target(target)
        .args(args)
        .build();
    write_line(line, &record, SystemTime::now(), false);
}

/// Appends `record` as one JSON object and a newline to `line`: `ts` (RFC 3339, UTC, to the
/// millisecond), `level`, `target`, `msg`, then each of the record's key-values (numbers as
/// numbers, the rest as strings).
fn write_json_line(line: &mut Vec<u8>, record: &Record<'_>, now: SystemTime) {
    let _ = write!(
        line,
        "{{\"ts\":\"{}\",\"level\":\"{}\",\"target\":",
        humantime::format_rfc3339_millis(now),
        record.level()
    );
    json_string(line, record.target());
    line.extend_from_slice(b",\"msg\":");
    match record.args().as_str() {
        Some(text) => json_string(line, text),
        None => json_string(line, &record.args().to_string()),
    }
    let _ = record.key_values().visit(&mut JsonFields(line));
    line.extend_from_slice(b"}\n");
}

/// Writes `text` as a JSON string.
fn json_string(line: &mut Vec<u8>, text: &str) {
    let _ = serde_json::to_writer(&mut *line, text);
}

/// Writes a record's key-values as JSON members; one whose value is the empty string is left
/// out (an access line's `trace_id` when the request took part in no trace).
struct JsonFields<'a>(&'a mut Vec<u8>);

impl<'kvs> log::kv::VisitSource<'kvs> for JsonFields<'_> {
    fn visit_pair(
        &mut self,
        key: log::kv::Key<'kvs>,
        value: log::kv::Value<'kvs>,
    ) -> Result<(), log::kv::Error> {
        if value.to_borrowed_str() == Some("") {
            return Ok(());
        }
        let line = &mut *self.0;
        line.push(b',');
        json_string(line, key.as_str());
        line.push(b':');
        if let Some(n) = value.to_u64() {
            let _ = write!(line, "{n}");
        } else if let Some(n) = value.to_i64() {
            let _ = write!(line, "{n}");
        } else if let Some(n) = value.to_f64().filter(|n| n.is_finite()) {
            let _ = serde_json::to_writer(&mut *line, &n);
        } else if let Some(b) = value.to_bool() {
            let _ = write!(line, "{b}");
        } else if let Some(text) = value.to_borrowed_str() {
            json_string(line, text);
        } else {
            json_string(line, &value.to_string());
        }
        Ok(())
    }
}

/// Replaces the panic hook with one that writes the panic's message and place as one error
/// line into the log's buffer, whatever the log filter and the room left, so a handler's panic
/// shows in the log like any other failure and a panic that ends the process is not lost (it
/// is written out by [`flush_logs`] on the way out).
fn log_panics(buffer: &'static LogBuffer) {
    std::panic::set_hook(Box::new(move |info| {
        let payload = info.payload();
        let message = payload
            .downcast_ref::<&str>()
            .copied()
            .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
            .unwrap_or("(no message)");
        let place = info
            .location()
            .map_or_else(|| "an unknown place".to_owned(), ToString::to_string);
        let mut line = Vec::new();
        write_own_line(
            &mut line,
            Level::Error,
            "greeter::panic",
            format_args!("panic at {place}: {}", message.replace('\n', " ")),
        );
        buffer.append_always(&line);
    }));
}

#[cfg(test)]
mod timestamp_tests {
    use super::*;

    #[test]
    fn the_cached_timestamp_is_the_seconds_own() {
        for seconds in [
            0,
            1_764_140_400,
            1_764_140_401,
            1_764_140_401,
            1_764_140_460,
        ] {
            let now = SystemTime::UNIX_EPOCH + Duration::from_secs(seconds);
            let mut line = Vec::new();
            write_rfc3339_seconds(&mut line, now);
            let expected = humantime::format_rfc3339_seconds(now).to_string();
            assert_eq!(String::from_utf8(line).unwrap(), expected);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_past_the_buffer_are_dropped_counted_and_reported() {
        let buffer = LogBuffer::new(10);
        buffer.append(b"abcd\n");
        buffer.append(b"efgh\n");
        buffer.append(b"ijkl\n");
        buffer.append(b"mnop\n");
        let mut sink = Vec::new();
        buffer.write_out(&mut sink);
        let written = String::from_utf8(sink).unwrap();
        let (kept, report) = written.split_at(10);
        assert_eq!(kept, "abcd\nefgh\n");
        assert!(
            report.ends_with(" WARN  greeter::log] 2 log lines dropped: stderr did not keep up\n"),
            "{report}"
        );

        let mut sink = Vec::new();
        buffer.append(b"qrst\n");
        buffer.write_out(&mut sink);
        assert_eq!(sink, b"qrst\n", "room again, and the count starts over");
    }

    #[test]
    fn json_lines_escape_their_text_and_keep_numbers_as_numbers() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_764_144_000);
        let mut line = Vec::new();
        let kvs: &[(&str, log::kv::Value<'_>)] = &[
            ("status", log::kv::Value::from(404u16)),
            ("duration_ms", log::kv::Value::from(1.5f64)),
            ("path", log::kv::Value::from("/a\"b")),
        ];
        let args = format_args!("quote \" newline \n tab \t");
        let record = Record::builder()
            .level(Level::Warn)
            .target("t")
            .args(args)
            .key_values(&kvs)
            .build();
        write_json_line(&mut line, &record, now);
        let text = String::from_utf8(line).unwrap();
        assert!(
            text.ends_with('\n') && text.matches('\n').count() == 1,
            "{text}"
        );
        let object: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(
            object,
            serde_json::json!({"ts": "2025-11-26T08:00:00.000Z", "level": "WARN", "target": "t",
                "msg": "quote \" newline \n tab \t", "status": 404, "duration_ms": 1.5,
                "path": "/a\"b"})
        );
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
    fn a_panic_is_written_with_its_message_and_place_even_past_the_room_left() {
        let buffer: &'static LogBuffer = Box::leak(Box::new(LogBuffer::new(4)));
        buffer.append(b"full");
        log_panics(buffer);

        let _ = std::panic::catch_unwind(|| panic!("the disco"));

        let _ = std::panic::take_hook();
        let mut sink = Vec::new();
        buffer.write_out(&mut sink);
        let written = String::from_utf8(sink).unwrap();
        let line = written
            .lines()
            .find(|l| l.contains("the disco"))
            .expect("no panic line");
        assert!(
            line.contains(" ERROR greeter::panic] panic at src/telemetry/logging.rs:"),
            "{line}"
        );
        assert!(line.ends_with(": the disco"), "{line}");
    }

    #[test]
    fn a_poisoned_buffer_keeps_logging() {
        let buffer = std::sync::Arc::new(LogBuffer::new(64));
        let holder = buffer.clone();
        let _ = std::thread::spawn(move || {
            let _pending = holder.pending();
            panic!("poisons the lock");
        })
        .join();

        buffer.append(b"still here\n");
        let mut sink = Vec::new();
        buffer.write_out(&mut sink);
        assert_eq!(sink, b"still here\n");
    }
}
