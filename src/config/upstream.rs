//! The upstream services of `GET /aggregate`: `--upstream NAME=URL`, or `[[upstreams]]` in the
//! configuration file, which may also give each its own limits, CA file and headers.

use std::fmt;
use std::num::NonZeroUsize;
use std::path::PathBuf;
use std::time::Duration;

use bytesize::ByteSize;

use crate::config::headers::UpstreamHeader;
use crate::config::parameters::Template;

/// The most upstreams `GET /aggregate` calls (the document bounds its `sources` by it).
pub const MAX_UPSTREAMS: usize = 64;

/// The most bytes a CA file (`--upstream-ca-file`, an upstream's `ca_file`) may hold; a bundle
/// of every public CA is about 220 KiB.
pub const MAX_CA_FILE_BYTES: u64 = 4 * 1024 * 1024;

/// Which HTTP an upstream is called with (`http` in its `[[upstreams]]` table).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum HttpVersion {
    /// Over TLS, HTTP/2 when the upstream offers it by ALPN, else HTTP/1.1; in the clear,
    /// HTTP/1.1 (`auto`, the default).
    #[default]
    Auto,
    /// HTTP/1.1 only (`1.1`).
    Http1,
    /// HTTP/2 only (`2`): offered alone by ALPN over TLS, with prior knowledge in the clear
    /// (h2c).
    Http2,
}

impl HttpVersion {
    /// Reads `auto`, `1.1` or `2`.
    pub fn parse(input: &str) -> Result<Self, String> {
        match input {
            "auto" => Ok(Self::Auto),
            "1.1" => Ok(Self::Http1),
            "2" => Ok(Self::Http2),
            other => Err(format!("{other:?}: expected \"auto\", \"1.1\" or \"2\"")),
        }
    }

    /// As the file writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Auto => "auto",
            Self::Http1 => "1.1",
            Self::Http2 => "2",
        }
    }
}

/// An upstream service of `GET /aggregate`: its name in the answer, its URL, and what the
/// configuration file sets for it alone (unset, the `--upstream-*` settings apply).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Upstream {
    /// 1 to 32 of `[a-z0-9_-]`.
    pub name: String,
    /// An absolute `http://` or `https://` URL.
    pub url: http::Uri,
    /// What is asked for: the URL's path and query (`/` when it has no path), with the
    /// `{name}` placeholders parameters fill.
    pub target: Template,
    /// Its own `--upstream-timeout`.
    pub timeout: Option<Duration>,
    /// Its own `--upstream-max-connections`.
    pub max_connections: Option<NonZeroUsize>,
    /// Its own `--upstream-max-body`.
    pub max_body: Option<ByteSize>,
    /// PEM certificates it may be signed by, besides Mozilla's roots and
    /// `--upstream-ca-file`'s.
    pub ca_file: Option<PathBuf>,
    /// Headers sent with every call to it.
    pub headers: Vec<UpstreamHeader>,
    /// Which HTTP it is called with.
    pub http: HttpVersion,
}

impl Upstream {
    /// Longest name.
    pub const MAX_NAME_CHARS: usize = 32;

    /// Checks a name: 1 to 32 of `a-z`, `0-9`, `_` and `-`.
    pub fn check_name(name: &str) -> Result<(), String> {
        let name_ok = (1..=Self::MAX_NAME_CHARS).contains(&name.len())
            && name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
        if name_ok {
            Ok(())
        } else {
            Err(format!(
                "the name {name:?} must be 1 to {} of a-z, 0-9, _ and -",
                Self::MAX_NAME_CHARS
            ))
        }
    }

    /// Reads `NAME=URL`.
    pub fn parse(input: &str) -> Result<Self, String> {
        let Some((name, url)) = input.split_once('=') else {
            return Err("expected NAME=URL".to_owned());
        };
        Self::check_name(name)?;
        let url: http::Uri = url.parse().map_err(|_| format!("{url:?} is not a URL"))?;
        let authority = url.authority().map(|a| a.as_str()).unwrap_or_default();
        if authority.contains('@') {
            return Err("an upstream URL carries no user or password".to_owned());
        }
        url_port(&url).map_err(|why| format!("{url}: {why}"))?;
        match url.scheme_str() {
            Some("http" | "https") if url.host().is_some_and(|host| !host.is_empty()) => {}
            _ => return Err(format!("{url} is not an absolute http:// or https:// URL")),
        }
        if url.scheme_str() == Some("https") {
            // The name the certificate is verified against. The system's resolver reads more
            // hosts than a certificate can name (`127.1`, `0x7f.0.0.1`): refused here, never
            // called without TLS.
            let host = url.host().unwrap_or_default();
            let unbracketed = host.trim_start_matches('[').trim_end_matches(']');
            if rustls_pki_types::ServerName::try_from(unbracketed).is_err() {
                return Err(format!(
                    "{url}: the host {host} is neither a DNS name nor an IP address that a \
                     certificate can name"
                ));
            }
        }
        // `http://host?q` asks for `/?q`: the path is never empty.
        let target = match url.query() {
            Some(query) => format!("{}?{query}", url.path()),
            None => url.path().to_owned(),
        };
        let target = Template::parse(&target).map_err(|why| format!("{url}: {why}"))?;
        Ok(Self {
            name: name.to_owned(),
            url,
            target,
            timeout: None,
            max_connections: None,
            max_body: None,
            ca_file: None,
            headers: Vec::new(),
            http: HttpVersion::Auto,
        })
    }

    /// Whether the upstream is called over TLS (`https://`).
    pub fn is_https(&self) -> bool {
        self.url.scheme_str() == Some("https")
    }
}

/// The port of a URL: the one it names, 1 to 65535, or its scheme's (443 for `https://`, else
/// 80) when it names none. (`http` reads a port past 65535 as none at all, which would call the
/// scheme's port instead.)
pub fn url_port(url: &http::Uri) -> Result<u16, String> {
    let default = if url.scheme_str() == Some("https") {
        443
    } else {
        80
    };
    let authority = url.authority().map(|a| a.as_str()).unwrap_or_default();
    let host_and_port = authority.rsplit('@').next().unwrap_or_default();
    // An IPv6 host is bracketed and holds colons of its own; after it, only `:port`.
    let after_host = match host_and_port.rfind(']') {
        Some(end) => &host_and_port[end + 1..],
        None => host_and_port
            .rfind(':')
            .map_or("", |at| &host_and_port[at..]),
    };
    let digits = match after_host.strip_prefix(':') {
        None if after_host.is_empty() => return Ok(default),
        None => return Err(format!("{after_host:?} after the host is not a port")),
        Some("") => return Ok(default),
        Some(digits) => digits,
    };
    // Digits only: `u16::from_str` would take `+80`.
    match digits.parse::<u16>() {
        Ok(port) if port > 0 && digits.bytes().all(|b| b.is_ascii_digit()) => Ok(port),
        _ => Err(format!("port {digits}: a port is 1 to 65535")),
    }
}

impl fmt::Display for Upstream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}={}", self.name, self.url)
    }
}
