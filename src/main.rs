//! The `greeter` command: parses the command line and hands over to the library.

use std::io::Write;
use std::net::SocketAddr;
use std::panic::AssertUnwindSafe;
use std::process::ExitCode;

use greeter::api::openapi::SpecVersion;
use greeter::config::cli::{Resolved, place_error};
use greeter::config::{Cli, Command, LoadError, ServeSettings};
use greeter::lifecycle::serving::ServingState;
use greeter::lifecycle::{healthcheck, memory, open_files, signals};
use greeter::startup;
use greeter::telemetry::logging;

/// The memory allocator: jemalloc, not glibc's malloc. An idle keep-alive connection costs about
/// 2.5 KiB instead of 10 KiB (jemalloc leaves the untouched pages of actix-http's 8 KiB buffers
/// alone), and a request less CPU (docs/benchmarks.md).
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// jemalloc's options (the `_RJEM_MALLOC_CONF` environment variable overrides them): one arena
/// for all threads, which keeps idle memory about 1 MiB lower than one arena per worker.
#[unsafe(export_name = "_rjem_malloc_conf")]
static MALLOC_CONF: &[u8; 10] = b"narenas:1\0";

fn main() -> ExitCode {
    // First, before anything reads the environment: it removes LISTEN_FDS and LISTEN_PID, so
    // that no child process takes the socket for its own.
    let inherited = inherited_sockets();
    let cli = parse_command_line();
    let origins = cli.origins.clone();
    match cli.into_command() {
        Command::Openapi { spec_version } => match spec_version.parse() {
            Ok(spec_version) => print_openapi(spec_version),
            Err(why) => {
                eprintln!("error: {why}");
                ExitCode::from(2)
            }
        },
        Command::Healthcheck {
            url, port, timeout, ..
        } => {
            let url = url.unwrap_or_else(|| healthcheck::default_url(port));
            match healthcheck::check(&url, timeout.into()) {
                Ok(status) => {
                    println!("healthy: {status}");
                    ExitCode::SUCCESS
                }
                Err(why) => {
                    eprintln!("unhealthy: {why}");
                    ExitCode::FAILURE
                }
            }
        }
        Command::CheckConfig(settings) => {
            match settings
                .check()
                .and_then(|()| startup::AppState::new(&settings).map_err(|e| e.to_string()))
            {
                Ok(_) => {
                    print!("{}", greeter::config::report::render(&settings, &origins));
                    ExitCode::SUCCESS
                }
                Err(message) => {
                    let placed = place_error(&message, &origins, settings.config.as_deref());
                    eprintln!("error: {placed}");
                    ExitCode::from(2)
                }
            }
        }
        Command::Serve(settings) => match settings.check() {
            Ok(()) => match inherited {
                Ok(mut inherited) => serve(settings, &origins, &mut inherited),
                Err(message) => {
                    eprintln!("error: {message}");
                    ExitCode::from(2)
                }
            },
            Err(message) => {
                let placed = place_error(&message, &origins, settings.config.as_deref());
                eprintln!("error: {placed} (see greeter --help)");
                ExitCode::from(2)
            }
        },
    }
}

/// Parses the command line, and the configuration file it names; a bad value ends the process
/// with a one-line error and exit code 2.
fn parse_command_line() -> Cli {
    Cli::load(std::env::args_os()).unwrap_or_else(|error| match error {
        LoadError::Cli(err) => {
            if !err.use_stderr() {
                err.exit(); // --help and --version
            }
            let rendered = err.to_string();
            let first_line = rendered
                .lines()
                .next()
                .unwrap_or("error: invalid arguments");
            eprintln!("{first_line} (see greeter --help)");
            std::process::exit(2);
        }
        LoadError::File(message) => {
            eprintln!(
                "error: {}",
                greeter::config::config_file::one_line(&message)
            );
            std::process::exit(2);
        }
    })
}

/// The sockets systemd (or any socket activator) passed: `LISTEN_FDS` of them from fd 3, when
/// `LISTEN_PID` is this process. greeter serves one; more is an error (they would be left
/// unserved, their connections hanging), checked before listenfd reads them (it would allocate
/// for any count, however large).
fn inherited_sockets() -> Result<listenfd::ListenFd, String> {
    let for_us = std::env::var("LISTEN_PID")
        .ok()
        .and_then(|pid| pid.parse::<u32>().ok())
        == Some(std::process::id());
    let count = std::env::var("LISTEN_FDS")
        .ok()
        .and_then(|count| count.parse::<u64>().ok());
    match count {
        Some(count) if for_us && count > 1 => Err(format!(
            "{count} sockets were passed (LISTEN_FDS); greeter serves one: give the socket unit \
             one ListenStream"
        )),
        _ => Ok(listenfd::ListenFd::from_env()),
    }
}

/// The listening socket: the one systemd (or any socket activator) passed as `LISTEN_FDS`, or
/// a new one on `--host` and `--port`.
fn listener(
    settings: &ServeSettings,
    inherited: &mut listenfd::ListenFd,
) -> std::io::Result<std::net::TcpListener> {
    let cannot = |what: String| {
        move |err: std::io::Error| std::io::Error::new(err.kind(), format!("{what}: {err}"))
    };
    if inherited.len() > 0 {
        let listener = inherited
            .take_tcp_listener(0)
            .map_err(cannot(
                "cannot use the inherited socket (LISTEN_FDS)".to_owned(),
            ))?
            .ok_or_else(|| {
                std::io::Error::other("the inherited socket (LISTEN_FDS) is not a TCP listener")
            })?;
        // A bound socket that never listened, or a connected one (`Accept=yes`), is no listener.
        if !socket2::SockRef::from(&listener).is_listener()? {
            return Err(std::io::Error::other(
                "the inherited socket (LISTEN_FDS) is not listening: pass a listening socket \
                 (Accept=no)",
            ));
        }
        listener.set_nonblocking(true)?;
        log::info!(
            "serving on the inherited socket (LISTEN_FDS): --host, --port and --backlog are \
             the socket unit's"
        );
        return Ok(listener);
    }
    let address = SocketAddr::new(settings.host, settings.port);
    startup::listen(address, settings.backlog)
        .map_err(cannot(format!("cannot listen on {address}")))
}

fn print_openapi(spec_version: SpecVersion) -> ExitCode {
    let json = match spec_version.render(&greeter::api::document()) {
        Ok(json) => json,
        Err(err) => {
            eprintln!("error: {err}");
            return ExitCode::FAILURE;
        }
    };
    match std::io::stdout().lock().write_all(json.as_bytes()) {
        Ok(()) => ExitCode::SUCCESS,
        // The reader has what it wanted (`greeter openapi | head`): not an error.
        Err(err) if err.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: cannot write the OpenAPI document: {err}");
            ExitCode::FAILURE
        }
    }
}

fn serve(
    settings: ServeSettings,
    origins: &[Resolved],
    inherited: &mut listenfd::ListenFd,
) -> ExitCode {
    if let Err(err) = logging::init_logging(settings.log_format) {
        eprintln!("error: cannot start logging: {err}");
        return ExitCode::FAILURE;
    }
    // A panic is logged by the hook; caught here, it is also written out before exiting.
    let result = std::panic::catch_unwind(AssertUnwindSafe(|| {
        serve_until_stopped(&settings, inherited)
    }));
    let code = match result {
        Ok(Ok(())) => {
            log::info!("stopped");
            ExitCode::SUCCESS
        }
        Ok(Err(err)) => {
            logging::print_error(&place_error(
                &err.to_string(),
                origins,
                settings.config.as_deref(),
            ));
            ExitCode::FAILURE
        }
        Err(_) => {
            logging::print_error("greeter panicked (see the line above)");
            ExitCode::from(101)
        }
    };
    logging::flush_logs();
    code
}

/// Serves until a signal has stopped the server.
fn serve_until_stopped(
    settings: &ServeSettings,
    inherited: &mut listenfd::ListenFd,
) -> std::io::Result<()> {
    let mut settings = settings.clone();
    if let Err(err) = open_files::raise_limit(&mut settings) {
        log::warn!("cannot raise the limit on open files: {err}");
    }
    let settings = &settings;
    actix_rt::System::new().block_on(async {
        let signals = signals::Signals::install()?;
        let listener = listener(settings, inherited)?;
        let serving = ServingState::new();
        let server = startup::run(listener, settings, serving.clone())?;
        actix_rt::spawn(memory::release_after_start_up());
        actix_rt::spawn(signals::stop_on_signal(
            signals,
            server.handle(),
            serving,
            settings.drain_delay.into(),
        ));
        server.await
    })
}
