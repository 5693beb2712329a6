//! greeter: FastAPI's first example rebuilt on actix-web, with its OpenAPI document generated
//! from the same code that registers the routes and an offline Swagger UI at `/docs`.
//!
//! Three layers, each a folder, and the composition root that joins them:
//! - [`api`]: what the service offers: routes, domain rules, error shapes, the OpenAPI document
//!   and the docs pages;
//! - [`http`]: what every request passes through on its way to the API: the per-request layer
//!   (request ids, head limits, `HEAD` as `GET`, panics, access line) and the 404/405 fallback;
//! - [`process`]: the program around the server: settings, logging, signals, the open-files
//!   limit;
//! - [`startup`]: builds the app from the API and the HTTP layer, and runs the server.
//!
//! Dependencies point one way: `main` → [`startup`] → [`http`] → [`api`] → [`process`]'s settings.
//! `main.rs` only parses the command line and calls into this library; the integration tests
//! drive the same library through [`startup::run`] (or [`startup::app_with`], to add routes) on
//! a real socket.

pub mod api;
pub mod http;
pub mod process;
pub mod startup;
