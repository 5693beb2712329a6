//! greeter: FastAPI's first example rebuilt on actix-web, with its OpenAPI document generated
//! from the same code that registers the routes and an offline Swagger UI at `/docs`.
//!
//! `main.rs` only parses the command line and calls into this library; the integration tests
//! drive the same library through [`startup::run`] (or [`startup::app_with`], to add routes) on
//! a real socket.

pub mod access_log;
pub mod api_doc;
pub mod catch_panic;
pub mod domain;
pub mod errors;
pub mod fallback;
pub mod head_as_get;
pub mod json_body;
pub mod middleware;
pub mod open_files;
pub mod openapi30;
pub mod request_id;
pub mod request_limits;
pub mod routes;
pub mod settings;
pub mod shutdown;
pub mod simulated_io;
pub mod startup;
pub mod telemetry;
pub mod validation;
