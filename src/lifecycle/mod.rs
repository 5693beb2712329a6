//! The lifecycle of the process: its signals and shutdown ([`signals`]), whether it is serving
//! or draining ([`serving`]), its limit on open files, raised at start ([`open_files`]), and the
//! `healthcheck` subcommand that asks a running one whether it is up ([`healthcheck`]), and the
//! memory start-up frees, returned once serving ([`memory`]). It uses
//! the configuration and telemetry (it logs), nothing of the API or the HTTP layer.

pub mod healthcheck;
pub mod memory;
pub mod open_files;
pub mod serving;
pub mod signals;
