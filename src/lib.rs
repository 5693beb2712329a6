//! greeter: FastAPI's first example rebuilt on actix-web, with its OpenAPI document generated
//! from the same code that registers the routes and an offline Swagger UI at `/docs`.
//!
//! Five layers, each a folder, and the composition root that joins them:
//! - [`config`]: what the process is told: the command line, the settings, their ranges, the
//!   API keys;
//! - [`telemetry`]: what it tells: its log and its metrics;
//! - [`lifecycle`]: signals and shutdown, serving or draining, the open-files limit, the health
//!   check;
//! - [`api`]: what the service offers: routes, domain rules, error shapes, the OpenAPI document
//!   and the docs pages;
//! - [`http`]: what every request passes through on its way to the API: the per-request layer
//!   (its ordered steps) and the 404/405 fallback;
//! - [`startup`]: builds the app from the API and the HTTP layer, and runs the server.
//!
//! Each layer uses only those listed before it (`api` uses no `http`, `config` nothing at all);
//! `tests/api/architecture.rs` states the rules and checks them.
//! `main.rs` only parses the command line and calls into this library; the integration tests
//! drive the same library through [`startup::run`] (or [`startup::app_with`], to add routes) on
//! a real socket.

pub mod api;
pub mod config;
pub mod http;
pub mod lifecycle;
pub mod startup;
pub mod telemetry;
