//! The settings of a running server ([`ServeSettings`]): each a flag with an environment
//! fallback and a default, read by clap; the defaults are the constants below.

use std::net::{IpAddr, Ipv4Addr};
use std::num::NonZeroUsize;
use std::time::Duration;

use bytesize::ByteSize;
use clap::Args;

use crate::config::api_keys::{API_KEYS_ENV, Secret};
use crate::config::bounds::{self, non_zero, non_zero_u32, parse_port};
use crate::config::parameters::{MAX_PARAMETERS, Parameter, Rule, Slot};
use crate::config::upstream::{MAX_UPSTREAMS, Upstream};
use crate::config::values::{
    ForwardedHeader, LogFormat, Mount, Rate, TrustedProxies, UrlPath, parse_origin,
};

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
/// The most upstream body bytes all aggregates together hold at once. 256 MiB holds 1,000
/// concurrent aggregates of three 85 KiB bodies; past it a call fails as `overloaded` rather
/// than the process growing without bound (three upstreams answering 1 MB to 400 slow clients
/// once took greeter to 1 GiB).
pub const DEFAULT_UPSTREAM_BODY_BUDGET: ByteSize = ByteSize::mib(256);
/// Connections each worker keeps to each upstream at most. A worker carrying its half of 1,000
/// concurrent aggregates calls each upstream about 500 times at once: 512 serves that without
/// queueing, and bounds what one upstream takes of the open-files budget (workers × upstreams ×
/// this).
pub const DEFAULT_UPSTREAM_MAX_CONNECTIONS: usize = 512;
/// The simulated I/O wait of the greeting, as the original's `await asyncio.sleep(1)`.
pub const DEFAULT_IO_DELAY: Duration = Duration::from_secs(1);

/// Settings of a running server.
#[derive(Debug, Clone, Args)]
pub struct ServeSettings {
    /// A TOML file of settings (keys named as the flags, with _ for -) and of `[[upstreams]]`
    /// with their own limits and headers; flags and environment variables override it
    /// (docs/fan-out.md).
    #[arg(long, env = "GREETER_CONFIG", value_name = "FILE")]
    pub config: Option<std::path::PathBuf>,

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

    /// The limit on open files that `--max-connections`, left unset, was fitted to at start
    /// (`crate::lifecycle::open_files`); the start-up line says so.
    #[arg(skip)]
    pub fitted_to_open_files: Option<u64>,

    /// Path prefix under which a reverse proxy serves the API (e.g. /api/v1), stripped by the
    /// proxy before requests arrive: the spec's `servers` names it, so Swagger UI and clients
    /// call through it.
    #[arg(long, env = "GREETER_ROOT_PATH", value_name = "PATH")]
    pub root_path: Option<UrlPath>,

    /// An upstream service that GET /aggregate calls, NAME=URL (repeatable, or a comma-separated
    /// list: a comma inside a URL is written %2C; the flag replaces the environment variable).
    /// NAME is 1-32 of a-z, 0-9, _ and -; URL an absolute http:// or https:// URL. Without
    /// any, three simulated sources stand in.
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

    /// The most upstream body bytes all aggregates together hold at once (read, and until
    /// their answer is sent), 1KiB to 64GiB; a call past it fails as overloaded.
    #[arg(long, env = "GREETER_UPSTREAM_BODY_BUDGET", value_name = "SIZE",
          default_value_t = DEFAULT_UPSTREAM_BODY_BUDGET,
          value_parser = |s: &str| bounds::of("--upstream-body-budget").size(s))]
    pub upstream_body_budget: ByteSize,

    /// The parameters of `GET /aggregate`, from the configuration file's `[[parameters]]`.
    #[arg(skip)]
    pub parameters: Vec<Parameter>,

    /// PEM certificates of private CAs that https:// upstreams may be signed by, trusted as
    /// well as the public ones compiled in (Mozilla's). Certificates and host names are always
    /// verified.
    #[arg(long, env = "GREETER_UPSTREAM_CA_FILE", value_name = "FILE")]
    pub upstream_ca_file: Option<std::path::PathBuf>,
}

impl Default for ServeSettings {
    fn default() -> Self {
        Self {
            config: None,
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
            fitted_to_open_files: None,
            root_path: None,
            upstreams: Vec::new(),
            upstream_timeout: DEFAULT_UPSTREAM_TIMEOUT.into(),
            upstream_max_body: DEFAULT_UPSTREAM_MAX_BODY,
            upstream_max_connections: NonZeroUsize::new(DEFAULT_UPSTREAM_MAX_CONNECTIONS).unwrap(),
            upstream_body_budget: DEFAULT_UPSTREAM_BODY_BUDGET,
            upstream_ca_file: None,
            parameters: Vec::new(),
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

    /// What the settings cannot say flag by flag: a burst needs a rate, the target's limit is
    /// below the head's, upstream names are unique, and there are at most [`MAX_UPSTREAMS`]
    /// upstreams.
    pub fn check(&self) -> Result<(), String> {
        if self.rate_limit_burst.is_some() && self.rate_limit.is_none() {
            return Err("--rate-limit-burst needs --rate-limit".to_owned());
        }
        // The target is part of the head: a limit on it past the head's would never be the one
        // that refuses.
        if self.max_uri_bytes() >= self.max_header_bytes() {
            return Err(format!(
                "--max-uri-length {} is not below --max-header-size {}: the request target is \
                 part of the head, so raise --max-header-size too",
                self.max_uri_length, self.max_header_size
            ));
        }
        if self.upstream_body_budget < self.upstream_max_body {
            return Err(format!(
                "invalid value '{}' for '--upstream-body-budget <SIZE>': smaller than \
                 --upstream-max-body ({}), so a body that size could never be held",
                self.upstream_body_budget, self.upstream_max_body
            ));
        }
        if let Some(upstream) = self.upstreams.iter().find(|u| {
            u.max_body
                .is_some_and(|max| max > self.upstream_body_budget)
        }) {
            return Err(format!(
                "invalid value '{}' for '--upstream-body-budget <SIZE>': smaller than the \
                 max_body of the upstream {} ({}), so a body that size could never be held",
                self.upstream_body_budget,
                upstream.name,
                upstream.max_body.unwrap_or_default()
            ));
        }
        if self.upstreams.len() > MAX_UPSTREAMS {
            return Err(format!(
                "--upstream is given {} times: at most {MAX_UPSTREAMS} upstreams",
                self.upstreams.len()
            ));
        }
        // Parameters come from the configuration file only: their errors name it.
        self.check_parameters().map_err(|why| match &self.config {
            Some(path) => format!("{}: {why}", path.display()),
            None => why,
        })?;
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

    /// Every placeholder of an upstream URL names a declared parameter, every parameter fills
    /// some placeholder, no name is declared twice, and a path segment's value is never empty.
    fn check_parameters(&self) -> Result<(), String> {
        if self.parameters.len() > MAX_PARAMETERS {
            return Err(format!(
                "{} parameters: at most {MAX_PARAMETERS}",
                self.parameters.len()
            ));
        }
        for (index, parameter) in self.parameters.iter().enumerate() {
            if self.parameters[..index]
                .iter()
                .any(|p| p.name == parameter.name)
            {
                return Err(format!(
                    "the parameter {} is declared twice",
                    parameter.name
                ));
            }
        }
        for parameter in &self.parameters {
            if let Rule::String { max_length, .. } = parameter.rule
                && max_length > self.max_uri_bytes() as u64
            {
                return Err(format!(
                    "the parameter {}'s max_length {max_length} is past --max-uri-length {}: \
                     no request could carry such a value",
                    parameter.name, self.max_uri_length
                ));
            }
        }
        let mut used = vec![false; self.parameters.len()];
        for upstream in &self.upstreams {
            for (name, slot) in upstream.target.placeholders() {
                let Some(index) = self.parameters.iter().position(|p| p.name == name) else {
                    return Err(format!(
                        "the upstream {} has the placeholder {{{name}}}, but no parameter \
                         {name} is declared ([[parameters]] in --config)",
                        upstream.name
                    ));
                };
                used[index] = true;
                if slot == Slot::Path
                    && let Rule::String { min_length: 0, .. } = self.parameters[index].rule
                {
                    return Err(format!(
                        "the parameter {name} fills a path segment of the upstream {}, so its \
                         min_length must be at least 1 (an empty value would empty the segment)",
                        upstream.name
                    ));
                }
            }
        }
        if let Some(index) = used.iter().position(|used| !used) {
            return Err(format!(
                "the parameter {} fills no upstream URL's placeholder",
                self.parameters[index].name
            ));
        }
        Ok(())
    }

    /// The most body bytes read from `upstream`'s answers: its own `max_body`, or
    /// `--upstream-max-body`.
    pub fn max_body_bytes_of(&self, upstream: &Upstream) -> usize {
        bytes(upstream.max_body.unwrap_or(self.upstream_max_body))
    }

    /// The budget of one call to `upstream`: its own `timeout`, or `--upstream-timeout`.
    pub fn timeout_of(&self, upstream: &Upstream) -> Duration {
        upstream.timeout.unwrap_or(self.upstream_timeout.into())
    }

    /// The connections each worker keeps to `upstream` at most: its own `max_connections`, or
    /// `--upstream-max-connections`.
    pub fn max_connections_of(&self, upstream: &Upstream) -> NonZeroUsize {
        upstream
            .max_connections
            .unwrap_or(self.upstream_max_connections)
    }

    /// The longest an aggregate may take: twice the longest upstream timeout (waiting for a
    /// connection, then the call), or the simulated wait when no upstream is configured.
    pub fn longest_aggregate(&self) -> Duration {
        self.upstreams
            .iter()
            .map(|upstream| 2 * self.timeout_of(upstream))
            .max()
            .unwrap_or(self.io_delay.into())
    }

    /// The most upstream body bytes held at once, all aggregates together.
    pub fn upstream_body_budget_bytes(&self) -> usize {
        bytes(self.upstream_body_budget)
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

/// Worker threads: 1 to 512, actix-server's limit (past it, it panics).
fn parse_workers(input: &str) -> Result<NonZeroUsize, String> {
    bounds::of("--workers").count(input).map(non_zero)
}

/// One worker per CPU the process may use, at most the largest `--workers` (actix-server's
/// 512; past it, it panics).
pub fn default_workers() -> NonZeroUsize {
    std::thread::available_parallelism()
        .unwrap_or(NonZeroUsize::MIN)
        .min(non_zero(bounds::of("--workers").largest()))
}
