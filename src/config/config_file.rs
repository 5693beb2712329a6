//! The configuration file (`--config FILE`, `GREETER_CONFIG`): TOML, for what flags cannot say
//! well. Its top-level keys are the server's settings, named as their flags are with `_` for
//! `-` (`upstream_timeout = "5s"` is `--upstream-timeout 5s`); its `[[upstreams]]` tables name
//! each upstream with its own limits, CA file and headers, its `[[parameters]]` tables the
//! parameters of `GET /aggregate` (`deploy/config/greeter.toml` shows every key).
//!
//! figment layers the sources: the file, then the flags and environment variables that were
//! given, which override it (`--upstream` or `GREETER_UPSTREAMS` replaces the file's upstreams);
//! clap then reads the result, so a value from the file passes the same parser, with the same
//! bounds, as the flag. Unknown keys are refused, and every error is one line naming the file,
//! the line and the key, never a value (a value may be a secret). A relative path in the file
//! (`ca_file`, a header's `file`) is relative to the file's folder.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Format, Serialized, Toml};
use figment::value::Value;
use serde::{Deserialize, Serialize};

use crate::config::bounds::{self, non_zero};
use crate::config::files::{read_regular_file, read_text_file};
use crate::config::headers::{HeaderSource, MAX_HEADERS, UpstreamHeader};
use crate::config::parameters::{Declaration, Parameter};
use crate::config::upstream::{HttpVersion, MAX_CA_FILE_BYTES, MAX_UPSTREAMS, Upstream};

/// The largest configuration file read.
pub const MAX_CONFIG_FILE_BYTES: u64 = 1 << 20;

/// The key of `--upstream`, whose values the file gives as `[[upstreams]]` tables instead.
pub const UPSTREAMS_KEY: &str = "upstream";

/// A setting the file may give at its top level.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SettingKey<'a> {
    /// The flag's long name with `_` for `-`.
    pub key: &'a str,
    /// Whether it takes a list (a repeatable flag).
    pub list: bool,
}

/// A configuration file's settings, layered under the flags and environment variables given.
#[derive(Debug)]
pub struct Layered {
    /// Every setting's values by its key: the file's, replaced by those given as flags or in
    /// the environment.
    pub settings: BTreeMap<String, Vec<String>>,
    /// The upstreams: the file's, unless `--upstream` or `GREETER_UPSTREAMS` was given.
    pub upstreams: Vec<Upstream>,
    /// The parameters of `GET /aggregate`.
    pub parameters: Vec<Parameter>,
    /// The settings the file gave (and nothing given overrode), with their line; the
    /// upstreams, when they are the file's, under [`UPSTREAMS_KEY`].
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

/// An `[[upstreams]]` table. Its numbers and sizes are read as the flags read them, written as
/// strings or as numbers alike.
#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct UpstreamTable {
    name: String,
    url: String,
    timeout: Option<Value>,
    max_connections: Option<Value>,
    max_body: Option<Value>,
    ca_file: Option<PathBuf>,
    http: Option<String>,
    #[serde(default)]
    headers: BTreeMap<String, Value>,
}

/// A place in the file, for an error: a key, or an index in an array of tables.
enum Step<'a> {
    Key(&'a str),
    Index(usize),
}

/// The file's text, parsed with the place of every key, to name lines in errors.
struct FileText {
    path: PathBuf,
    text: String,
    document: toml_edit::ImDocument<String>,
}

impl FileText {
    fn read(path: &Path) -> Result<Self, String> {
        let text = read_text_file(path, MAX_CONFIG_FILE_BYTES)
            .map_err(|why| one_line(&format!("{}: {why}", path.display())))?;
        let document = toml_edit::ImDocument::parse(text.clone()).map_err(|error| {
            let line = error.span().map_or(1, |span| line_at(&text, span.start));
            let message = error.message().lines().next().unwrap_or("not TOML").trim();
            one_line(&format!("{}:{line}: {message}", path.display()))
        })?;
        Ok(Self {
            path: path.to_owned(),
            text,
            document,
        })
    }

    /// `path` as the file means it: relative to the file's folder.
    fn resolve(&self, path: &Path) -> PathBuf {
        match self.path.parent() {
            Some(folder) if path.is_relative() => folder.join(path),
            _ => path.to_owned(),
        }
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

    /// `file:line: key: why`, on one line.
    fn error(&self, path: &[Step<'_>], why: impl std::fmt::Display) -> String {
        let key = path
            .iter()
            .map(|step| match step {
                Step::Key(key) => format!(".{key}"),
                Step::Index(index) => format!("[{index}]"),
            })
            .collect::<String>();
        one_line(&format!(
            "{}:{}: {}: {why}",
            self.path.display(),
            self.line_of(path),
            key.trim_start_matches('.')
        ))
    }
}

fn line_at(text: &str, offset: usize) -> usize {
    text.as_bytes()[..offset.min(text.len())]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

/// `text` with its control characters escaped (`\n`, `\u{7f}`), so that an error is one line
/// whatever a key, a path or a name holds.
pub fn one_line(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_control() {
                c.escape_debug().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

/// Reads the file at `path` and layers `given` over it: the values of the settings given as
/// flags or in the environment, by key (`--upstream`'s under [`UPSTREAMS_KEY`]). `known` are
/// the settings a file may give at its top level.
pub fn layer(
    path: &Path,
    given: &BTreeMap<String, Vec<String>>,
    known: &[SettingKey<'_>],
) -> Result<Layered, String> {
    let file = FileText::read(path)?;
    let mut over = BTreeMap::new();
    for (key, values) in given {
        if key == UPSTREAMS_KEY {
            let tables: Vec<_> = values
                .iter()
                .map(|value| {
                    let (name, url) = value.split_once('=').unwrap_or((value, ""));
                    BTreeMap::from([("name", name), ("url", url)])
                })
                .collect();
            let tables = Value::serialize(tables).map_err(|error| error.to_string())?;
            over.insert("upstreams".to_owned(), tables);
        } else {
            over.insert(key.clone(), Value::from(values.clone()));
        }
    }
    let layered: Shape = Figment::from(Toml::string(&file.text))
        .merge(Serialized::globals(over))
        .extract()
        .map_err(|error| figment_error(&file, &error))?;

    // What is not given comes from the file: its keys are checked here.
    let mut settings = BTreeMap::new();
    for (key, value) in &layered.settings {
        let at = [Step::Key(key)];
        let Some(setting) = known.iter().find(|setting| setting.key == key) else {
            return Err(file.error(&at, unknown_setting(key, known)));
        };
        let values = values_of(value).map_err(|why| file.error(&at, why))?;
        if values.len() != 1 && !setting.list {
            return Err(file.error(&at, "expected one value, not a list"));
        }
        settings.insert(key.clone(), values);
    }
    let mut from_file: BTreeMap<String, usize> = settings
        .keys()
        .filter(|key| !given.contains_key(*key))
        .map(|key| (key.clone(), file.line_of(&[Step::Key(key)])))
        .collect();

    let upstreams_given = given.contains_key(UPSTREAMS_KEY);
    if !upstreams_given && !layered.upstreams.is_empty() {
        from_file.insert(
            UPSTREAMS_KEY.to_owned(),
            file.line_of(&[Step::Key("upstreams")]),
        );
        if layered.upstreams.len() > MAX_UPSTREAMS {
            return Err(file.error(
                &[Step::Key("upstreams")],
                format!(
                    "{} upstreams: at most {MAX_UPSTREAMS}",
                    layered.upstreams.len()
                ),
            ));
        }
    }
    let mut upstreams: Vec<Upstream> = Vec::with_capacity(layered.upstreams.len());
    for (index, table) in layered.upstreams.into_iter().enumerate() {
        fn at<'a>(index: usize, keys: &[&'a str]) -> Vec<Step<'a>> {
            let mut path = vec![Step::Key("upstreams"), Step::Index(index)];
            path.extend(keys.iter().map(|key| Step::Key(key)));
            path
        }
        let upstream = upstream(table, &file).map_err(|(keys, why)| {
            let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
            file.error(&at(index, &keys), why)
        })?;
        if upstreams.iter().any(|u| u.name == upstream.name) {
            return Err(file.error(
                &at(index, &["name"]),
                format!("the name {} is given twice", upstream.name),
            ));
        }
        upstreams.push(upstream);
    }
    let parameters = layered
        .parameters
        .into_iter()
        .enumerate()
        .map(|(index, table)| {
            Parameter::declare(table).map_err(|(key, why)| {
                let path = [Step::Key("parameters"), Step::Index(index), Step::Key(key)];
                file.error(&path, why)
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

/// Why `key` is no setting, with a hint when it resembles one.
fn unknown_setting(key: &str, known: &[SettingKey<'_>]) -> String {
    let underscored = key.replace('-', "_");
    let hint = if key == "upstream" {
        " (upstreams are [[upstreams]] tables)".to_owned()
    } else if key == "parameter" {
        " (parameters are [[parameters]] tables)".to_owned()
    } else if underscored != key && known.iter().any(|s| s.key == underscored) {
        format!(" (keys use _ where flags use -: {underscored})")
    } else {
        String::new()
    };
    format!("unknown setting{hint}")
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

/// One value, as a flag takes it: a string or a number.
fn one_value(value: &Value) -> Result<String, String> {
    match values_of(value)?.as_slice() {
        [one] => Ok(one.clone()),
        _ => Err("expected one value, not a list".to_owned()),
    }
}

/// One `[[upstreams]]` table as an [`Upstream`]; the error names the keys of the value at
/// fault.
fn upstream(table: UpstreamTable, file: &FileText) -> Result<Upstream, (Vec<String>, String)> {
    let key = |key: &str| vec![key.to_owned()];
    Upstream::check_name(&table.name).map_err(|why| (key("name"), why))?;
    let mut upstream = Upstream::parse(&format!("{}={}", table.name, table.url))
        .map_err(|why| (key("url"), why))?;
    if let Some(timeout) = &table.timeout {
        let timeout = one_value(timeout)
            .and_then(|text| bounds::of("--upstream-timeout").duration(&text))
            .map_err(|why| (key("timeout"), why))?;
        upstream.timeout = Some(timeout.into());
    }
    if let Some(count) = &table.max_connections {
        let count = one_value(count)
            .and_then(|text| bounds::of("--upstream-max-connections").count(&text))
            .map_err(|why| (key("max_connections"), why))?;
        upstream.max_connections = Some(non_zero(count));
    }
    if let Some(size) = &table.max_body {
        let size = one_value(size)
            .and_then(|text| bounds::of("--upstream-max-body").size(&text))
            .map_err(|why| (key("max_body"), why))?;
        upstream.max_body = Some(size);
    }
    if let Some(path) = table.ca_file {
        if !upstream.is_https() {
            return Err((
                key("ca_file"),
                "the upstream is called over http://, without TLS: a CA file would go unused"
                    .to_owned(),
            ));
        }
        let path = file.resolve(&path);
        // Read at start with the TLS set-up; a file that cannot be read is named here.
        read_regular_file(&path, MAX_CA_FILE_BYTES)
            .map_err(|why| (key("ca_file"), format!("{}: {why}", path.display())))?;
        upstream.ca_file = Some(path);
    }
    if let Some(version) = &table.http {
        upstream.http = HttpVersion::parse(version).map_err(|why| (key("http"), why))?;
    }
    if table.headers.len() > MAX_HEADERS {
        return Err((key("headers"), format!("at most {MAX_HEADERS} headers")));
    }
    for (name, value) in table.headers {
        let at = vec!["headers".to_owned(), name.clone()];
        let source = header_source(&value, file).map_err(|why| (at.clone(), why))?;
        let header = UpstreamHeader::resolve(&name, source).map_err(|why| (at.clone(), why))?;
        if upstream.headers.iter().any(|h| h.name == header.name) {
            return Err((at, format!("{} is given twice", header.name)));
        }
        upstream.headers.push(header);
    }
    Ok(upstream)
}

/// A header's value as the file writes it: a string, `{ env = "NAME" }` or
/// `{ file = "PATH" }`.
fn header_source(value: &Value, file: &FileText) -> Result<HeaderSource, String> {
    const EXPECTED: &str = "expected a string, { env = \"NAME\" } or { file = \"PATH\" }";
    match value {
        Value::String(_, text) => Ok(HeaderSource::Literal(text.clone())),
        Value::Dict(_, table) => {
            let text = |key: &str| match table.get(key) {
                Some(Value::String(_, text)) => Ok(Some(text.clone())),
                Some(_) => Err(format!("{key} is a string")),
                None => Ok(None),
            };
            let unknown = table
                .keys()
                .find(|key| !matches!(key.as_str(), "env" | "file"));
            match (text("env")?, text("file")?, unknown) {
                (Some(variable), None, None) => Ok(HeaderSource::Env(variable)),
                (None, Some(path), None) => Ok(HeaderSource::File(file.resolve(Path::new(&path)))),
                _ => Err(format!("{EXPECTED}: exactly one of env or file")),
            }
        }
        _ => Err(EXPECTED.to_owned()),
    }
}

/// A figment error as one line naming the file, the line and the key, and never the value
/// (which may be a secret).
fn figment_error(file: &FileText, error: &figment::Error) -> String {
    use figment::error::Kind;
    let mut path: Vec<Step<'_>> = Vec::new();
    for (index, key) in error.path.iter().enumerate() {
        let in_array =
            index > 0 && matches!(error.path[index - 1].as_str(), "upstreams" | "parameters");
        match key.parse() {
            Ok(position) if in_array => path.push(Step::Index(position)),
            _ => path.push(Step::Key(key)),
        }
    }
    let why = match &error.kind {
        Kind::UnknownField(field, expected) => {
            if error.path.last() != Some(field) {
                path.push(Step::Key(field));
            }
            format!("unknown key; expected one of {}", expected.join(", "))
        }
        Kind::MissingField(field) => format!("the key {field} is missing"),
        Kind::InvalidType(actual, expected) => {
            format!("expected {expected}, found {}", type_of(actual))
        }
        Kind::InvalidValue(actual, expected) => {
            format!("expected {expected}, found another {}", type_of(actual))
        }
        Kind::InvalidLength(length, expected) => format!("{length} items; expected {expected}"),
        Kind::UnknownVariant(_, expected) => {
            format!("expected one of {}", expected.join(", "))
        }
        Kind::DuplicateField(field) => format!("{field} is given twice"),
        Kind::Message(message) => message.clone(),
        kind => kind.to_string(),
    };
    file.error(&path, why)
}

/// What kind of value `actual` is, without the value.
fn type_of(actual: &figment::error::Actual) -> &'static str {
    use figment::error::Actual;
    match actual {
        Actual::Bool(_) => "a boolean",
        Actual::Unsigned(_) | Actual::Signed(_) | Actual::Float(_) => "a number",
        Actual::Char(_) | Actual::Str(_) => "a string",
        Actual::Seq => "a list",
        Actual::Map => "a table",
        _ => "another kind of value",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KNOWN: [SettingKey<'static>; 4] = [
        SettingKey {
            key: "port",
            list: false,
        },
        SettingKey {
            key: "upstream_timeout",
            list: false,
        },
        SettingKey {
            key: "cors_allow_origin",
            list: true,
        },
        SettingKey {
            key: "io_delay",
            list: false,
        },
    ];

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
            "port = 9000\nio_delay = \"2s\"\ncors_allow_origin = [\"https://a.example\", \
             \"https://b.example\"]\n\n[[upstreams]]\nname = \"billing\"\nurl = \
             \"https://billing.example/v1\"\ntimeout = \"3s\"\nmax_connections = 8\nmax_body = \
             \"2MiB\"\nhttp = \"2\"\nheaders = { Accept = \"application/json\" }\n",
        );
        let layered = layer(&path, &given(&[("port", &["9100"])]), &KNOWN).unwrap();
        assert_eq!(layered.settings["port"], ["9100"], "the flag wins");
        assert_eq!(layered.settings["io_delay"], ["2s"]);
        assert_eq!(
            layered.settings["cors_allow_origin"],
            ["https://a.example", "https://b.example"]
        );
        assert_eq!(
            layered.from_file,
            BTreeMap::from([
                ("cors_allow_origin".into(), 3),
                ("io_delay".into(), 2),
                ("upstream".into(), 5)
            ])
        );
        let [billing] = &layered.upstreams[..] else {
            panic!("{:?}", layered.upstreams)
        };
        assert_eq!(billing.name, "billing");
        assert_eq!(billing.timeout, Some(std::time::Duration::from_secs(3)));
        assert_eq!(billing.max_connections.map(|n| n.get()), Some(8));
        assert_eq!(billing.max_body, Some(bytesize::ByteSize::mib(2)));
        assert_eq!(billing.headers[0].name, "accept");
        assert_eq!(billing.http, HttpVersion::Http2);

        let replaced = layer(
            &path,
            &given(&[("upstream", &["users=http://127.0.0.1:9/u"])]),
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
                "upstreams[0].headers.X-Key: expected a string, { env = \"NAME\" } or { file = \"PATH\" }: exactly one",
            ),
            (
                "[[upstreams]]\nname = \"a\"\nurl = \"http://x\"\n[upstreams.headers]\n\
                 X-Key = 3\n",
                5,
                "upstreams[0].headers.X-Key: expected a string, { env",
            ),
            ("port = [1, 2]\n", 1, "port: expected one value, not a list"),
            (
                "[[upstreams]]\nname = \"a\"\nurl = \"http://x\"\nhttp = \"3\"\n",
                4,
                "upstreams[0].http: \"3\": expected \"auto\", \"1.1\" or \"2\"",
            ),
            (
                "[[upstreams]]\nname = \"a\"\nurl = \"http://x\"\nheaders = \"Authorization: s3cr3t\"\n",
                4,
                "upstreams[0].headers: expected a map, found a string",
            ),
            (
                "[[upstreams]]\nname = \"a\"\nurl = \"http://x\"\n[upstreams.headers]\n\"0\" = 1\n",
                5,
                "upstreams[0].headers.0: expected a string",
            ),
            (
                "[[upstreams]]\nname = \"a\"\nurl = \"http://x\"\n[[upstreams]]\nname = \"a\"\n\
                 url = \"http://y\"\n",
                5,
                "upstreams[1].name: the name a is given twice",
            ),
            (
                "[[upstreams]]\nname = \"a\"\nurl = \"https://x\"\nca_file = \"no\\nsuch.pem\"\n",
                4,
                "upstreams[0].ca_file: ",
            ),
            ("\"a\\nb\" = 1\n", 1, "a\\nb: unknown setting"),
            (
                "[[upstreams]]\nname = \"a\"\nurl = \"http://x\"\nheaders.Host = \"h\"\n",
                4,
                "upstreams[0].headers.Host: host is set by greeter",
            ),
        ] {
            let (path, _remove) = file(text);
            let error = layer(&path, &BTreeMap::new(), &KNOWN).unwrap_err();
            let prefix = format!("{}:{line}: ", path.display());
            assert!(error.starts_with(&prefix), "{text:?}: {error}");
            assert!(error.contains(says), "{text:?}: {error}");
            assert!(!error.contains('\n'), "{text:?}: {error}");
        }
    }

    #[test]
    fn a_file_of_the_largest_size_is_read_and_one_byte_more_is_not() {
        let largest = MAX_CONFIG_FILE_BYTES as usize;
        let padded = |size: usize| {
            let setting = "port = 9000\n#";
            format!("{setting}{}", "x".repeat(size - setting.len()))
        };
        let largest_text = padded(largest);
        let (path, _remove) = file(&largest_text);
        assert_eq!(
            layer(&path, &BTreeMap::new(), &KNOWN).unwrap().settings["port"],
            ["9000"]
        );
        let too_large = padded(largest + 1);
        let (path, _remove) = file(&too_large);
        let error = layer(&path, &BTreeMap::new(), &KNOWN).unwrap_err();
        assert!(error.ends_with(": is larger than 1048576 bytes"), "{error}");
    }

    #[test]
    fn a_file_that_is_not_one_is_named() {
        let error = layer(Path::new("/nonexistent.toml"), &BTreeMap::new(), &KNOWN).unwrap_err();
        assert!(
            error.starts_with("/nonexistent.toml: cannot read it"),
            "{error}"
        );
        let error = layer(Path::new("/dev/zero"), &BTreeMap::new(), &KNOWN).unwrap_err();
        assert_eq!(error, "/dev/zero: is not a regular file");
    }
}
