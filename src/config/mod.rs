//! Configuration: what the process is told. The command line ([`cli`]) with the configuration
//! file beneath it ([`config_file`]), the settings of a running server with their environment
//! fallbacks and defaults ([`serve`]), the values they take ([`values`], the upstreams of
//! `GET /aggregate` in [`upstream`], the headers they are sent in [`headers`], the parameters that
//! fill their URLs in [`parameters`]), every numeric
//! setting's range ([`bounds`]), the API keys read at start ([`api_keys`]), the files read at
//! start ([`files`]), and what `greeter check-config` prints ([`report`]). It uses nothing else of the
//! crate, so every other layer may read it; the types most code needs are re-exported here.

pub mod api_keys;
pub mod bounds;
pub mod cli;
pub mod config_file;
pub mod files;
pub mod headers;
pub mod parameters;
pub mod report;
pub mod serve;
pub mod upstream;
pub mod values;

pub use cli::{Cli, Command, LoadError};
pub use serve::*;
pub use upstream::{HttpVersion, MAX_UPSTREAMS, Upstream, url_port};
pub use values::{ForwardedHeader, LogFormat, Mount, Rate, TrustedProxies, UrlPath};
