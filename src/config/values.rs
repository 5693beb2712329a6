//! The values settings take that are more than a number: paths, mounts, trusted proxies, the
//! forwarding header, the log format, a rate, a CORS origin.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use crate::config::bounds::{self, non_zero_u32};

/// An absolute URL path such as `/docs` or `/api/v1`: no trailing slash, no empty, `.` or `..`
/// segment, and only characters that need no percent-encoding (nor `{}`, which routes reserve).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct UrlPath(pub(crate) String);

impl UrlPath {
    /// The path as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for UrlPath {
    type Err = String;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        let Some(rest) = input.strip_prefix('/') else {
            return Err("a path starts with /".to_owned());
        };
        for segment in rest.split('/') {
            if segment.is_empty() || segment == "." || segment == ".." {
                return Err(format!(
                    "{input:?} has an empty, `.` or `..` segment (or ends with /)"
                ));
            }
            let allowed = |c: char| c.is_ascii_alphanumeric() || "-._~!$&'()*+,;=:@".contains(c);
            if let Some(bad) = segment.chars().find(|&c| !allowed(c)) {
                return Err(format!(
                    "{input:?} has the character {bad:?}, which a path cannot hold as it is"
                ));
            }
        }
        Ok(Self(input.to_owned()))
    }
}

impl fmt::Display for UrlPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Where an optional endpoint is served: at a path, or `off`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mount {
    /// Served at this path.
    At(UrlPath),
    /// Not served; its URLs answer 404.
    Off,
}

impl Mount {
    /// The path, unless off.
    pub fn path(&self) -> Option<&UrlPath> {
        match self {
            Self::At(path) => Some(path),
            Self::Off => None,
        }
    }
}

impl FromStr for Mount {
    type Err = String;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        if input == "off" {
            Ok(Self::Off)
        } else {
            input.parse().map(Self::At)
        }
    }
}

impl fmt::Display for Mount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::At(path) => path.fmt(f),
            Self::Off => f.write_str("off"),
        }
    }
}

/// The proxies whose forwarding headers are believed (`--forwarded-allow-ips`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrustedProxies {
    any: bool,
    networks: Vec<ipnet::IpNet>,
}

impl TrustedProxies {
    /// No proxy is trusted: every client is its peer.
    pub fn none() -> Self {
        Self {
            any: false,
            networks: Vec::new(),
        }
    }

    /// Whether every peer is trusted (`*`).
    pub fn is_any(&self) -> bool {
        self.any
    }

    /// Whether `ip` is a trusted proxy (an IPv4-mapped IPv6 address counts as its IPv4 one).
    pub fn trusts(&self, ip: std::net::IpAddr) -> bool {
        let ip = ip.to_canonical();
        self.any || self.networks.iter().any(|network| network.contains(&ip))
    }
}

impl FromStr for TrustedProxies {
    type Err = String;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        let mut trusted = Self::none();
        for item in input
            .split(',')
            .map(str::trim)
            .filter(|item| !item.is_empty())
        {
            if item == "*" {
                trusted.any = true;
            } else if let Ok(network) = item.parse::<ipnet::IpNet>() {
                trusted.networks.push(network.trunc());
            } else if let Ok(ip) = item.parse::<std::net::IpAddr>() {
                trusted.networks.push(ipnet::IpNet::from(ip));
            } else {
                return Err(format!("{item:?} is not an IP address, a CIDR or *"));
            }
        }
        Ok(trusted)
    }
}

/// The header trusted proxies name the client in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ForwardedHeader {
    /// `X-Forwarded-For: client, proxy1, proxy2`.
    #[value(name = "x-forwarded-for")]
    XForwardedFor,
    /// RFC 7239 `Forwarded: for=client, for=proxy1`.
    #[value(name = "forwarded")]
    Forwarded,
}

/// How log lines are written (`--log-format`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// `[2026-11-26T08:00:00Z INFO  target] message`, as env_logger writes it.
    #[default]
    Text,
    /// One JSON object per line: `ts`, `level`, `target`, `msg`, and the record's fields.
    Json,
}

/// A rate: `count` requests per `period` (`--rate-limit 10/s`, `600/min`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    /// Requests per period: 1 to 1,000,000.
    pub count: std::num::NonZeroU32,
    /// A second or a minute.
    pub period: Duration,
}

impl FromStr for Rate {
    type Err = String;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        let (count, unit) = input
            .split_once('/')
            .ok_or_else(|| format!("{input:?} is not N/s or N/min"))?;
        let period = match unit.trim() {
            "s" | "sec" | "second" => Duration::from_secs(1),
            "m" | "min" | "minute" => Duration::from_secs(60),
            other => return Err(format!("{other:?} is not a period: use s or min")),
        };
        let count = bounds::of("--rate-limit").count(count)?;
        Ok(Self {
            count: non_zero_u32(count),
            period,
        })
    }
}

/// A CORS origin: `*`, or `http(s)://host[:port]` with nothing after it.
pub(crate) fn parse_origin(input: &str) -> Result<String, String> {
    let input = input.trim();
    if input == "*" {
        return Ok(input.to_owned());
    }
    let bad = || format!("{input:?} is not an origin such as https://app.example.com, or *");
    let uri: http::Uri = input.parse().map_err(|_| bad())?;
    let plain = matches!(uri.scheme_str(), Some("http" | "https"))
        && uri.host().is_some_and(|host| !host.is_empty())
        && uri.authority().is_some_and(|a| !a.as_str().contains('@'))
        && uri
            .path_and_query()
            .is_none_or(|p| p.as_str().is_empty() || p.as_str() == "/")
        && !input.ends_with('/');
    if plain {
        Ok(input.to_owned())
    } else {
        Err(bad())
    }
}
