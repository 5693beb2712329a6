//! The API itself: what a client can ask for and what it gets back.
//!
//! Here belong the routes ([`routes`], one file per concern), the docs pages and documents
//! ([`docs`]), the accepted values and their rules ([`domain`]), the request bodies ([`body`]), the answers' shapes
//! ([`errors`] for `{"detail": ...}`, [`validation`] for FastAPI's 422; [`query`] decodes queries), the OpenAPI document and
//! its 3.0 edition ([`openapi`]), and the I/O the routes wait on ([`simulated_io`], and the
//! upstream services `GET /aggregate` calls, [`sources`]). Not here:
//! anything every request passes through regardless of its route (that is [`crate::http`]),
//! and the process around the server. Code here may use the configuration ([`crate::config`]),
//! telemetry ([`crate::telemetry`]: upstream calls are counted, `/metrics` is a route) and the
//! lifecycle ([`crate::lifecycle`]: `/readyz` answers by the serving state), and nothing else
//! outside this folder (`tests/api/architecture.rs`).

pub mod body;
pub mod docs;
pub mod domain;
pub mod errors;
pub mod openapi;
pub mod query;
pub mod routes;
pub mod simulated_io;
pub mod sources;
pub mod validation;

use actix_web::dev::{ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::{App, Error};
use utoipa::OpenApi;
use utoipa_actix_web::{AppExt, UtoipaApp};

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
        .openapi(openapi::ApiDoc::openapi())
        .configure(routes::register)
}

/// The complete OpenAPI document of the API as the default settings serve it (the committed
/// one): what the routes generate, with the refusals every operation shares.
pub fn document() -> utoipa::openapi::OpenApi {
    document_for(openapi::Deployment::default())
}

/// The complete OpenAPI document as a server of `deployment` serves it.
pub fn document_for(deployment: openapi::Deployment<'_>) -> utoipa::openapi::OpenApi {
    let mut api = api_app().split_for_parts().1;
    if let Some(aggregate) = api
        .paths
        .paths
        .get_mut("/aggregate")
        .and_then(|item| item.get.as_mut())
    {
        openapi::parameters::describe(aggregate, deployment.parameters);
    }
    openapi::add_shared_refusals(&mut api, deployment);
    api
}
