//! Every setting of the service in one place: the command line, its environment fallbacks and
//! their defaults. `greeter --help` documents all of them.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr};
use std::num::NonZeroUsize;
use std::str::FromStr;
use std::time::Duration;

use bytesize::ByteSize;
use clap::{Args, Parser, Subcommand};

use crate::process::api_keys::{API_KEYS_ENV, Secret};

pub mod bounds;

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
/// The largest request line plus headers accepted; larger heads get `431`. actix-http itself
/// refuses heads over 128 KiB (or with over 96 headers) before greeter sees them.
pub const DEFAULT_MAX_HEADER_SIZE: ByteSize = ByteSize::kib(8);
/// The longest request target (path and query) accepted; longer ones get `414`.
pub const DEFAULT_MAX_URI_LENGTH: ByteSize = ByteSize::kib(4);
/// How long a client may take to send a request's head; then `408` and the connection closes.
pub const DEFAULT_HEAD_TIMEOUT: Duration = Duration::from_secs(5);
/// How long an idle keep-alive connection stays open.
pub const DEFAULT_KEEP_ALIVE: Duration = Duration::from_secs(5);
/// Open connections each worker serves at once; past it, it stops accepting until one closes.
/// Unless `--max-connections` is given, fewer when the open-files limit cannot hold them all.
pub const DEFAULT_MAX_CONNECTIONS: usize = 25_000;
/// How long a graceful shutdown waits for in-flight requests before dropping them.
pub const DEFAULT_SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a shutdown keeps serving with `/readyz` at 503 before it stops accepting: none, as
/// uvicorn; behind a load balancer, set it past the balancer's probe period (docs/operations.md).
pub const DEFAULT_DRAIN_DELAY: Duration = Duration::ZERO;
/// Where Swagger UI is served (FastAPI's URL); the page itself is at `/docs/`.
pub const DEFAULT_DOCS_PATH: &str = "/docs";
/// Where ReDoc is served (FastAPI's URL).
pub const DEFAULT_REDOC_PATH: &str = "/redoc";
/// The proxies trusted by default: only this machine (uvicorn's default).
pub const DEFAULT_FORWARDED_ALLOW_IPS: &str = "127.0.0.1,::1";
/// Where the Prometheus metrics are served.
pub const DEFAULT_METRICS_PATH: &str = "/metrics";
/// Where the OpenAPI 3.1 document is served (FastAPI's URL); the 3.0 edition sits beside it.
pub const DEFAULT_OPENAPI_PATH: &str = "/openapi.json";
/// The most one upstream call of `GET /aggregate` may take once sent (and, apart, the most it may
/// wait for a free connection).
pub const DEFAULT_UPSTREAM_TIMEOUT: Duration = Duration::from_secs(2);
/// The largest upstream answer body read; past it the call fails as `too_large`.
pub const DEFAULT_UPSTREAM_MAX_BODY: ByteSize = ByteSize::mib(1);
/// Connections each worker keeps to each upstream at most. A worker carrying its half of 1,000
/// concurrent aggregates calls each upstream about 500 times at once: 512 serves that without
/// queueing, and bounds what one upstream takes of the open-files budget (workers × upstreams ×
/// this).
pub const DEFAULT_UPSTREAM_MAX_CONNECTIONS: usize = 512;
/// The most upstreams `GET /aggregate` calls (the document bounds its `sources` by it).
pub const MAX_UPSTREAMS: usize = 64;
/// The simulated I/O wait of the greeting, as the original's `await asyncio.sleep(1)`.
pub const DEFAULT_IO_DELAY: Duration = Duration::from_secs(1);

/// The editions of the OpenAPI document greeter publishes (rendered by `crate::api::openapi`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SpecVersion {
    /// OpenAPI 3.1, as utoipa generates it.
    #[value(name = "3.1")]
    V3_1,
    /// OpenAPI 3.0.3, converted from the 3.1 document.
    #[value(name = "3.0")]
    V3_0,
}

/// The command line: `greeter [serve] [OPTIONS]` or `greeter openapi`.
#[derive(Debug, Parser)]
#[command(
    name = "greeter",
    version,
    about = "FastAPI's first example rebuilt in Rust: GET / answers {\"Hello\":\"World\"} after a \
             simulated, non-blocking I/O wait; Swagger UI at /docs, ReDoc at /redoc, the spec at \
             /openapi.json.",
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
// Made once per process, so the size of its largest variant does not matter.
#[allow(clippy::large_enum_variant)]
pub enum Command {
    /// Serve the API (the default).
    Serve(ServeSettings),
    /// Print the OpenAPI document to stdout and exit, without binding a port.
    Openapi {
        /// Which edition: 3.1 as generated, or 3.0.3 for generators that read only 3.0.
        #[arg(long, value_enum, default_value = "3.1")]
        spec_version: SpecVersion,
    },
    /// Ask a running greeter whether it is up, for a container's HEALTHCHECK: exit 0 when
    /// `GET /healthz` answers 200, 1 otherwise (one line says why).
    Healthcheck {
        /// The URL to ask (http:// only); by default `/healthz` on 127.0.0.1 at --port.
        #[arg(long, value_name = "URL")]
        url: Option<String>,
        /// The port of the default URL: the server's own setting.
        #[arg(long, env = "GREETER_PORT", default_value_t = DEFAULT_PORT, value_parser = parse_port)]
        port: u16,
        /// The longest the whole check may take, 1ms to 1h.
        #[arg(long, value_name = "DURATION", default_value = "2s",
              value_parser = |s: &str| bounds::of("--timeout").duration(s))]
        timeout: humantime::Duration,
    },
}

/// Settings of a running server.
#[derive(Debug, Clone, Args)]
pub struct ServeSettings {
    /// IP address to listen on.
    #[arg(long, env = "GREETER_HOST", default_value_t = DEFAULT_HOST)]
    pub host: IpAddr,

    /// TCP port to listen on, 0 to 65535 (0 picks a free one).
    #[arg(long, env = "GREETER_PORT", default_value_t = DEFAULT_PORT, value_parser = parse_port,
          allow_negative_numbers = true)]
    pub port: u16,

    /// Worker threads, each running its own event loop, 1 to 512 (default: the number of
    /// CPUs, at most 512).
    #[arg(long, env = "GREETER_WORKERS", default_value_t = default_workers(),
          value_parser = parse_workers, allow_negative_numbers = true)]
    pub workers: NonZeroUsize,

    /// Accept queue length, 1 to 65535: connections the kernel holds until the server accepts
    /// them.
    #[arg(long, env = "GREETER_BACKLOG", default_value_t = DEFAULT_BACKLOG,
          value_parser = |s: &str| bounds::of("--backlog").count(s).map(|n| n as u32),
          allow_negative_numbers = true)]
    pub backlog: u32,

    /// Largest request body accepted, 1 to 1GiB, e.g. 64KiB, 1MiB or 512 (bytes); larger ones
    /// get 413.
    #[arg(long, env = "GREETER_MAX_BODY", value_name = "SIZE", default_value_t = DEFAULT_MAX_BODY,
          value_parser = |s: &str| bounds::of("--max-body").size(s))]
    pub max_body: ByteSize,

    /// Largest request head (request line and headers), 1KiB to 96KiB; larger ones get 431.
    #[arg(long, env = "GREETER_MAX_HEADER_SIZE", value_name = "SIZE",
          default_value_t = DEFAULT_MAX_HEADER_SIZE,
          value_parser = |s: &str| bounds::of("--max-header-size").size(s))]
    pub max_header_size: ByteSize,

    /// Longest request target (path and query), 256 to 32KiB; longer ones get 414.
    #[arg(long, env = "GREETER_MAX_URI_LENGTH", value_name = "SIZE",
          default_value_t = DEFAULT_MAX_URI_LENGTH,
          value_parser = |s: &str| bounds::of("--max-uri-length").size(s))]
    pub max_uri_length: ByteSize,

    /// Time a client has to send a request's head, 1ms to 1h, before it gets 408 and is
    /// disconnected.
    #[arg(long, env = "GREETER_HEAD_TIMEOUT", value_name = "DURATION",
          default_value_t = DEFAULT_HEAD_TIMEOUT.into(),
          value_parser = |s: &str| bounds::of("--head-timeout").duration(s),
          allow_hyphen_values = true)]
    pub head_timeout: humantime::Duration,

    /// Time an idle keep-alive connection stays open, 0s to 1h; 0s turns keep-alive off.
    #[arg(long, env = "GREETER_KEEP_ALIVE", value_name = "DURATION",
          default_value_t = DEFAULT_KEEP_ALIVE.into(),
          value_parser = |s: &str| bounds::of("--keep-alive").duration(s),
          allow_hyphen_values = true)]
    pub keep_alive: humantime::Duration,

    /// Open connections per worker, 1 to 1000000; past it the worker stops accepting until one
    /// closes [default: 25000, or as many as the open-files limit allows]
    #[arg(long, env = "GREETER_MAX_CONNECTIONS", allow_negative_numbers = true,
          value_parser = |s: &str| bounds::of("--max-connections").count(s).map(non_zero))]
    pub max_connections: Option<NonZeroUsize>,

    /// Time a graceful shutdown lets in-flight requests finish, 0s to 1h (whole seconds,
    /// rounded up).
    #[arg(long, env = "GREETER_SHUTDOWN_TIMEOUT", value_name = "DURATION",
          default_value_t = DEFAULT_SHUTDOWN_TIMEOUT.into(),
          value_parser = |s: &str| bounds::of("--shutdown-timeout").duration(s),
          allow_hyphen_values = true)]
    pub shutdown_timeout: humantime::Duration,

    /// On SIGTERM or SIGINT, time to keep serving with /readyz at 503 and every answer closing
    /// its connection, before the listener closes and in-flight requests finish: 0s to 1h.
    #[arg(long, env = "GREETER_DRAIN_DELAY", value_name = "DURATION",
          default_value_t = DEFAULT_DRAIN_DELAY.into(),
          value_parser = |s: &str| bounds::of("--drain-delay").duration(s),
          allow_hyphen_values = true)]
    pub drain_delay: humantime::Duration,

    /// Simulated I/O wait of the greeting, 0s to 1h, a human duration such as 1s or 250ms.
    #[arg(long, env = "GREETER_IO_DELAY", value_name = "DURATION",
          default_value_t = DEFAULT_IO_DELAY.into(),
          value_parser = |s: &str| bounds::of("--io-delay").duration(s),
          allow_hyphen_values = true)]
    pub io_delay: humantime::Duration,

    /// Path of Swagger UI, or `off` to remove it (the spec stays).
    #[arg(long, env = "GREETER_DOCS_PATH", value_name = "PATH|off",
          default_value = DEFAULT_DOCS_PATH)]
    pub docs_path: Mount,

    /// Path of ReDoc, or `off` to remove it (the spec stays).
    #[arg(long, env = "GREETER_REDOC_PATH", value_name = "PATH|off",
          default_value = DEFAULT_REDOC_PATH)]
    pub redoc_path: Mount,

    /// Path of the OpenAPI 3.1 document (the 3.0 edition is served beside it, `-3.0` before
    /// `.json`), or `off` to remove both documents, Swagger UI and ReDoc.
    #[arg(long, env = "GREETER_OPENAPI_PATH", value_name = "PATH|off",
          default_value = DEFAULT_OPENAPI_PATH)]
    pub openapi_path: Mount,

    /// Path of the Prometheus metrics (not in the OpenAPI document), or `off` to remove them.
    #[arg(long, env = "GREETER_METRICS_PATH", value_name = "PATH|off",
          default_value = DEFAULT_METRICS_PATH)]
    pub metrics_path: Mount,

    /// Proxies whose forwarding header is believed: IPs and CIDRs, comma separated, or `*` for
    /// any peer (uvicorn's flag). From a trusted peer, the client is the rightmost address of
    /// the header that is not itself trusted; from any other, the peer, headers ignored.
    #[arg(long, env = "GREETER_FORWARDED_ALLOW_IPS", value_name = "IPS",
          default_value = DEFAULT_FORWARDED_ALLOW_IPS)]
    pub forwarded_allow_ips: TrustedProxies,

    /// The header trusted proxies name the client in: `x-forwarded-for`, or RFC 7239's
    /// `forwarded` (the other one is ignored, so that a client cannot smuggle it through).
    #[arg(
        long,
        env = "GREETER_FORWARDED_HEADER",
        value_enum,
        default_value = "x-forwarded-for"
    )]
    pub forwarded_header: ForwardedHeader,

    /// Requests each client may make, `N/s` or `N/min` with N 1 to 1000000 (off unless set):
    /// past it, 429 with
    /// `Retry-After`. Health, readiness, metrics, docs, spec and OPTIONS are never limited.
    #[arg(long, env = "GREETER_RATE_LIMIT", value_name = "N/s|N/min")]
    pub rate_limit: Option<Rate>,

    /// Requests a client may make at once before `--rate-limit` spaces them, 1 to 1000000
    /// (default: N).
    #[arg(long, env = "GREETER_RATE_LIMIT_BURST", value_name = "B",
          value_parser = |s: &str| bounds::of("--rate-limit-burst").count(s).map(non_zero_u32))]
    pub rate_limit_burst: Option<std::num::NonZeroU32>,

    /// An origin whose pages may call the API from a browser (CORS), e.g.
    /// `https://app.example.com`, or `*` for any (without credentials); repeatable, or a
    /// comma-separated list. Off unless set.
    #[arg(long = "cors-allow-origin", env = "GREETER_CORS_ALLOW_ORIGINS", value_name = "ORIGIN",
          value_delimiter = ',', value_parser = parse_origin)]
    pub cors_allow_origins: Vec<String>,

    /// Log line format: `text` (env_logger's) or `json` (one object per line: ts, level,
    /// target, msg, and an access line's fields).
    #[arg(long, env = "GREETER_LOG_FORMAT", value_enum, default_value = "text")]
    pub log_format: LogFormat,

    /// A file of API keys, one per line (`#` starts a comment); or set GREETER_API_KEYS (comma
    /// separated; never a flag, which `ps` would show). With keys, every API route but
    /// /healthz and /readyz needs `Authorization: Bearer <key>`. Off unless set.
    #[arg(long, env = "GREETER_API_KEYS_FILE", value_name = "PATH")]
    pub api_keys_file: Option<std::path::PathBuf>,

    /// The keys of `GREETER_API_KEYS`, read from the environment only.
    #[arg(skip = Secret::from_env(API_KEYS_ENV))]
    pub api_keys_env: Option<Secret>,

    /// Path prefix under which a reverse proxy serves the API (e.g. /api/v1), stripped by the
    /// proxy before requests arrive: the spec's `servers` names it, so Swagger UI and clients
    /// call through it.
    #[arg(long, env = "GREETER_ROOT_PATH", value_name = "PATH")]
    pub root_path: Option<UrlPath>,

    /// An upstream service that GET /aggregate calls, NAME=URL (repeatable, or a comma-separated
    /// list: a comma inside a URL is written %2C; the flag replaces the environment variable).
    /// NAME is 1-32 of a-z, 0-9, _ and -; URL an absolute http:// URL. Without any, three
    /// simulated sources stand in.
    #[arg(long = "upstream", env = "GREETER_UPSTREAMS", value_name = "NAME=URL",
          value_delimiter = ',', value_parser = Upstream::parse)]
    pub upstreams: Vec<Upstream>,

    /// The most one upstream call may take once sent, 1ms to 1h; waiting for a free connection
    /// has a budget of its own, as long, so an aggregate takes at most twice this.
    #[arg(long, env = "GREETER_UPSTREAM_TIMEOUT", value_name = "DURATION",
          default_value_t = DEFAULT_UPSTREAM_TIMEOUT.into(),
          value_parser = |s: &str| bounds::of("--upstream-timeout").duration(s),
          allow_hyphen_values = true)]
    pub upstream_timeout: humantime::Duration,

    /// Largest upstream answer body read, 1 to 1GiB (e.g. 1MiB); a larger one fails the call
    /// as too_large.
    #[arg(long, env = "GREETER_UPSTREAM_MAX_BODY", value_name = "SIZE",
          default_value_t = DEFAULT_UPSTREAM_MAX_BODY,
          value_parser = |s: &str| bounds::of("--upstream-max-body").size(s))]
    pub upstream_max_body: ByteSize,

    /// Connections each worker keeps to each upstream at most, 1 to 65535; calls past it wait.
    #[arg(long, env = "GREETER_UPSTREAM_MAX_CONNECTIONS", default_value_t =
          NonZeroUsize::new(DEFAULT_UPSTREAM_MAX_CONNECTIONS).unwrap(),
          value_parser = |s: &str| bounds::of("--upstream-max-connections").count(s).map(non_zero),
          allow_negative_numbers = true)]
    pub upstream_max_connections: NonZeroUsize,
}

impl Default for ServeSettings {
    fn default() -> Self {
        Self {
            host: DEFAULT_HOST,
            port: DEFAULT_PORT,
            workers: default_workers(),
            backlog: DEFAULT_BACKLOG,
            max_body: DEFAULT_MAX_BODY,
            max_header_size: DEFAULT_MAX_HEADER_SIZE,
            max_uri_length: DEFAULT_MAX_URI_LENGTH,
            head_timeout: DEFAULT_HEAD_TIMEOUT.into(),
            keep_alive: DEFAULT_KEEP_ALIVE.into(),
            max_connections: None,
            shutdown_timeout: DEFAULT_SHUTDOWN_TIMEOUT.into(),
            drain_delay: DEFAULT_DRAIN_DELAY.into(),
            io_delay: DEFAULT_IO_DELAY.into(),
            docs_path: Mount::At(UrlPath(DEFAULT_DOCS_PATH.to_owned())),
            redoc_path: Mount::At(UrlPath(DEFAULT_REDOC_PATH.to_owned())),
            openapi_path: Mount::At(UrlPath(DEFAULT_OPENAPI_PATH.to_owned())),
            metrics_path: Mount::At(UrlPath(DEFAULT_METRICS_PATH.to_owned())),
            forwarded_allow_ips: DEFAULT_FORWARDED_ALLOW_IPS
                .parse()
                .unwrap_or_else(|_| TrustedProxies::none()),
            forwarded_header: ForwardedHeader::XForwardedFor,
            log_format: LogFormat::Text,
            rate_limit: None,
            rate_limit_burst: None,
            cors_allow_origins: Vec::new(),
            api_keys_file: None,
            api_keys_env: None,
            root_path: None,
            upstreams: Vec::new(),
            upstream_timeout: DEFAULT_UPSTREAM_TIMEOUT.into(),
            upstream_max_body: DEFAULT_UPSTREAM_MAX_BODY,
            upstream_max_connections: NonZeroUsize::new(DEFAULT_UPSTREAM_MAX_CONNECTIONS).unwrap(),
        }
    }
}

impl ServeSettings {
    /// The body limit in bytes.
    pub fn max_body_bytes(&self) -> usize {
        bytes(self.max_body)
    }

    /// The request head limit in bytes.
    pub fn max_header_bytes(&self) -> usize {
        bytes(self.max_header_size)
    }

    /// The request target limit in bytes.
    pub fn max_uri_bytes(&self) -> usize {
        bytes(self.max_uri_length)
    }

    /// What the settings cannot say flag by flag: a burst needs a rate, upstream names are
    /// unique, and there are at most [`MAX_UPSTREAMS`] upstreams.
    pub fn check(&self) -> Result<(), String> {
        if self.rate_limit_burst.is_some() && self.rate_limit.is_none() {
            return Err("--rate-limit-burst needs --rate-limit".to_owned());
        }
        if self.upstreams.len() > MAX_UPSTREAMS {
            return Err(format!(
                "--upstream is given {} times: at most {MAX_UPSTREAMS} upstreams",
                self.upstreams.len()
            ));
        }
        for (index, upstream) in self.upstreams.iter().enumerate() {
            if self.upstreams[..index]
                .iter()
                .any(|u| u.name == upstream.name)
            {
                return Err(format!(
                    "invalid value '{}' for '--upstream <NAME=URL>': the name {} is given twice",
                    upstream, upstream.name
                ));
            }
        }
        Ok(())
    }

    /// The most body bytes read from an upstream answer.
    pub fn upstream_max_body_bytes(&self) -> usize {
        bytes(self.upstream_max_body)
    }

    /// Open connections per worker: `--max-connections`, or the default.
    pub fn max_connections(&self) -> NonZeroUsize {
        self.max_connections
            .unwrap_or(NonZeroUsize::new(DEFAULT_MAX_CONNECTIONS).unwrap_or(NonZeroUsize::MIN))
    }

    /// The shutdown grace period in whole seconds, as actix-server takes it (rounded up).
    pub fn shutdown_timeout_secs(&self) -> u64 {
        let timeout = Duration::from(self.shutdown_timeout);
        timeout.as_secs() + u64::from(timeout.subsec_nanos() > 0)
    }
}

fn bytes(size: ByteSize) -> usize {
    usize::try_from(size.as_u64()).unwrap_or(usize::MAX)
}

/// An upstream service of `GET /aggregate`: its name in the answer, and its URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Upstream {
    /// 1 to 32 of `[a-z0-9_-]`.
    pub name: String,
    /// An absolute `http://` URL.
    pub url: http::Uri,
}

impl Upstream {
    /// Longest name.
    pub const MAX_NAME_CHARS: usize = 32;

    /// Reads `NAME=URL`.
    pub fn parse(input: &str) -> Result<Self, String> {
        let Some((name, url)) = input.split_once('=') else {
            return Err("expected NAME=URL".to_owned());
        };
        let name_ok = (1..=Self::MAX_NAME_CHARS).contains(&name.len())
            && name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
        if !name_ok {
            return Err(format!(
                "the name {name:?} must be 1 to {} of a-z, 0-9, _ and -",
                Self::MAX_NAME_CHARS
            ));
        }
        let url: http::Uri = url.parse().map_err(|_| format!("{url:?} is not a URL"))?;
        let authority = url.authority().map(|a| a.as_str()).unwrap_or_default();
        if authority.contains('@') {
            return Err("an upstream URL carries no user or password".to_owned());
        }
        http_port(&url)?;
        match url.scheme_str() {
            Some("http") if url.host().is_some_and(|host| !host.is_empty()) => {}
            Some("https") => {
                return Err("https:// upstreams are not supported yet; use http://".to_owned());
            }
            _ => return Err(format!("{url} is not an absolute http:// URL")),
        }
        Ok(Self {
            name: name.to_owned(),
            url,
        })
    }
}

/// The port of an `http://` URL: the one it names, 1 to 65535, or 80 when it names none. (`http`
/// reads a port past 65535 as none at all, which would call port 80 instead.)
pub fn http_port(url: &http::Uri) -> Result<u16, String> {
    let authority = url.authority().map(|a| a.as_str()).unwrap_or_default();
    let host_and_port = authority.rsplit('@').next().unwrap_or_default();
    // An IPv6 host is bracketed and holds colons of its own.
    let after_host = match host_and_port.rfind(']') {
        Some(end) => &host_and_port[end + 1..],
        None => host_and_port,
    };
    match after_host.rsplit_once(':') {
        None | Some((_, "")) => Ok(80),
        Some((_, digits)) => match digits.parse::<u16>() {
            Ok(port) if port > 0 => Ok(port),
            _ => Err(format!("{url} has port {digits}: a port is 1 to 65535")),
        },
    }
}

impl fmt::Display for Upstream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}={}", self.name, self.url)
    }
}

/// A port: 0 to 65535.
fn parse_port(input: &str) -> Result<u16, String> {
    bounds::of("--port")
        .count(input)
        .map(|n| u16::try_from(n).unwrap_or(u16::MAX))
}

/// Worker threads: 1 to 512, actix-server's limit (past it, it panics).
fn parse_workers(input: &str) -> Result<NonZeroUsize, String> {
    bounds::of("--workers").count(input).map(non_zero)
}

/// `n`, which a bound of 1 or more has checked, as a `NonZeroUsize`.
fn non_zero(n: u64) -> NonZeroUsize {
    NonZeroUsize::new(usize::try_from(n).unwrap_or(usize::MAX)).unwrap_or(NonZeroUsize::MIN)
}

/// `n`, which a bound of 1 to 1000000 has checked, as a `NonZeroU32`.
fn non_zero_u32(n: u64) -> std::num::NonZeroU32 {
    std::num::NonZeroU32::new(u32::try_from(n).unwrap_or(u32::MAX))
        .unwrap_or(std::num::NonZeroU32::MIN)
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

/// The most workers actix-server runs (past it, it panics).
pub const MAX_WORKERS: usize = 512;

/// One worker per CPU the process may use, at most [`MAX_WORKERS`].
pub fn default_workers() -> NonZeroUsize {
    std::thread::available_parallelism()
        .unwrap_or(NonZeroUsize::MIN)
        .min(NonZeroUsize::new(MAX_WORKERS).unwrap_or(NonZeroUsize::MIN))
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
    fn limits_accept_their_edges() {
        let args = [
            "--max-header-size",
            "1KiB",
            "--max-uri-length",
            "32KiB",
            "--head-timeout",
            "100ms",
            "--keep-alive",
            "0s",
            "--max-connections",
            "1",
            "--shutdown-timeout",
            "1500ms",
        ];
        let Command::Serve(s) = parse(&args).unwrap() else {
            panic!("expected serve")
        };
        assert_eq!(s.max_header_bytes(), 1024);
        assert_eq!(s.max_uri_bytes(), 32768);
        assert_eq!(Duration::from(s.head_timeout), Duration::from_millis(100));
        assert!(Duration::from(s.keep_alive).is_zero());
        assert_eq!(s.max_connections().get(), 1);
        assert_eq!(s.shutdown_timeout_secs(), 2, "rounded up");
        let Command::Serve(s) = parse(&["--max-header-size", "96KiB"]).unwrap() else {
            panic!("expected serve")
        };
        assert_eq!(s.max_header_bytes(), 96 * 1024);
    }

    /// The arguments that give `bound`'s flag `value`, with what else it needs.
    fn args_for(bound: &bounds::Bound, value: &str) -> Vec<String> {
        let mut args = Vec::new();
        if bound.flag == "--timeout" {
            args.push("healthcheck".to_owned());
        }
        if bound.flag == "--rate-limit-burst" {
            args.extend(["--rate-limit".to_owned(), "1/s".to_owned()]);
        }
        args.extend([bound.flag.to_owned(), value.to_owned()]);
        args
    }

    #[test]
    fn every_numeric_setting_holds_at_and_past_both_edges() {
        for bound in bounds::BOUNDS {
            let (inside, outside) = bound.edges();
            for value in &inside {
                let args = args_for(bound, value);
                let args: Vec<&str> = args.iter().map(String::as_str).collect();
                assert!(parse(&args).is_ok(), "{args:?} is refused");
            }
            assert!(!outside.is_empty() || bound.min == "0", "{}", bound.flag);
            for value in &outside {
                let args = args_for(bound, value);
                let args: Vec<&str> = args.iter().map(String::as_str).collect();
                let err = parse(&args).expect_err(&format!("{args:?} is accepted"));
                assert_eq!(err.kind(), clap::error::ErrorKind::ValueValidation);
                let message = err.to_string();
                assert!(
                    message.contains(&format!("from {} to {}", bound.min, bound.max))
                        || message.contains("not a whole number"),
                    "{args:?}: {message}"
                );
            }
        }
    }

    #[test]
    fn help_states_every_numeric_settings_range() {
        let mut serve = Cli::command();
        let serve_help = serve.render_long_help().to_string();
        let mut healthcheck = Cli::command();
        let healthcheck_help = healthcheck
            .find_subcommand_mut("healthcheck")
            .unwrap()
            .render_long_help()
            .to_string();
        for bound in bounds::BOUNDS {
            let help = if bound.flag == "--timeout" {
                &healthcheck_help
            } else {
                &serve_help
            };
            // The flag's paragraph: from its line to the next flag's.
            let start = help
                .find(&format!("      {} ", bound.flag))
                .or_else(|| help.find(&format!("      {}\n", bound.flag)))
                .unwrap_or_else(|| panic!("{} is not in --help", bound.flag));
            let rest = &help[start + 6..];
            let paragraph = &rest[..rest.find("\n  -").unwrap_or(rest.len())];
            let paragraph = paragraph.split_whitespace().collect::<Vec<_>>().join(" ");
            let range = format!("{} to {}", bound.min, bound.max);
            assert!(
                paragraph.contains(&range),
                "the help of {} does not say {range}: {paragraph}",
                bound.flag
            );
        }
    }

    #[test]
    fn the_default_workers_stay_within_actix_servers_limit() {
        assert!(default_workers().get() <= MAX_WORKERS);
        assert_eq!(bounds::of("--workers").max, MAX_WORKERS.to_string());
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
            (&["--max-header-size", "1023"][..], "--max-header-size"),
            (&["--max-header-size", "97KiB"][..], "--max-header-size"),
            (&["--max-uri-length", "255"][..], "--max-uri-length"),
            (&["--head-timeout", "0s"][..], "--head-timeout"),
            (&["--keep-alive", "forever"][..], "--keep-alive"),
            (&["--max-connections", "0"][..], "--max-connections"),
            (&["--shutdown-timeout", "-1s"][..], "--shutdown-timeout"),
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

/// The proxies whose forwarding headers are believed (`--forwarded-allow-ips`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrustedProxies {
    any: bool,
    networks: Vec<ipnet::IpNet>,
}

impl TrustedProxies {
    /// No proxy is trusted: every client is its peer.
    pub fn none() -> Self {
        Self {
            any: false,
            networks: Vec::new(),
        }
    }

    /// Whether every peer is trusted (`*`).
    pub fn is_any(&self) -> bool {
        self.any
    }

    /// Whether `ip` is a trusted proxy (an IPv4-mapped IPv6 address counts as its IPv4 one).
    pub fn trusts(&self, ip: std::net::IpAddr) -> bool {
        let ip = ip.to_canonical();
        self.any || self.networks.iter().any(|network| network.contains(&ip))
    }
}

impl FromStr for TrustedProxies {
    type Err = String;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        let mut trusted = Self::none();
        for item in input
            .split(',')
            .map(str::trim)
            .filter(|item| !item.is_empty())
        {
            if item == "*" {
                trusted.any = true;
            } else if let Ok(network) = item.parse::<ipnet::IpNet>() {
                trusted.networks.push(network.trunc());
            } else if let Ok(ip) = item.parse::<std::net::IpAddr>() {
                trusted.networks.push(ipnet::IpNet::from(ip));
            } else {
                return Err(format!("{item:?} is not an IP address, a CIDR or *"));
            }
        }
        Ok(trusted)
    }
}

/// The header trusted proxies name the client in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ForwardedHeader {
    /// `X-Forwarded-For: client, proxy1, proxy2`.
    #[value(name = "x-forwarded-for")]
    XForwardedFor,
    /// RFC 7239 `Forwarded: for=client, for=proxy1`.
    #[value(name = "forwarded")]
    Forwarded,
}

/// How log lines are written (`--log-format`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// `[2026-11-26T08:00:00Z INFO  target] message`, as env_logger writes it.
    #[default]
    Text,
    /// One JSON object per line: `ts`, `level`, `target`, `msg`, and the record's fields.
    Json,
}

/// A rate: `count` requests per `period` (`--rate-limit 10/s`, `600/min`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    /// Requests per period: 1 to 1,000,000.
    pub count: std::num::NonZeroU32,
    /// A second or a minute.
    pub period: Duration,
}

impl FromStr for Rate {
    type Err = String;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        let (count, unit) = input
            .split_once('/')
            .ok_or_else(|| format!("{input:?} is not N/s or N/min"))?;
        let period = match unit.trim() {
            "s" | "sec" | "second" => Duration::from_secs(1),
            "m" | "min" | "minute" => Duration::from_secs(60),
            other => return Err(format!("{other:?} is not a period: use s or min")),
        };
        let count = bounds::of("--rate-limit").count(count)?;
        Ok(Self {
            count: non_zero_u32(count),
            period,
        })
    }
}

/// A CORS origin: `*`, or `http(s)://host[:port]` with nothing after it.
fn parse_origin(input: &str) -> Result<String, String> {
    let input = input.trim();
    if input == "*" {
        return Ok(input.to_owned());
    }
    let bad = || format!("{input:?} is not an origin such as https://app.example.com, or *");
    let uri: http::Uri = input.parse().map_err(|_| bad())?;
    let plain = matches!(uri.scheme_str(), Some("http" | "https"))
        && uri.host().is_some_and(|host| !host.is_empty())
        && uri.authority().is_some_and(|a| !a.as_str().contains('@'))
        && uri
            .path_and_query()
            .is_none_or(|p| p.as_str().is_empty() || p.as_str() == "/")
        && !input.ends_with('/');
    if plain {
        Ok(input.to_owned())
    } else {
        Err(bad())
    }
}
