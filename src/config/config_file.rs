//! The configuration file (`--config FILE`, `GREETER_CONFIG`): TOML, for what flags cannot say
//! well. Its top-level keys are the server's settings, named as their flags are with `_` for
//! `-` (`upstream_timeout = "5s"` is `--upstream-timeout 5s`); its `[[upstreams]]` tables name
//! each upstream with its own limits, CA file and headers (`config/greeter.example.toml`).
//!
//! figment layers the sources: the file, then the flags and environment variables that were
//! given, which override it (`--upstream` or `GREETER_UPSTREAMS` replaces the file's upstreams);
//! clap then reads the result, so a value from the file passes the same parser, with the same
//! bounds, as the flag. Unknown keys are refused, and every error is one line naming the file,
//! the line and the key.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Format, Serialized, Toml};
use figment::value::Value;
use serde::{Deserialize, Serialize};

use crate::config::bounds::{self, non_zero};
use crate::config::files::read_text_file;
use crate::config::headers::{MAX_HEADERS, UpstreamHeader, ValueSource};
use crate::config::parameters::{Declaration, Parameter};
use crate::config::upstream::{MAX_UPSTREAMS, Upstream};

/// The largest configuration file read.
pub const MAX_CONFIG_FILE_BYTES: u64 = 1 << 20;

/// The settings the file cannot set as top-level keys: the file itself, the upstreams
/// (`[[upstreams]]` tables instead) and the parameters (`[[parameters]]`).
pub const NOT_IN_THE_FILE: [&str; 3] = ["config", "upstreams", "parameters"];

/// A configuration file's settings, layered under the flags and environment variables given.
#[derive(Debug)]
pub struct Layered {
    /// Every setting's values by its id (a flag's long name with `_` for `-`): the file's,
    /// replaced by those given as flags or in the environment.
    pub settings: BTreeMap<String, Vec<String>>,
    /// The upstreams: the file's, unless `--upstream` or `GREETER_UPSTREAMS` was given.
    pub upstreams: Vec<Upstream>,
    /// The parameters of `GET /aggregate`.
    pub parameters: Vec<Parameter>,
    /// Which settings came from the file, with its line, to name it in an error.
    pub from_file: BTreeMap<String, usize>,
}

/// What the file holds, as figment reads it.
#[derive(Debug, Deserialize, Serialize)]
struct Shape {
    #[serde(default)]
    upstreams: Vec<UpstreamTable>,
    #[serde(default)]
    parameters: Vec<Declaration>,
    #[serde(flatten)]
    settings: BTreeMap<String, Value>,
}

/// An `[[upstreams]]` table.
#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct UpstreamTable {
    name: String,
    url: String,
    timeout: Option<String>,
    max_connections: Option<u64>,
    max_body: Option<Value>,
    ca_file: Option<PathBuf>,
    #[serde(default)]
    headers: BTreeMap<String, HeaderTable>,
}

/// A header's value: written as it is, or `{ env = "NAME" }`, or `{ file = "PATH" }`.
#[derive(Debug, Deserialize, Serialize)]
#[serde(untagged)]
enum HeaderTable {
    Literal(String),
    From(FromTable),
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct FromTable {
    env: Option<String>,
    file: Option<PathBuf>,
}

/// A place in the file, for an error: a key, or an index in an array.
enum Step<'a> {
    Key(&'a str),
    Index(usize),
}

/// The file, read and parsed, to name lines in errors.
struct Source {
    path: PathBuf,
    text: String,
    document: toml_edit::ImDocument<String>,
}

impl Source {
    fn read(path: &Path) -> Result<Self, String> {
        let text = read_text_file(path, MAX_CONFIG_FILE_BYTES)
            .map_err(|why| format!("{}: {why}", path.display()))?;
        let document = toml_edit::ImDocument::parse(text.clone()).map_err(|error| {
            let line = error.span().map_or(1, |span| line_at(&text, span.start));
            let message = error.message().lines().next().unwrap_or("not TOML").trim();
            format!("{}:{line}: {message}", path.display())
        })?;
        Ok(Self {
            path: path.to_owned(),
            text,
            document,
        })
    }

    /// The line of the key at `path`, or of the nearest table holding it.
    fn line_of(&self, path: &[Step<'_>]) -> usize {
        let mut table: &dyn toml_edit::TableLike = self.document.as_table();
        let mut tables = None;
        let mut line = 1;
        let mut at = |span: Option<std::ops::Range<usize>>| {
            if let Some(span) = span {
                line = line_at(&self.text, span.start);
            }
        };
        for step in path {
            match step {
                Step::Key(key) => {
                    let Some((key, item)) = table.get_key_value(key) else {
                        break;
                    };
                    at(key.span().or_else(|| item.span()));
                    match item {
                        toml_edit::Item::ArrayOfTables(array) => tables = Some(array),
                        item => match item.as_table_like() {
                            Some(inner) => table = inner,
                            None => break,
                        },
                    }
                }
                Step::Index(index) => {
                    let Some(inner) = tables.and_then(|array| array.get(*index)) else {
                        break;
                    };
                    at(inner.span());
                    table = inner;
                }
            }
        }
        line
    }

    /// `file:line: key: why`.
    fn error(&self, path: &[Step<'_>], why: impl std::fmt::Display) -> String {
        let key = path
            .iter()
            .map(|step| match step {
                Step::Key(key) => format!(".{key}"),
                Step::Index(index) => format!("[{index}]"),
            })
            .collect::<String>();
        format!(
            "{}:{}: {}: {why}",
            self.path.display(),
            self.line_of(path),
            key.trim_start_matches('.')
        )
    }
}

fn line_at(text: &str, offset: usize) -> usize {
    text.as_bytes()[..offset.min(text.len())]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

/// Reads the file at `path` and layers `given` over it: the values of the settings given as
/// flags or in the environment, by id. `known` are the ids a file may set.
pub fn layer(
    path: &Path,
    given: BTreeMap<String, Vec<String>>,
    known: &[&str],
) -> Result<Layered, String> {
    let source = Source::read(path)?;
    let file: Shape = Figment::from(Toml::string(&source.text))
        .extract()
        .map_err(|error| figment_error(&source, &error))?;
    for (key, value) in &file.settings {
        if !known.contains(&key.as_str()) {
            let hint = if key.contains('-') {
                format!(" (keys use _ where flags use -: {})", key.replace('-', "_"))
            } else if key == "upstream" {
                " (upstreams are [[upstreams]] tables)".to_owned()
            } else if key == "parameter" {
                " (parameters are [[parameters]] tables)".to_owned()
            } else {
                String::new()
            };
            return Err(source.error(&[Step::Key(key)], format!("unknown setting{hint}")));
        }
        values_of(value).map_err(|why| source.error(&[Step::Key(key)], why))?;
    }
    let from_file = file
        .settings
        .keys()
        .filter(|key| !given.contains_key(*key))
        .map(|key| (key.clone(), source.line_of(&[Step::Key(key)])))
        .collect();

    // The flags and environment given, over the file.
    let mut over = BTreeMap::new();
    for (key, values) in &given {
        if key == "upstreams" {
            let tables: Vec<_> = values
                .iter()
                .map(|value| {
                    let (name, url) = value.split_once('=').unwrap_or((value, ""));
                    BTreeMap::from([("name", name), ("url", url)])
                })
                .collect();
            over.insert(
                key.clone(),
                Value::serialize(tables).map_err(|e| e.to_string())?,
            );
        } else {
            over.insert(key.clone(), Value::from(values.clone()));
        }
    }
    let upstreams_given = given.contains_key("upstreams");
    let layered: Shape = Figment::from(Toml::string(&source.text))
        .merge(Serialized::globals(over))
        .extract()
        .map_err(|error| figment_error(&source, &error))?;
    let settings = layered
        .settings
        .iter()
        .map(|(key, value)| Ok((key.clone(), values_of(value)?)))
        .collect::<Result<_, String>>()?;
    if layered.upstreams.len() > MAX_UPSTREAMS && !upstreams_given {
        return Err(source.error(
            &[Step::Key("upstreams")],
            format!(
                "{} upstreams: at most {MAX_UPSTREAMS}",
                layered.upstreams.len()
            ),
        ));
    }
    let upstreams = layered
        .upstreams
        .into_iter()
        .enumerate()
        .map(|(index, table)| {
            upstream(table).map_err(|(keys, why)| {
                let mut path = vec![Step::Key("upstreams"), Step::Index(index)];
                path.extend(keys.iter().map(|key| Step::Key(key)));
                source.error(&path, why)
            })
        })
        .collect::<Result<_, _>>()?;
    let parameters = layered
        .parameters
        .into_iter()
        .enumerate()
        .map(|(index, table)| {
            Parameter::declare(table).map_err(|(key, why)| {
                let path = [Step::Key("parameters"), Step::Index(index), Step::Key(key)];
                source.error(&path, why)
            })
        })
        .collect::<Result<_, _>>()?;
    Ok(Layered {
        settings,
        upstreams,
        parameters,
        from_file,
    })
}

/// A setting's values: a string, a number or a boolean, or an array of them.
fn values_of(value: &Value) -> Result<Vec<String>, String> {
    let scalar = |value: &Value| match value {
        Value::String(_, text) => Ok(text.clone()),
        Value::Num(_, number) => Ok(match number.to_i128() {
            Some(whole) => whole.to_string(),
            None => number
                .to_f64()
                .map_or_else(String::new, |float| float.to_string()),
        }),
        Value::Bool(_, flag) => Ok(flag.to_string()),
        _ => Err("expected a string, a number or a list of them".to_owned()),
    };
    match value {
        Value::Array(_, values) => values.iter().map(scalar).collect(),
        value => Ok(vec![scalar(value)?]),
    }
}

/// One `[[upstreams]]` table as an [`Upstream`]; the error names the key at fault.
fn upstream(table: UpstreamTable) -> Result<Upstream, (Vec<String>, String)> {
    let key = |key: &str| vec![key.to_owned()];
    let mut upstream =
        Upstream::parse(&format!("{}={}", table.name, table.url)).map_err(|why| {
            let at = if why.starts_with("the name") {
                "name"
            } else {
                "url"
            };
            (key(at), why)
        })?;
    if let Some(timeout) = &table.timeout {
        let timeout = bounds::of("--upstream-timeout")
            .duration(timeout)
            .map_err(|why| (key("timeout"), why))?;
        upstream.timeout = Some(timeout.into());
    }
    if let Some(count) = table.max_connections {
        let count = bounds::of("--upstream-max-connections")
            .count(&count.to_string())
            .map_err(|why| (key("max_connections"), why))?;
        upstream.max_connections = Some(non_zero(count));
    }
    if let Some(size) = &table.max_body {
        let size = values_of(size)
            .ok()
            .and_then(|mut values| values.pop().filter(|_| values.is_empty()))
            .ok_or((
                key("max_body"),
                "expected a size such as \"1MiB\"".to_owned(),
            ))?;
        let size = bounds::of("--upstream-max-body")
            .size(&size)
            .map_err(|why| (key("max_body"), why))?;
        upstream.max_body = Some(size);
    }
    if table.ca_file.is_some() && !upstream.is_https() {
        return Err((
            key("ca_file"),
            "the upstream is called over http://, without TLS: a CA file would go unused"
                .to_owned(),
        ));
    }
    upstream.ca_file = table.ca_file;
    if table.headers.len() > MAX_HEADERS {
        return Err((key("headers"), format!("at most {MAX_HEADERS} headers")));
    }
    for (name, value) in table.headers {
        let at = vec!["headers".to_owned(), name.clone()];
        let source = match value {
            HeaderTable::Literal(text) => ValueSource::Literal(text),
            HeaderTable::From(FromTable {
                env: Some(variable),
                file: None,
            }) => ValueSource::Env(variable),
            HeaderTable::From(FromTable {
                env: None,
                file: Some(path),
            }) => ValueSource::File(path),
            HeaderTable::From(_) => {
                return Err((
                    at,
                    "give exactly one of env = \"NAME\" or file = \"PATH\"".to_owned(),
                ));
            }
        };
        let header = UpstreamHeader::resolve(&name, source).map_err(|why| (at.clone(), why))?;
        if upstream.headers.iter().any(|h| h.name == header.name) {
            return Err((at, format!("{} is given twice", header.name)));
        }
        upstream.headers.push(header);
    }
    Ok(upstream)
}

/// A figment error as one line naming the file, the line and the key.
fn figment_error(source: &Source, error: &figment::Error) -> String {
    let mut path: Vec<Step<'_>> = error
        .path
        .iter()
        .map(|key| match key.parse() {
            Ok(index) => Step::Index(index),
            Err(_) => Step::Key(key),
        })
        .collect();
    let why = match &error.kind {
        figment::error::Kind::UnknownField(field, expected) => {
            if error.path.last() != Some(field) {
                path.push(Step::Key(field));
            }
            format!("unknown key; expected one of {}", expected.join(", "))
        }
        figment::error::Kind::MissingField(field) => format!("the key {field} is missing"),
        figment::error::Kind::Message(message) if message.contains("untagged enum") => {
            "expected a string, { env = \"NAME\" } or { file = \"PATH\" }".to_owned()
        }
        kind => kind.to_string(),
    };
    source.error(&path, why)
}

#[cfg(test)]
mod tests {
    use super::*;

    const KNOWN: [&str; 4] = ["port", "upstream_timeout", "cors_allow_origins", "io_delay"];

    fn file(text: &str) -> (PathBuf, impl Drop) {
        struct Remove(PathBuf);
        impl Drop for Remove {
            fn drop(&mut self) {
                let _ = std::fs::remove_file(&self.0);
            }
        }
        let path = std::env::temp_dir().join(format!(
            "greeter-config-{}-{}.toml",
            std::process::id(),
            fastrand::u64(..)
        ));
        std::fs::write(&path, text).unwrap();
        (path.clone(), Remove(path))
    }

    fn given(pairs: &[(&str, &[&str])]) -> BTreeMap<String, Vec<String>> {
        pairs
            .iter()
            .map(|(key, values)| {
                (
                    key.to_string(),
                    values.iter().map(|v| v.to_string()).collect(),
                )
            })
            .collect()
    }

    #[test]
    fn the_file_is_layered_under_what_was_given() {
        let (path, _remove) = file(
            "port = 9000\nio_delay = \"2s\"\ncors_allow_origins = [\"https://a.example\", \
             \"https://b.example\"]\n\n[[upstreams]]\nname = \"billing\"\nurl = \
             \"https://billing.example/v1\"\ntimeout = \"3s\"\nmax_connections = 8\nmax_body = \
             \"2MiB\"\nheaders = { Accept = \"application/json\" }\n",
        );
        let layered = layer(&path, given(&[("port", &["9100"])]), &KNOWN).unwrap();
        assert_eq!(layered.settings["port"], ["9100"], "the flag wins");
        assert_eq!(layered.settings["io_delay"], ["2s"]);
        assert_eq!(
            layered.settings["cors_allow_origins"],
            ["https://a.example", "https://b.example"]
        );
        assert_eq!(
            layered.from_file,
            BTreeMap::from([("cors_allow_origins".into(), 3), ("io_delay".into(), 2)])
        );
        let [billing] = &layered.upstreams[..] else {
            panic!("{:?}", layered.upstreams)
        };
        assert_eq!(billing.name, "billing");
        assert_eq!(billing.timeout, Some(std::time::Duration::from_secs(3)));
        assert_eq!(billing.max_connections.map(|n| n.get()), Some(8));
        assert_eq!(billing.max_body, Some(bytesize::ByteSize::mib(2)));
        assert_eq!(billing.headers[0].name, "accept");

        let replaced = layer(
            &path,
            given(&[("upstreams", &["users=http://127.0.0.1:9/u"])]),
            &KNOWN,
        )
        .unwrap();
        assert_eq!(replaced.upstreams.len(), 1);
        assert_eq!(replaced.upstreams[0].name, "users");
        assert!(replaced.upstreams[0].headers.is_empty());
    }

    #[test]
    fn every_error_names_the_file_the_line_and_the_key() {
        for (text, line, says) in [
            ("port = 1\nport = 2\n", 2, "duplicate key"),
            ("port = \n", 1, ""),
            ("prot = 1\n", 1, "prot: unknown setting"),
            (
                "io-delay = \"1s\"\n",
                1,
                "io-delay: unknown setting (keys use _",
            ),
            (
                "upstream = \"a=http://x\"\n",
                1,
                "upstream: unknown setting (upstreams are",
            ),
            (
                "\n\nconfig = \"other.toml\"\n",
                3,
                "config: unknown setting",
            ),
            ("port = { a = 1 }\n", 1, "port: expected a string, a number"),
            (
                "[[upstreams]]\nname = \"a\"\nurl = \"http://x\"\ntimeot = \"1s\"\n",
                4,
                "upstreams[0].timeot: unknown key; expected one of name, url",
            ),
            (
                "[[upstreams]]\nname = \"a\"\n",
                1,
                "upstreams[0]: the key url is missing",
            ),
            (
                "[[upstreams]]\nname = \"a\"\nurl = \"http://x\"\n[[upstreams]]\nname = \"B\"\n\
                 url = \"http://y\"\n",
                5,
                "upstreams[1].name: the name \"B\" must be",
            ),
            (
                "[[upstreams]]\nname = \"a\"\nurl = \"ftp://x\"\n",
                3,
                "upstreams[0].url: ftp://x/ is not an absolute",
            ),
            (
                "[[upstreams]]\nname = \"a\"\nurl = \"http://x\"\n\ntimeout = \"2h\"\n",
                5,
                "upstreams[0].timeout: must be from 1ms to 1h",
            ),
            (
                "[[upstreams]]\nname = \"a\"\nurl = \"http://x\"\nmax_connections = 0\n",
                4,
                "upstreams[0].max_connections:",
            ),
            (
                "[[upstreams]]\nname = \"a\"\nurl = \"http://x\"\nmax_body = \"lots\"\n",
                4,
                "upstreams[0].max_body:",
            ),
            (
                "[[upstreams]]\nname = \"a\"\nurl = \"http://x\"\n[upstreams.headers]\n\
                 X-Key = { env = \"A\", file = \"/b\" }\n",
                5,
                "upstreams[0].headers.X-Key: give exactly one of",
            ),
            (
                "[[upstreams]]\nname = \"a\"\nurl = \"http://x\"\n[upstreams.headers]\n\
                 X-Key = 3\n",
                5,
                "upstreams[0].headers.X-Key: expected a string, { env",
            ),
            (
                "[[upstreams]]\nname = \"a\"\nurl = \"http://x\"\nheaders.Host = \"h\"\n",
                4,
                "upstreams[0].headers.Host: host is set by greeter",
            ),
        ] {
            let (path, _remove) = file(text);
            let error = layer(&path, BTreeMap::new(), &KNOWN).unwrap_err();
            let prefix = format!("{}:{line}: ", path.display());
            assert!(error.starts_with(&prefix), "{text:?}: {error}");
            assert!(error.contains(says), "{text:?}: {error}");
            assert!(!error.contains('\n'), "{text:?}: {error}");
        }
    }

    #[test]
    fn a_file_that_is_not_one_is_named() {
        let error = layer(Path::new("/nonexistent.toml"), BTreeMap::new(), &KNOWN).unwrap_err();
        assert!(
            error.starts_with("/nonexistent.toml: cannot read it"),
            "{error}"
        );
        let error = layer(Path::new("/dev/zero"), BTreeMap::new(), &KNOWN).unwrap_err();
        assert_eq!(error, "/dev/zero: is not a regular file");
    }
}
