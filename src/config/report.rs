//! What `greeter check-config` prints: every setting as a server would start with it and where
//! its value came from, then each upstream with the limits and headers it is called with, as a
//! TOML document keyed as the configuration file is. A secret is never printed: a header's
//! value from the environment or a file, or of a credential's header, shows where it came from
//! and its length instead (`UpstreamHeader::describe`), and the API keys only their count.

use std::fmt::Write;

use crate::config::cli::{Origin, Resolved};
use crate::config::parameters::Rule;
use crate::config::serve::ServeSettings;

/// The resolved settings, as TOML with a comment on each line naming its origin.
pub fn render(settings: &ServeSettings, origins: &[Resolved]) -> String {
    let mut out = String::from(
        "# The settings `greeter serve` would start with (secrets redacted), keyed as a --config \
         file is.\n",
    );
    let config = settings
        .config
        .as_ref()
        .map(|path| path.display().to_string());
    for resolved in origins.iter().filter(|r| r.key != "upstreams") {
        let origin = match &resolved.origin {
            Origin::Default => "default".to_owned(),
            Origin::File(line) => format!("{}:{line}", config.as_deref().unwrap_or("file")),
            Origin::Environment(name) => format!("environment: {name}"),
            Origin::Flag => "command line".to_owned(),
        };
        let _ = match &resolved.values[..] {
            [] => writeln!(out, "# {} is unset ({origin})", resolved.key),
            [one] if resolved.key != "cors_allow_origins" => {
                writeln!(out, "{} = {}  # {origin}", resolved.key, quoted(one))
            }
            many => writeln!(
                out,
                "{} = [{}]  # {origin}",
                resolved.key,
                many.iter()
                    .map(|v| quoted(v))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        };
    }
    if settings.api_keys_env.is_some() {
        out.push_str("# API keys: from the environment variable GREETER_API_KEYS (redacted)\n");
    }
    if settings.upstreams.is_empty() {
        out.push_str("# No upstreams: GET /aggregate calls three simulated sources.\n");
    }
    for upstream in &settings.upstreams {
        let own = |set: bool, flag: &str| {
            if set {
                "its own".to_owned()
            } else {
                format!("from {flag}")
            }
        };
        let _ = writeln!(out, "\n[[upstreams]]");
        let _ = writeln!(out, "name = {}", quoted(&upstream.name));
        let _ = writeln!(out, "url = {}", quoted(&upstream.url.to_string()));
        let _ = writeln!(
            out,
            "timeout = {}  # {}",
            quoted(&humantime::format_duration(settings.timeout_of(upstream)).to_string()),
            own(upstream.timeout.is_some(), "--upstream-timeout")
        );
        let _ = writeln!(
            out,
            "max_connections = {}  # {}",
            settings.max_connections_of(upstream),
            own(
                upstream.max_connections.is_some(),
                "--upstream-max-connections"
            )
        );
        let _ = writeln!(
            out,
            "max_body = {}  # {}",
            quoted(
                &upstream
                    .max_body
                    .unwrap_or(settings.upstream_max_body)
                    .to_string()
            ),
            own(upstream.max_body.is_some(), "--upstream-max-body")
        );
        if let Some(path) = &upstream.ca_file {
            let _ = writeln!(out, "ca_file = {}", quoted(&path.display().to_string()));
        }
        if !upstream.headers.is_empty() {
            let _ = writeln!(out, "[upstreams.headers]");
            for header in &upstream.headers {
                let _ = writeln!(
                    out,
                    "{} = {}",
                    quoted(header.name.as_str()),
                    quoted(&header.describe())
                );
            }
        }
    }
    for parameter in &settings.parameters {
        let _ = writeln!(out, "\n[[parameters]]");
        let _ = writeln!(out, "name = {}", quoted(&parameter.name));
        let _ = match &parameter.rule {
            Rule::String {
                min_length,
                max_length,
                pattern,
            } => {
                let _ = writeln!(out, "type = \"string\"");
                let _ = writeln!(out, "min_length = {min_length}");
                let _ = writeln!(out, "max_length = {max_length}");
                match pattern {
                    Some(pattern) => writeln!(out, "pattern = {}", quoted(pattern.as_str())),
                    None => Ok(()),
                }
            }
            Rule::Integer { minimum, maximum } => {
                let _ = writeln!(out, "type = \"integer\"");
                let _ = minimum.map(|minimum| writeln!(out, "minimum = {minimum}"));
                match maximum {
                    Some(maximum) => writeln!(out, "maximum = {maximum}"),
                    None => Ok(()),
                }
            }
            Rule::Enum { values } => {
                let _ = writeln!(out, "type = \"enum\"");
                let values: Vec<String> = values.iter().map(|v| quoted(v)).collect();
                writeln!(out, "values = [{}]", values.join(", "))
            }
        };
        let _ = match &parameter.default {
            Some(default) => writeln!(out, "default = {}", quoted(default)),
            None => writeln!(out, "required = true"),
        };
    }
    out
}

/// `value` as a TOML basic string (JSON's escapes are TOML's).
fn quoted(value: &str) -> String {
    serde_json::to_string(value).unwrap_or_else(|_| format!("{value:?}"))
}
