//! The program around the server: its settings ([`settings`], the command line with its
//! environment fallbacks), its log ([`logging`]), its signals and shutdown ([`signals`]), whether
//! it is serving or draining ([`serving`]), its metrics ([`metrics`]) and its limit on open
//! files ([`open_files`]), the API keys it accepts ([`api_keys`]), and the `healthcheck`
//! subcommand that asks a running one whether it is up ([`healthcheck`]). Nothing here knows the API or the HTTP layer: the
//! settings depend on nothing of the app, so every other layer may read them.

pub mod api_keys;
pub mod healthcheck;
pub mod logging;
pub mod metrics;
pub mod open_files;
pub mod serving;
pub mod settings;
pub mod signals;
