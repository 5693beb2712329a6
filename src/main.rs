//! The `greeter` command: parses the command line and hands over to the library.

use std::io::Write;
use std::net::SocketAddr;
use std::process::ExitCode;

use clap::Parser;
use greeter::api_doc::{self, SpecVersion};
use greeter::settings::{Cli, Command, ServeSettings};
use greeter::{shutdown, startup, telemetry};

fn main() -> ExitCode {
    match parse_command_line().into_command() {
        Command::Openapi { spec_version } => print_openapi(spec_version),
        Command::Serve(settings) => serve(settings),
    }
}

/// Parses the command line; a bad value ends the process with a one-line error and exit code 2.
fn parse_command_line() -> Cli {
    Cli::try_parse().unwrap_or_else(|err| {
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
    })
}

fn print_openapi(spec_version: SpecVersion) -> ExitCode {
    let json = match spec_version.render(&api_doc::openapi()) {
        Ok(json) => json,
        Err(err) => {
            eprintln!("error: {err}");
            return ExitCode::FAILURE;
        }
    };
    match std::io::stdout().lock().write_all(json.as_bytes()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: cannot write the OpenAPI document: {err}");
            ExitCode::FAILURE
        }
    }
}

fn serve(settings: ServeSettings) -> ExitCode {
    telemetry::init_logging();
    let result = actix_rt::System::new().block_on(async {
        let address = SocketAddr::new(settings.host, settings.port);
        let listener = startup::listen(address, settings.backlog).map_err(|err| {
            std::io::Error::new(err.kind(), format!("cannot listen on {address}: {err}"))
        })?;
        let server = startup::run(listener, &settings)?;
        actix_rt::spawn(shutdown::stop_on_signal(server.handle()));
        server.await
    });
    let code = match result {
        Ok(()) => {
            log::info!("stopped");
            ExitCode::SUCCESS
        }
        Err(err) => {
            log::error!("{err}");
            telemetry::flush_logs();
            eprintln!("error: {err}");
            ExitCode::FAILURE
        }
    };
    telemetry::flush_logs();
    code
}
