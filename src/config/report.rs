//! What `greeter check-config` prints: every setting as a server would start with it and where
//! its value came from, then each upstream with the limits and headers it is called with, and
//! the parameters, as a TOML document keyed as the configuration file is (and readable as one).
//! A secret is never printed: a header's value from the environment or a file is shown as where
//! it comes from (`{ env = "NAME" }`), a credential's value written in the file only as its
//! length, in a comment; the API keys of `GREETER_API_KEYS` not at all.

use std::fmt::Write;

use crate::config::cli::{Origin, Resolved};
use crate::config::config_file::UPSTREAMS_KEY;
use crate::config::headers::HeaderSource;
use crate::config::parameters::Rule;
use crate::config::serve::ServeSettings;

/// The resolved settings, as TOML with a comment on each line naming its origin.
pub fn render(settings: &ServeSettings, origins: &[Resolved]) -> String {
    let mut out = String::from(
        "# The settings `greeter serve` would start with (secrets redacted), keyed as a \
         --config file is.\n",
    );
    let config = settings
        .config
        .as_ref()
        .map(|path| path.display().to_string());
    if let Some(config) = &config {
        let _ = writeln!(out, "# Configuration file: {}", one_line(config));
    }
    let origin_of = |origin: &Origin| match origin {
        Origin::Default => "default".to_owned(),
        Origin::File(line) => format!("{}:{line}", config.as_deref().unwrap_or("file")),
        Origin::Environment(name) => format!("environment: {name}"),
        Origin::Flag => "command line".to_owned(),
    };
    for resolved in origins.iter().filter(|r| r.key != UPSTREAMS_KEY) {
        let origin = origin_of(&resolved.origin);
        let _ = match &resolved.values[..] {
            [] if resolved.key == "max_connections" => writeln!(
                out,
                "# max_connections is unset ({origin}): at start, 25000 or as many as the \
                 open-files limit allows"
            ),
            [] => writeln!(out, "# {} is unset ({origin})", resolved.key),
            [one] if !resolved.list => {
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
    let upstreams_from = origins
        .iter()
        .find(|r| r.key == UPSTREAMS_KEY)
        .map_or_else(|| "default".to_owned(), |r| origin_of(&r.origin));
    if settings.upstreams.is_empty() {
        out.push_str("# No upstreams: GET /aggregate calls three simulated sources.\n");
    }
    for upstream in &settings.upstreams {
        render_upstream(&mut out, settings, upstream, &upstreams_from);
    }
    for parameter in &settings.parameters {
        let _ = writeln!(out, "\n[[parameters]]");
        let _ = writeln!(out, "name = {}", quoted(&parameter.name));
        if let Some(description) = &parameter.description {
            let _ = writeln!(out, "description = {}", quoted(description));
        }
        match &parameter.rule {
            Rule::String {
                min_length,
                max_length,
                pattern,
            } => {
                let _ = writeln!(out, "type = \"string\"");
                let _ = writeln!(out, "min_length = {min_length}");
                let _ = writeln!(out, "max_length = {max_length}");
                if let Some(pattern) = pattern {
                    let _ = writeln!(out, "pattern = {}", quoted(pattern.as_str()));
                }
            }
            Rule::Integer { minimum, maximum } => {
                let _ = writeln!(out, "type = \"integer\"");
                if let Some(minimum) = minimum {
                    let _ = writeln!(out, "minimum = {minimum}");
                }
                if let Some(maximum) = maximum {
                    let _ = writeln!(out, "maximum = {maximum}");
                }
            }
            Rule::Enum { values } => {
                let _ = writeln!(out, "type = \"enum\"");
                let values: Vec<String> = values.iter().map(|v| quoted(v)).collect();
                let _ = writeln!(out, "values = [{}]", values.join(", "));
            }
        }
        let _ = match &parameter.default {
            Some(default) => writeln!(out, "default = {}", quoted(default)),
            None => writeln!(out, "required = true"),
        };
    }
    out
}

/// One `[[upstreams]]` table: what it is called with, its own settings or the flags'.
fn render_upstream(
    out: &mut String,
    settings: &ServeSettings,
    upstream: &crate::config::Upstream,
    from: &str,
) {
    let own = |set: bool, flag: &str| {
        if set {
            "its own".to_owned()
        } else {
            format!("from {flag}")
        }
    };
    let _ = writeln!(out, "\n[[upstreams]]  # {from}");
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
        "max_body = {}  # bytes, {}",
        settings.max_body_bytes_of(upstream),
        own(upstream.max_body.is_some(), "--upstream-max-body")
    );
    if let Some(path) = &upstream.ca_file {
        let _ = writeln!(out, "ca_file = {}", quoted(&path.display().to_string()));
    }
    let _ = writeln!(out, "http = {}", quoted(upstream.http.as_str()));
    if upstream.headers.is_empty() {
        return;
    }
    let _ = writeln!(out, "[upstreams.headers]");
    for header in &upstream.headers {
        let name = quoted(header.name.as_str());
        let length = header.value.len();
        let _ = match header.source() {
            HeaderSource::Env(variable) => writeln!(
                out,
                "{name} = {{ env = {} }}  # a secret, {length} bytes",
                quoted(variable)
            ),
            HeaderSource::File(path) => writeln!(
                out,
                "{name} = {{ file = {} }}  # a secret, {length} bytes",
                quoted(&path.display().to_string())
            ),
            HeaderSource::Literal(_) if header.is_secret() => writeln!(
                out,
                "# {name} = <a credential written in the file, {length} bytes, redacted>"
            ),
            HeaderSource::Literal(text) => writeln!(out, "{name} = {}", quoted(text)),
        };
    }
}

/// `value` as a TOML basic string: `"` and `\` escaped, and every control character.
fn quoted(value: &str) -> String {
    let mut quoted = String::with_capacity(value.len() + 2);
    quoted.push('"');
    for c in value.chars() {
        match c {
            '"' => quoted.push_str("\\\""),
            '\\' => quoted.push_str("\\\\"),
            '\n' => quoted.push_str("\\n"),
            '\t' => quoted.push_str("\\t"),
            '\r' => quoted.push_str("\\r"),
            c if c.is_control() => {
                let _ = write!(quoted, "\\u{:04X}", u32::from(c));
            }
            c => quoted.push(c),
        }
    }
    quoted.push('"');
    quoted
}

/// `text` on one line, for a comment.
fn one_line(text: &str) -> String {
    crate::config::config_file::one_line(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_are_quoted_as_toml_reads_them() {
        assert_eq!(quoted("a\"b\\c\nd\u{7f}é"), "\"a\\\"b\\\\c\\nd\\u007Fé\"");
    }
}
