//! Building the app and running the server: one place used by `main`, `greeter openapi` and the
//! tests alike.

use std::net::{SocketAddr, TcpListener};

use socket2::{Domain, Protocol, Socket, Type};

use actix_web::body::MessageBody;
use actix_web::dev::{Server, ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::middleware::{Logger, from_fn};
use actix_web::web::{self, ThinData};
use actix_web::{App, Error, HttpServer};
use utoipa::OpenApi;
use utoipa_actix_web::{AppExt, UtoipaApp};

use crate::api_doc::{self, ApiDoc, SpecVersion};
use crate::errors::json_errors;
use crate::fallback::{RouteTable, not_routed};
use crate::head_as_get::head_as_get;
use crate::json_body::BodyLimit;
use crate::openapi30::UnsupportedConstruct;
use crate::routes::{self, docs};
use crate::settings::ServeSettings;
use crate::simulated_io::SimulatedIo;

/// The API routes alone, with the OpenAPI document they generate.
pub fn api_app() -> UtoipaApp<
    impl ServiceFactory<
        ServiceRequest,
        Config = (),
        Response = ServiceResponse,
        Error = Error,
        InitError = (),
    >,
> {
    App::new()
        .into_utoipa_app()
        .openapi(ApiDoc::openapi())
        .configure(routes::register)
}

/// What every worker's app shares, prepared once per server.
#[derive(Clone)]
pub struct AppState {
    io: SimulatedIo,
    body_limit: BodyLimit,
    routes: web::Data<RouteTable>,
    docs: web::Data<docs::Docs>,
}

impl AppState {
    /// Prepares the document, Swagger UI and the route table for `settings`; fails only if the
    /// document cannot be converted to OpenAPI 3.0.
    pub fn new(settings: &ServeSettings) -> Result<Self, UnsupportedConstruct> {
        let api = api_doc::openapi();
        let routes = docs::patterns()
            .into_iter()
            .fold(RouteTable::from_openapi(&api), |table, pattern| {
                table.with(pattern, [actix_web::http::Method::GET])
            });
        Ok(Self {
            io: SimulatedIo::new(settings.io_delay.into()),
            body_limit: BodyLimit(settings.max_body_bytes()),
            routes: web::Data::new(routes),
            docs: web::Data::new(docs::Docs::new(&api)?),
        })
    }
}

/// The complete app: API routes, docs, JSON errors, `HEAD` support and access logging.
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
    let (app, _) = api_app().split_for_parts();
    app.app_data(ThinData(state.io))
        .app_data(state.body_limit)
        .app_data(state.routes)
        .configure(docs::configure(state.docs))
        .default_service(web::to(not_routed))
        .wrap(from_fn(head_as_get))
        .wrap(json_errors())
        .wrap(Logger::default())
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

/// Serves the app on `listener` with `settings`; the returned server runs when awaited.
///
/// Signals are not handled here (see [`crate::shutdown`]); stop it through its handle.
pub fn run(listener: TcpListener, settings: &ServeSettings) -> std::io::Result<Server> {
    let address = listener.local_addr()?;
    let state = AppState::new(settings).map_err(std::io::Error::other)?;
    let server = HttpServer::new(move || app(state.clone()))
        .workers(settings.workers.get())
        .disable_signals()
        .listen(listener)?
        .run();
    log::info!(
        "greeter {} listening on http://{address} (docs: http://{address}{}/, spec: http://{address}{}, \
         workers: {}, I/O delay: {})",
        env!("CARGO_PKG_VERSION"),
        docs::DOCS_PATH,
        SpecVersion::V3_1.url_path(),
        settings.workers,
        settings.io_delay,
    );
    Ok(server)
}
