//! Every setting of the service in one place: the command line, its environment fallbacks and
//! their defaults. `greeter --help` documents all of them.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr};
use std::num::NonZeroUsize;
use std::str::FromStr;
use std::time::Duration;

use bytesize::ByteSize;
use clap::{Args, Parser, Subcommand};

use crate::api_doc::SpecVersion;

/// Address the server listens on unless told otherwise (uvicorn's default).
pub const DEFAULT_HOST: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);
/// Port the server listens on unless told otherwise (uvicorn's default).
pub const DEFAULT_PORT: u16 = 8000;
/// Connections the kernel may queue before the server accepts them; the kernel caps it at
/// `net.core.somaxconn` (4096 on current Linux). Too small a queue makes a burst of clients
/// wait for SYN retransmits (a second or more) before they are even accepted.
pub const DEFAULT_BACKLOG: u32 = 4096;
/// The largest request body accepted; larger ones get `413`.
pub const DEFAULT_MAX_BODY: ByteSize = ByteSize::kib(64);
/// Where Swagger UI is served (FastAPI's URL); the page itself is at `/docs/`.
pub const DEFAULT_DOCS_PATH: &str = "/docs";
/// Where the OpenAPI 3.1 document is served (FastAPI's URL); the 3.0 edition sits beside it.
pub const DEFAULT_OPENAPI_PATH: &str = "/openapi.json";
/// The simulated I/O wait of the greeting, as the original's `await asyncio.sleep(1)`.
pub const DEFAULT_IO_DELAY: Duration = Duration::from_secs(1);

/// The command line: `greeter [serve] [OPTIONS]` or `greeter openapi`.
#[derive(Debug, Parser)]
#[command(
    name = "greeter",
    version,
    about = "FastAPI's first example rebuilt in Rust: GET / answers {\"Hello\":\"World\"} after a \
             simulated, non-blocking I/O wait; Swagger UI at /docs, the spec at /openapi.json.",
    args_conflicts_with_subcommands = true,
    after_help = "Logging: RUST_LOG sets the log filter (default: info), e.g. RUST_LOG=warn."
)]
pub struct Cli {
    /// What to do; serving is the default.
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Server settings when no subcommand is given.
    #[command(flatten)]
    pub serve: ServeSettings,
}

impl Cli {
    /// The command to run, `serve` with the top-level settings when none was named.
    pub fn into_command(self) -> Command {
        self.command.unwrap_or(Command::Serve(self.serve))
    }
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the API (the default).
    Serve(ServeSettings),
    /// Print the OpenAPI document to stdout and exit, without binding a port.
    Openapi {
        /// Which edition: 3.1 as generated, or 3.0.3 for generators that read only 3.0.
        #[arg(long, value_enum, default_value = "3.1")]
        spec_version: SpecVersion,
    },
}

/// Settings of a running server.
#[derive(Debug, Clone, Args)]
pub struct ServeSettings {
    /// IP address to listen on.
    #[arg(long, env = "GREETER_HOST", default_value_t = DEFAULT_HOST)]
    pub host: IpAddr,

    /// TCP port to listen on (0 picks a free one).
    #[arg(long, env = "GREETER_PORT", default_value_t = DEFAULT_PORT, allow_negative_numbers = true)]
    pub port: u16,

    /// Worker threads, each running its own event loop (default: the number of CPUs).
    #[arg(long, env = "GREETER_WORKERS", default_value_t = default_workers(),
          allow_negative_numbers = true)]
    pub workers: NonZeroUsize,

    /// Accept queue length: connections the kernel holds until the server accepts them.
    #[arg(long, env = "GREETER_BACKLOG", default_value_t = DEFAULT_BACKLOG,
          value_parser = clap::value_parser!(u32).range(1..=65535), allow_negative_numbers = true)]
    pub backlog: u32,

    /// Largest request body accepted, e.g. 64KiB, 1MiB or 512 (bytes); larger ones get 413.
    #[arg(long, env = "GREETER_MAX_BODY", value_name = "SIZE", default_value_t = DEFAULT_MAX_BODY,
          value_parser = parse_body_size)]
    pub max_body: ByteSize,

    /// Simulated I/O wait of the greeting, a human duration such as 1s, 250ms or 0s.
    #[arg(long, env = "GREETER_IO_DELAY", value_name = "DURATION",
          default_value_t = DEFAULT_IO_DELAY.into(), allow_hyphen_values = true)]
    pub io_delay: humantime::Duration,

    /// Path of Swagger UI, or `off` to remove it (the spec stays).
    #[arg(long, env = "GREETER_DOCS_PATH", value_name = "PATH|off",
          default_value = DEFAULT_DOCS_PATH)]
    pub docs_path: Mount,

    /// Path of the OpenAPI 3.1 document (the 3.0 edition is served beside it, `-3.0` before
    /// `.json`), or `off` to remove both documents and Swagger UI.
    #[arg(long, env = "GREETER_OPENAPI_PATH", value_name = "PATH|off",
          default_value = DEFAULT_OPENAPI_PATH)]
    pub openapi_path: Mount,

    /// Path prefix under which a reverse proxy serves the API (e.g. /api/v1), stripped by the
    /// proxy before requests arrive: the spec's `servers` names it, so Swagger UI and clients
    /// call through it.
    #[arg(long, env = "GREETER_ROOT_PATH", value_name = "PATH")]
    pub root_path: Option<UrlPath>,
}

impl Default for ServeSettings {
    fn default() -> Self {
        Self {
            host: DEFAULT_HOST,
            port: DEFAULT_PORT,
            workers: default_workers(),
            backlog: DEFAULT_BACKLOG,
            max_body: DEFAULT_MAX_BODY,
            io_delay: DEFAULT_IO_DELAY.into(),
            docs_path: Mount::At(UrlPath(DEFAULT_DOCS_PATH.to_owned())),
            openapi_path: Mount::At(UrlPath(DEFAULT_OPENAPI_PATH.to_owned())),
            root_path: None,
        }
    }
}

impl ServeSettings {
    /// The body limit in bytes.
    pub fn max_body_bytes(&self) -> usize {
        usize::try_from(self.max_body.as_u64()).unwrap_or(usize::MAX)
    }
}

/// A body size of at least one byte, in bytesize's notation (`64KiB`, `1MB`, `512`).
fn parse_body_size(input: &str) -> Result<ByteSize, String> {
    let size: ByteSize = input.parse()?;
    if size.as_u64() == 0 {
        return Err("the limit must be at least 1 byte".to_owned());
    }
    Ok(size)
}

/// An absolute URL path such as `/docs` or `/api/v1`: no trailing slash, no empty, `.` or `..`
/// segment, and only characters that need no percent-encoding (nor `{}`, which routes reserve).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct UrlPath(String);

impl UrlPath {
    /// The path as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for UrlPath {
    type Err = String;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        let Some(rest) = input.strip_prefix('/') else {
            return Err("a path starts with /".to_owned());
        };
        for segment in rest.split('/') {
            if segment.is_empty() || segment == "." || segment == ".." {
                return Err(format!(
                    "{input:?} has an empty, `.` or `..` segment (or ends with /)"
                ));
            }
            let allowed = |c: char| c.is_ascii_alphanumeric() || "-._~!$&'()*+,;=:@".contains(c);
            if let Some(bad) = segment.chars().find(|&c| !allowed(c)) {
                return Err(format!(
                    "{input:?} has the character {bad:?}, which a path cannot hold as it is"
                ));
            }
        }
        Ok(Self(input.to_owned()))
    }
}

impl fmt::Display for UrlPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Where an optional endpoint is served: at a path, or `off`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mount {
    /// Served at this path.
    At(UrlPath),
    /// Not served; its URLs answer 404.
    Off,
}

impl Mount {
    /// The path, unless off.
    pub fn path(&self) -> Option<&UrlPath> {
        match self {
            Self::At(path) => Some(path),
            Self::Off => None,
        }
    }
}

impl FromStr for Mount {
    type Err = String;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        if input == "off" {
            Ok(Self::Off)
        } else {
            input.parse().map(Self::At)
        }
    }
}

impl fmt::Display for Mount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::At(path) => path.fmt(f),
            Self::Off => f.write_str("off"),
        }
    }
}

/// One worker per CPU the process may use.
pub fn default_workers() -> NonZeroUsize {
    std::thread::available_parallelism().unwrap_or(NonZeroUsize::MIN)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    fn parse(args: &[&str]) -> Result<Command, clap::Error> {
        Cli::try_parse_from(std::iter::once("greeter").chain(args.iter().copied()))
            .map(Cli::into_command)
    }

    #[test]
    fn the_command_line_is_well_formed() {
        Cli::command().debug_assert();
    }

    #[test]
    fn no_subcommand_means_serve_with_top_level_flags() {
        let Command::Serve(s) = parse(&["--port", "9001", "--io-delay", "250ms"]).unwrap() else {
            panic!("expected serve");
        };
        assert_eq!(s.port, 9001);
        assert_eq!(Duration::from(s.io_delay), Duration::from_millis(250));
    }

    #[test]
    fn serve_subcommand_takes_the_same_flags() {
        let Command::Serve(s) = parse(&["serve", "--workers", "3", "--host", "::1"]).unwrap()
        else {
            panic!("expected serve");
        };
        assert_eq!(s.workers.get(), 3);
        assert_eq!(s.host, "::1".parse::<IpAddr>().unwrap());
    }

    #[test]
    fn backlog_accepts_its_whole_range() {
        for backlog in ["1", "65535"] {
            let Command::Serve(s) = parse(&["--backlog", backlog]).unwrap() else {
                panic!("expected serve");
            };
            assert_eq!(s.backlog.to_string(), backlog);
        }
    }

    #[test]
    fn max_body_reads_human_sizes() {
        for (input, bytes) in [
            ("64KiB", 65536),
            ("1 MiB", 1 << 20),
            ("512", 512),
            ("2kb", 2000),
        ] {
            let Command::Serve(s) = parse(&["--max-body", input]).unwrap() else {
                panic!("expected serve");
            };
            assert_eq!(s.max_body_bytes(), bytes, "{input}");
        }
    }

    #[test]
    fn docs_and_spec_paths_take_a_path_or_off() {
        let Command::Serve(s) = parse(&[]).unwrap() else {
            panic!("expected serve")
        };
        assert_eq!(s.docs_path.to_string(), "/docs");
        assert_eq!(s.openapi_path.to_string(), "/openapi.json");
        assert_eq!(s.root_path, None);

        let args = [
            "--docs-path",
            "off",
            "--openapi-path",
            "/api/spec.json",
            "--root-path",
            "/api/v1",
        ];
        let Command::Serve(s) = parse(&args).unwrap() else {
            panic!("expected serve")
        };
        assert_eq!(s.docs_path, Mount::Off);
        assert_eq!(s.openapi_path.path().unwrap().as_str(), "/api/spec.json");
        assert_eq!(s.root_path.unwrap().as_str(), "/api/v1");
    }

    #[test]
    fn openapi_subcommand_parses() {
        assert!(matches!(
            parse(&["openapi"]).unwrap(),
            Command::Openapi {
                spec_version: SpecVersion::V3_1
            }
        ));
        assert!(matches!(
            parse(&["openapi", "--spec-version", "3.0"]).unwrap(),
            Command::Openapi {
                spec_version: SpecVersion::V3_0
            }
        ));
        assert!(parse(&["openapi", "--spec-version", "2.0"]).is_err());
    }

    #[test]
    fn bad_values_are_rejected_by_name() {
        for (args, flag) in [
            (&["--port", "70000"][..], "--port"),
            (&["--workers", "0"][..], "--workers"),
            (&["--io-delay", "soon"][..], "--io-delay"),
            (&["--host", "not-an-ip"][..], "--host"),
            (&["--backlog", "0"][..], "--backlog"),
            (&["--backlog", "65536"][..], "--backlog"),
            (&["--max-body", "0"][..], "--max-body"),
            (&["--max-body", "lots"][..], "--max-body"),
            (&["--docs-path", "docs"][..], "--docs-path"),
            (&["--docs-path", "/docs/"][..], "--docs-path"),
            (&["--docs-path", "/"][..], "--docs-path"),
            (&["--openapi-path", "/a//b"][..], "--openapi-path"),
            (&["--openapi-path", "/a/../b"][..], "--openapi-path"),
            (&["--root-path", "/api/{v}"][..], "--root-path"),
            (&["--root-path", "/api v1"][..], "--root-path"),
        ] {
            let err = parse(args).unwrap_err();
            assert_eq!(
                err.kind(),
                clap::error::ErrorKind::ValueValidation,
                "{args:?}"
            );
            assert!(err.to_string().contains(flag), "{args:?}: {err}");
        }
    }
}
