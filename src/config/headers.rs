//! The headers sent to an upstream (`[[upstreams]]`'s `headers` in the configuration file): a
//! value is written in the file, or read at start from an environment variable
//! (`{ env = "NAME" }`) or a file (`{ file = "/run/secrets/..." }`). A value read from either is
//! a secret, and so is any value of a header that carries credentials (`Authorization`, a name
//! with `key`, `token`, `secret`, `auth`, `password` or `cookie` in it): its `Debug` and
//! [`UpstreamHeader::describe`] name where it came from and its length, never the value, and
//! hyper is told not to index it.

use std::fmt;
use std::path::{Path, PathBuf};

use http::{HeaderName, HeaderValue};

use crate::config::files::read_regular_file;

/// The most headers one upstream is sent from the configuration.
pub const MAX_HEADERS: usize = 32;
/// The longest header value (a JSON Web Token of a few kilobytes fits).
pub const MAX_VALUE_BYTES: usize = 16 * 1024;

/// Headers greeter sets itself, or that belong to the connection rather than the request: one
/// configured is refused at start.
const RESERVED: [&str; 13] = [
    "host",
    "content-length",
    "transfer-encoding",
    "connection",
    "upgrade",
    "te",
    "trailer",
    "keep-alive",
    "proxy-connection",
    "expect",
    "traceparent",
    "tracestate",
    "x-request-id",
];

/// Words that make a header's name a credential's, so that its value is never shown even when
/// written in the file.
const CREDENTIAL_WORDS: [&str; 11] = [
    "auth",
    "key",
    "token",
    "secret",
    "password",
    "passwd",
    "cookie",
    "credential",
    "session",
    "signature",
    "bearer",
];

/// Where a header's value comes from, as the configuration file says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HeaderSource {
    /// Written in the file.
    Literal(String),
    /// The environment variable of this name, read at start.
    Env(String),
    /// The file at this path (its one trailing newline dropped), read at start.
    File(PathBuf),
}

/// A header sent with every call to one upstream.
#[derive(Clone, PartialEq, Eq)]
pub struct UpstreamHeader {
    /// Its name.
    pub name: HeaderName,
    /// Its value, marked sensitive when it is a secret.
    pub value: HeaderValue,
    source: HeaderSource,
}

impl UpstreamHeader {
    /// The header `name` with the value `source` gives; the error is a few words that name the
    /// variable or file, never a value (the caller names the header).
    pub fn resolve(name: &str, source: HeaderSource) -> Result<Self, String> {
        let name =
            HeaderName::try_from(name).map_err(|_| format!("{name:?} is not a header name"))?;
        if RESERVED.contains(&name.as_str()) {
            return Err(format!(
                "{name} is set by greeter or belongs to the connection; it cannot be configured"
            ));
        }
        let bytes = match &source {
            HeaderSource::Literal(text) => text.as_bytes().to_vec(),
            HeaderSource::Env(variable) => env_value(variable)
                .map_err(|why| format!("the environment variable {variable} {why}"))?,
            HeaderSource::File(path) => {
                file_value(path).map_err(|why| format!("the file {} {why}", path.display()))?
            }
        };
        if bytes.is_empty() {
            return Err("the value is empty".to_owned());
        }
        if bytes.len() > MAX_VALUE_BYTES {
            return Err(format!("the value is longer than {MAX_VALUE_BYTES} bytes"));
        }
        let mut value = HeaderValue::from_bytes(&bytes).map_err(|_| {
            "the value holds a control character (a header cannot carry one)".to_owned()
        })?;
        let header = Self {
            name,
            value: HeaderValue::from_static(""),
            source,
        };
        value.set_sensitive(header.is_secret());
        Ok(Self { value, ..header })
    }

    /// Where the value came from.
    pub fn source(&self) -> &HeaderSource {
        &self.source
    }

    /// Whether the value is never shown: read from the environment or a file, or a
    /// credential's header.
    pub fn is_secret(&self) -> bool {
        let name = self.name.as_str();
        !matches!(self.source, HeaderSource::Literal(_))
            || CREDENTIAL_WORDS.iter().any(|word| name.contains(word))
    }

    /// The value for a person: as written when it is no secret, else where it came from and
    /// its length.
    pub fn describe(&self) -> String {
        let length = self.value.len();
        match &self.source {
            HeaderSource::Literal(_) if !self.is_secret() => {
                String::from_utf8_lossy(self.value.as_bytes()).into_owned()
            }
            HeaderSource::Literal(_) => format!("<redacted: {length} bytes, written in the file>"),
            HeaderSource::Env(variable) => {
                format!("<redacted: {length} bytes, from the environment variable {variable}>")
            }
            HeaderSource::File(path) => {
                format!(
                    "<redacted: {length} bytes, from the file {}>",
                    path.display()
                )
            }
        }
    }
}

impl fmt::Debug for UpstreamHeader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.name, self.describe())
    }
}

/// The variable's value, as bytes (a header may carry any but control characters, as from a
/// file).
fn env_value(variable: &str) -> Result<Vec<u8>, String> {
    use std::os::unix::ffi::OsStringExt;
    if variable.is_empty() || variable.contains(['=', '\0']) {
        return Err("is not a variable's name".to_owned());
    }
    std::env::var_os(variable)
        .map(OsStringExt::into_vec)
        .ok_or_else(|| "is not set".to_owned())
}

/// The file's value: without the one line ending that `echo` or an editor leaves at the end.
fn file_value(path: &Path) -> Result<Vec<u8>, String> {
    // Two bytes more than a value: its line ending.
    let mut bytes = read_regular_file(path, MAX_VALUE_BYTES as u64 + 2).map_err(|why| match why
        .strip_prefix("is larger than")
    {
        Some(_) => format!("holds a value longer than {MAX_VALUE_BYTES} bytes"),
        None => why,
    })?;
    if bytes.ends_with(b"\n") {
        bytes.pop();
        if bytes.ends_with(b"\r") {
            bytes.pop();
        }
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "s3cr3t-value-never-shown";

    #[test]
    fn a_literal_is_shown_unless_the_header_carries_credentials() {
        let accept =
            UpstreamHeader::resolve("Accept", HeaderSource::Literal("text/json".into())).unwrap();
        assert_eq!(accept.name, "accept");
        assert_eq!(accept.describe(), "text/json");
        assert!(!accept.value.is_sensitive());
        for name in ["Authorization", "X-Api-Key", "X-Auth-Token", "Cookie"] {
            let header =
                UpstreamHeader::resolve(name, HeaderSource::Literal(SECRET.into())).unwrap();
            assert!(header.value.is_sensitive(), "{name}");
            assert!(!header.describe().contains(SECRET), "{name}");
            assert!(!format!("{header:?}").contains(SECRET), "{name}");
        }
    }

    #[test]
    fn values_from_the_environment_and_files_are_secrets() {
        let variable = format!("GREETER_TEST_HEADER_{}", std::process::id());
        // SAFETY: this test's own variable; no other test reads or writes it.
        unsafe { std::env::set_var(&variable, SECRET) };
        let from_env =
            UpstreamHeader::resolve("X-Plain", HeaderSource::Env(variable.clone())).unwrap();
        assert_eq!(from_env.value, SECRET);
        assert!(from_env.value.is_sensitive());
        assert_eq!(
            format!("{from_env:?}"),
            format!("x-plain: <redacted: 24 bytes, from the environment variable {variable}>")
        );

        let path = std::env::temp_dir().join(format!("greeter-header-{}", std::process::id()));
        std::fs::write(&path, format!("{SECRET}\r\n")).unwrap();
        let from_file =
            UpstreamHeader::resolve("X-Plain", HeaderSource::File(path.clone())).unwrap();
        assert_eq!(from_file.value, SECRET, "the line ending is dropped");
        assert!(!from_file.describe().contains(SECRET));
        std::fs::remove_file(&path).unwrap();
    }

    #[test]
    fn bad_headers_are_refused_without_showing_the_value() {
        let path = std::env::temp_dir().join(format!("greeter-header-bad-{}", std::process::id()));
        std::fs::write(&path, format!("{SECRET}\nsecond line\n")).unwrap();
        for (name, source, says) in [
            ("Host", HeaderSource::Literal("x".into()), "set by greeter"),
            (
                "traceparent",
                HeaderSource::Literal("x".into()),
                "set by greeter",
            ),
            (
                "Bad Name",
                HeaderSource::Literal("x".into()),
                "not a header name",
            ),
            (
                "X-A",
                HeaderSource::Literal(String::new()),
                "the value is empty",
            ),
            (
                "X-A",
                HeaderSource::Literal(format!("{SECRET}\r\nX-B: 1")),
                "control character",
            ),
            ("X-A", HeaderSource::File(path.clone()), "control character"),
            (
                "X-A",
                HeaderSource::File("/nonexistent".into()),
                "No such file",
            ),
            (
                "X-A",
                HeaderSource::Env("GREETER_TEST_UNSET_VARIABLE".into()),
                "is not set",
            ),
        ] {
            let error = UpstreamHeader::resolve(name, source).unwrap_err();
            assert!(error.contains(says), "{name}: {error}");
            assert!(!error.contains(SECRET), "{name}: {error}");
        }
        std::fs::write(&path, "x".repeat(MAX_VALUE_BYTES + 1)).unwrap();
        let error = UpstreamHeader::resolve("X-A", HeaderSource::File(path.clone())).unwrap_err();
        assert!(error.contains("longer than 16384 bytes"), "{error}");
        std::fs::write(&path, "x".repeat(MAX_VALUE_BYTES)).unwrap();
        assert!(UpstreamHeader::resolve("X-A", HeaderSource::File(path.clone())).is_ok());
        std::fs::remove_file(&path).unwrap();
    }
}
