//! Integration tests: the app on a real socket, spoken to over real HTTP, and the `greeter` binary
//! run as a real process. One test binary, so everything compiles and links once.

mod access_log;
mod aggregate;
mod api_keys;
mod architecture;
mod browser;
mod cli;
mod clients;
mod concurrency;
mod conformance;
mod container;
mod cors;
mod deploy_files;
mod docs;
mod docs_delivery;
mod errors;
mod greeting;
mod greetings;
mod headers;
mod health;
mod hello;
mod helpers;
mod hostile;
mod limits;
mod load_balancer;
mod metrics;
mod name_property;
mod openapi;
mod openapi30_check;
mod rate_limit;
mod resilience;
mod routing;
mod shutdown;
mod socket_activation;
mod spec_lint;
mod truthful;
