//! The composition root: builds the app from the API ([`crate::api`]) behind the HTTP layer
//! ([`crate::http`]) with the settings, and runs the server. One place used by `main` and the
//! tests alike.

use std::fmt;
use std::net::{SocketAddr, TcpListener};
use std::rc::Rc;
use std::time::Duration;

use socket2::{Domain, Protocol, Socket, Type};

use actix_web::body::MessageBody;
use actix_web::dev::ResourceDef;
use actix_web::dev::{Server, ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::http::KeepAlive;
use actix_web::middleware::{Condition, from_fn};
use actix_web::web::{self, ThinData};
use actix_web::{App, Error, HttpServer};
use utoipa::openapi::server::Server as OpenApiServer;

use crate::api::api_app;
use crate::api::body::BodyLimit;
use crate::api::docs;
use crate::api::openapi::Deployment;
use crate::api::openapi::v3_0::UnsupportedConstruct;
use crate::api::routes::metrics;
use crate::api::simulated_io::SimulatedIo;
use crate::api::sources::SourcesConfig;
use crate::config::ServeSettings;
use crate::config::api_keys::ApiKeys;
use crate::http::authentication::Authentication;
use crate::http::client_ip::Forwarding;
use crate::http::head_limits::HeadLimits;
use crate::http::per_request::{PerRequest, per_request};
use crate::http::rate_limit::RateLimits;
use crate::http::{cors, fallback};
use crate::lifecycle::memory;
use crate::lifecycle::serving::ServingState;
use crate::telemetry::metrics::Metrics;

/// Why the server cannot start with the settings it was given.
#[derive(Debug)]
pub enum StartupError {
    /// The document cannot be converted to OpenAPI 3.0.
    Spec(UnsupportedConstruct),
    /// A docs or document path is also an API route.
    PathCollision {
        /// The colliding path.
        path: String,
    },
    /// The rate limiter's sweeper thread could not start.
    RateLimiter(std::io::Error),
    /// The API keys cannot be read, or one is unfit.
    ApiKeys(String),
    /// The upstreams' TLS cannot be set up (`--upstream-ca-file`).
    UpstreamTls(String),
}

impl fmt::Display for StartupError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Spec(cause) => cause.fmt(f),
            Self::PathCollision { path } => write!(
                f,
                "{path} is taken by an API route or another page; choose another --docs-path, \
                 --redoc-path, --openapi-path or --metrics-path"
            ),
            Self::RateLimiter(cause) => write!(f, "cannot start the rate limiter: {cause}"),
            Self::ApiKeys(message) | Self::UpstreamTls(message) => f.write_str(message),
        }
    }
}

impl std::error::Error for StartupError {}

/// What every worker's app shares, prepared once per server.
#[derive(Clone)]
pub struct AppState {
    io: SimulatedIo,
    sources: SourcesConfig,
    body_limit: BodyLimit,
    head_limits: HeadLimits,
    docs: web::Data<docs::Docs>,
    serving: ServingState,
    forwarding: Forwarding,
    rate_limits: Option<RateLimits>,
    /// `None` when no API keys are set.
    authentication: Option<Authentication>,
    /// The origins CORS allows; none turns it off.
    cors_origins: Vec<String>,
    /// `None` when `--metrics-path off`: nothing is recorded that nobody can read.
    metrics: Option<Metrics>,
    metrics_path: Option<String>,
}

impl AppState {
    /// Prepares the documents and Swagger UI for `settings`; refuses a layout whose paths an
    /// API route would take.
    pub fn new(settings: &ServeSettings) -> Result<Self, StartupError> {
        let keys = ApiKeys::load(
            settings.api_keys_file.as_deref(),
            settings.api_keys_env.as_ref(),
        )
        .map_err(StartupError::ApiKeys)?;
        let mut api = crate::api::document_for(Deployment {
            api_keys: keys.is_some(),
            parameters: &settings.parameters,
        });
        if let Some(root) = &settings.root_path {
            api.servers = Some(vec![OpenApiServer::new(root.as_str())]);
        }
        let layout = docs::DocsLayout::new(
            &settings.docs_path,
            &settings.redoc_path,
            &settings.openapi_path,
        );
        let metrics_path = settings.metrics_path.path().map(|p| p.as_str().to_owned());
        if let Some(path) = first_taken_path(&api, &layout, metrics_path.as_deref()) {
            return Err(StartupError::PathCollision { path });
        }
        let metrics = metrics_path.as_ref().map(|_| Metrics::new());
        let rate_limits = match settings.rate_limit {
            Some(rate) => {
                // Probes, metrics, the docs and the documents are never limited.
                let mut exempt = vec!["/healthz".to_owned(), "/readyz".to_owned()];
                exempt.extend(metrics_path.iter().cloned());
                exempt.extend(layout.specs.iter().map(|(_, path)| path.clone()));
                exempt.extend(layout.pages().cloned());
                let prefixes = layout.pages().map(|page| format!("{page}/")).collect();
                let limits = RateLimits::new(rate, settings.rate_limit_burst, exempt, prefixes)
                    .map_err(StartupError::RateLimiter)?;
                if let Some(metrics) = &metrics {
                    metrics.register(Box::new(limits.clients_gauge()));
                }
                Some(limits)
            }
            None => None,
        };
        let authentication = keys.map(|keys| Authentication::new(keys, &api));
        let docs = docs::Docs::new(&api, layout).map_err(StartupError::Spec)?;
        Ok(Self {
            io: SimulatedIo::new(settings.io_delay.into()),
            sources: SourcesConfig::new(settings, metrics.as_ref())
                .map_err(StartupError::UpstreamTls)?,
            body_limit: BodyLimit(settings.max_body_bytes()),
            head_limits: HeadLimits {
                max_uri: settings.max_uri_bytes(),
                max_head: settings.max_header_bytes(),
            },
            docs: web::Data::new(docs),
            serving: ServingState::new(),
            rate_limits,
            authentication,
            cors_origins: settings.cors_allow_origins.clone(),
            forwarding: Forwarding {
                trusted: settings.forwarded_allow_ips.clone(),
                header: settings.forwarded_header,
            },
            metrics,
            metrics_path,
        })
    }

    /// The same, serving or draining as `serving` says (a fresh state serves).
    pub fn with_serving(self, serving: ServingState) -> Self {
        Self { serving, ..self }
    }

    /// Where the documents and Swagger UI are served.
    pub fn layout(&self) -> &docs::DocsLayout {
        self.docs.layout()
    }
}

/// The first of greeter's own paths (each document, each docs page and the files under it,
/// `metrics`) that another of them takes, or that an API operation's path also matches, its
/// parameters taking any segment, empty ones included.
fn first_taken_path(
    api: &utoipa::openapi::OpenApi,
    layout: &docs::DocsLayout,
    metrics: Option<&str>,
) -> Option<String> {
    let any_segment = regex::Regex::new(r"\{([^}]+)\}").expect("a valid pattern");
    let api_paths: Vec<ResourceDef> = api
        .paths
        .paths
        .keys()
        .map(|path| ResourceDef::new(any_segment.replace_all(path, "{$1:[^/]*}").as_ref()))
        .collect();
    let own: Vec<String> = layout
        .specs
        .iter()
        .map(|(_, path)| path.clone())
        .chain(layout.pages().cloned())
        .chain(metrics.map(str::to_owned))
        .collect();
    // A docs page's files take every path under it.
    let folders: Vec<String> = layout.pages().map(|page| format!("{page}/")).collect();
    let taken_by_own = own.iter().enumerate().find(|(index, path)| {
        own[..*index].contains(path) || folders.iter().any(|folder| path.starts_with(folder))
    });
    if let Some((_, path)) = taken_by_own {
        return Some(path.clone());
    }
    let probes = layout
        .pages()
        .flat_map(|page| [format!("{page}/"), format!("{page}/index.html")]);
    own.iter()
        .cloned()
        .chain(probes)
        .find(|path| api_paths.iter().any(|api_path| api_path.is_match(path)))
}

/// The complete app: API routes and docs behind the per-request layer (request ids, head
/// limits, `HEAD` support, panics contained, JSON errors, security header, access log).
pub fn app(
    state: AppState,
) -> App<
    impl ServiceFactory<
        ServiceRequest,
        Config = (),
        Response = ServiceResponse<impl MessageBody>,
        Error = Error,
        InitError = (),
    >,
> {
    app_with(state, |_| {})
}

/// The complete app with `extra` routes registered after greeter's own and before the
/// fallback that answers `404`/`405` (tests add failing routes this way).
pub fn app_with(
    state: AppState,
    extra: impl FnOnce(&mut web::ServiceConfig),
) -> App<
    impl ServiceFactory<
        ServiceRequest,
        Config = (),
        Response = ServiceResponse<impl MessageBody>,
        Error = Error,
        InitError = (),
    >,
> {
    let (app, _) = api_app().split_for_parts();
    let cors_on = !state.cors_origins.is_empty();
    let steps = PerRequest {
        forwarding: state.forwarding,
        head_limits: state.head_limits,
        rate_limits: state.rate_limits,
        authentication: state.authentication,
        metrics: state.metrics.clone(),
        serving: state.serving.clone(),
        admission_inside_cors: cors_on,
    };
    let app = match state.metrics {
        Some(metrics) => app.app_data(ThinData(metrics)),
        None => app,
    };
    // The layers, innermost first: admission inside CORS when CORS is on (so that its refusals
    // carry the CORS headers), CORS with its refusals in JSON, and the per-request layer outside
    // them all, so that every answer, a preflight included, has its id, access line and count
    // (src/http/per_request.rs says why in this order).
    app.app_data(ThinData(state.io))
        .app_data(web::Data::new(state.sources.for_worker()))
        .app_data(state.body_limit)
        .app_data(ThinData(state.serving))
        .app_data(Rc::new(steps))
        .configure(docs::configure(state.docs))
        .configure(metrics::configure(state.metrics_path))
        .configure(extra)
        .service(fallback::resource())
        .wrap(Condition::new(
            cors_on,
            cors::CorsLayers::new(&state.cors_origins),
        ))
        .wrap(from_fn(per_request))
}

/// Binds a listening socket on `address` whose accept queue holds `backlog` connections
/// (`std::net::TcpListener::bind` would fix it at 128).
pub fn listen(address: SocketAddr, backlog: u32) -> std::io::Result<TcpListener> {
    let socket = Socket::new(
        Domain::for_address(address),
        Type::STREAM,
        Some(Protocol::TCP),
    )?;
    socket.set_reuse_address(true)?;
    socket.bind(&address.into())?;
    socket.listen(i32::try_from(backlog).unwrap_or(i32::MAX))?;
    Ok(socket.into())
}

/// Serves the app on `listener` with `settings`, draining once `serving` says so; the returned
/// server runs when awaited.
///
/// Signals are not handled here (see [`crate::lifecycle::signals`]); stop it through its handle.
pub fn run(
    listener: TcpListener,
    settings: &ServeSettings,
    serving: ServingState,
) -> std::io::Result<Server> {
    let address = listener.local_addr()?;
    let state = AppState::new(settings)
        .map_err(std::io::Error::other)?
        .with_serving(serving);
    let layout = state.layout();
    let docs = layout
        .docs
        .as_ref()
        .map_or("off".to_owned(), |p| format!("http://{address}{p}/"));
    let redoc = layout
        .redoc
        .as_ref()
        .map_or("off".to_owned(), |p| format!("http://{address}{p}"));
    let spec = layout
        .specs
        .first()
        .map_or("off".to_owned(), |(_, p)| format!("http://{address}{p}"));
    let root = settings
        .root_path
        .as_ref()
        .map(|r| format!(", root path: {r}"))
        .unwrap_or_default();
    let fitted = settings
        .fitted_to_open_files
        .map(|limit| {
            format!(
                " (fitted to the limit of {limit} open files; RUST_LOG=debug shows the \
                 arithmetic)"
            )
        })
        .unwrap_or_default();
    log::info!(
        "greeter {} listening on http://{address} (docs: {docs}, redoc: {redoc}, spec: {spec}, \
         workers: {}, connections per worker: {}{fitted}, I/O delay: {}{root})",
        env!("CARGO_PKG_VERSION"),
        settings.workers,
        settings.max_connections(),
        settings.io_delay,
    );
    if let Some(authentication) = &state.authentication {
        log::info!(
            "API keys on ({}): every API route but /healthz and /readyz needs \
             `Authorization: Bearer <key>`",
            authentication.key_count()
        );
    }
    let aggregate_at_most = settings.longest_aggregate();
    if !settings.upstreams.is_empty()
        && aggregate_at_most > Duration::from(settings.shutdown_timeout)
    {
        log::warn!(
            "an aggregate may take up to {} (twice the longest upstream timeout), longer than \
             --shutdown-timeout {}: a shutdown may cut it short",
            humantime::format_duration(aggregate_at_most),
            settings.shutdown_timeout
        );
    }
    let keep_alive = match Duration::from(settings.keep_alive) {
        idle if idle.is_zero() => KeepAlive::Disabled,
        idle => KeepAlive::Timeout(idle),
    };
    let server = HttpServer::new(move || {
        // Each worker builds its app on its own thread: what that leaves freed in the thread's
        // cache goes back once serving.
        actix_rt::spawn(memory::release_after_start_up());
        app(state.clone())
    })
    .workers(settings.workers.get())
    .max_connections(settings.max_connections().get())
    .client_request_timeout(settings.head_timeout.into())
    .keep_alive(keep_alive)
    // A client that closes its side of the connection is gone: its request is dropped (and
    // logged as 499) rather than answered into a closed socket.
    .h1_allow_half_closed(false)
    .shutdown_timeout(settings.shutdown_timeout_secs())
    .disable_signals()
    .listen(listener)?
    .run();
    Ok(server)
}
