//! Who the client is: the peer, or, when the peer is a trusted proxy (`--forwarded-allow-ips`),
//! the address its forwarding header (`--forwarded-header`) names. The access line shows it.
//!
//! The header is read from the right: each proxy appends the address it received from, so the
//! entries on the left are whatever the client chose to send. The client is the rightmost entry
//! that is not itself a trusted proxy (uvicorn #589/#590 took the spoofable leftmost one). A
//! header that cannot be read whole is ignored: the client is then the peer.

use std::net::IpAddr;

use actix_web::http::header::{self, HeaderMap, HeaderName};

use crate::config::{ForwardedHeader, TrustedProxies};

/// How clients are found behind proxies, from the settings.
#[derive(Debug, Clone)]
pub struct Forwarding {
    /// The proxies believed.
    pub trusted: TrustedProxies,
    /// The header they name the client in.
    pub header: ForwardedHeader,
}

const X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");

impl Forwarding {
    /// The client of a request from `peer` with `headers`.
    pub fn client(&self, peer: Option<IpAddr>, headers: &HeaderMap) -> Option<IpAddr> {
        let peer = peer.map(|ip| ip.to_canonical());
        match peer {
            Some(ip) if self.trusted.trusts(ip) => self.forwarded_client(headers).or(Some(ip)),
            _ => peer,
        }
    }

    /// The rightmost untrusted address of the header, or its leftmost when every one is
    /// trusted; `None` without the header, or when the entry that would be the client cannot be
    /// read (an unreadable entry further left, which the client wrote, does not matter). With
    /// `*`, only the peer is trusted to have written its hop: the client is the rightmost entry.
    fn forwarded_client(&self, headers: &HeaderMap) -> Option<IpAddr> {
        let name = match self.header {
            ForwardedHeader::XForwardedFor => X_FORWARDED_FOR,
            ForwardedHeader::Forwarded => header::FORWARDED,
        };
        let mut elements: Vec<&str> = Vec::new();
        for value in headers.get_all(&name) {
            let text = value.to_str().ok()?;
            match self.header {
                ForwardedHeader::XForwardedFor => elements.extend(text.split(',')),
                ForwardedHeader::Forwarded => elements.extend(split_outside_quotes(text)),
            }
        }
        let mut leftmost = None;
        for element in elements.into_iter().rev() {
            let address = match self.header {
                ForwardedHeader::XForwardedFor => parse_address(element.trim()),
                ForwardedHeader::Forwarded => forwarded_for(element),
            }?;
            if self.trusted.is_any() || !self.trusted.trusts(address) {
                return Some(address);
            }
            leftmost = Some(address);
        }
        leftmost
    }
}

/// The elements of a `Forwarded` header: split at commas outside quoted strings.
fn split_outside_quotes(text: &str) -> Vec<&str> {
    let mut elements = Vec::new();
    let (mut start, mut quoted, mut escaped) = (0, false, false);
    for (at, c) in text.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            ',' if !quoted => {
                elements.push(&text[start..at]);
                start = at + 1;
            }
            _ => {}
        }
    }
    elements.push(&text[start..]);
    elements
}

/// The `for=` address of one element of a `Forwarded` header (`for=192.0.2.60;proto=http`,
/// `for="[2001:db8::17]:4711"`); `None` when it has none or it is not an address (`unknown`,
/// an obfuscated `_name`).
fn forwarded_for(element: &str) -> Option<IpAddr> {
    let value = element.split(';').find_map(|pair| {
        let (key, value) = pair.split_once('=')?;
        key.trim()
            .eq_ignore_ascii_case("for")
            .then_some(value.trim())
    })?;
    parse_address(value.trim_matches('"'))
}

/// An address as proxies write it: `192.0.2.1`, `192.0.2.1:8080`, `2001:db8::1` or
/// `[2001:db8::1]:8080`.
fn parse_address(text: &str) -> Option<IpAddr> {
    if let Ok(ip) = text.parse::<IpAddr>() {
        return Some(ip.to_canonical());
    }
    if let Ok(socket) = text.parse::<std::net::SocketAddr>() {
        return Some(socket.ip().to_canonical());
    }
    let bracketed = text.strip_prefix('[')?.split_once(']')?.0;
    bracketed.parse::<IpAddr>().ok()
}

#[cfg(test)]
mod tests {
    use actix_web::http::header::HeaderValue;

    use super::*;

    fn forwarding(trusted: &str, header: ForwardedHeader) -> Forwarding {
        Forwarding {
            trusted: trusted.parse().unwrap(),
            header,
        }
    }

    fn headers(name: &'static str, values: &[&'static str]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for value in values {
            map.append(
                HeaderName::from_static(name),
                HeaderValue::from_static(value),
            );
        }
        map
    }

    fn ip(text: &str) -> Option<IpAddr> {
        Some(text.parse().unwrap())
    }

    const XFF: ForwardedHeader = ForwardedHeader::XForwardedFor;

    #[test]
    fn an_untrusted_peer_is_the_client_whatever_it_sends() {
        let f = forwarding("127.0.0.1", XFF);
        let h = headers("x-forwarded-for", &["203.0.113.9"]);
        assert_eq!(f.client(ip("198.51.100.1"), &h), ip("198.51.100.1"));
    }

    #[test]
    fn the_rightmost_untrusted_entry_is_the_client_not_a_spoofed_left_one() {
        let f = forwarding("127.0.0.1,10.0.0.0/8", XFF);
        let h = headers("x-forwarded-for", &["1.1.1.1, 203.0.113.7, 10.0.0.5"]);
        assert_eq!(f.client(ip("127.0.0.1"), &h), ip("203.0.113.7"));
        // Several header lines read as one list, in order.
        let h = headers("x-forwarded-for", &["1.1.1.1", "203.0.113.7", "10.0.0.5"]);
        assert_eq!(f.client(ip("127.0.0.1"), &h), ip("203.0.113.7"));
    }

    #[test]
    fn every_entry_trusted_means_the_leftmost() {
        let f = forwarding("127.0.0.1,10.0.0.0/8", XFF);
        let h = headers("x-forwarded-for", &["10.1.1.1, 10.0.0.5"]);
        assert_eq!(f.client(ip("127.0.0.1"), &h), ip("10.1.1.1"));
    }

    #[test]
    fn a_trusted_peer_without_the_header_is_the_client() {
        let f = forwarding("127.0.0.1", XFF);
        assert_eq!(
            f.client(ip("127.0.0.1"), &HeaderMap::new()),
            ip("127.0.0.1")
        );
    }

    #[test]
    fn a_malformed_header_is_ignored() {
        let f = forwarding("127.0.0.1", XFF);
        // The entry that would be the client (the rightmost untrusted) cannot be read.
        for bad in ["unknown", "1.2.3.4, nonsense", "", "1.2.3.4,", "1.2.3"] {
            let mut h = HeaderMap::new();
            h.insert(X_FORWARDED_FOR, HeaderValue::from_str(bad).unwrap());
            assert_eq!(f.client(ip("127.0.0.1"), &h), ip("127.0.0.1"), "{bad:?}");
        }
        let mut h = HeaderMap::new();
        h.insert(
            X_FORWARDED_FOR,
            HeaderValue::from_bytes(b"\xff1.2.3.4").unwrap(),
        );
        assert_eq!(f.client(ip("127.0.0.1"), &h), ip("127.0.0.1"));
    }

    #[test]
    fn ipv6_and_ports_are_read() {
        let f = forwarding("::1", XFF);
        let h = headers("x-forwarded-for", &["2001:db8::7, [2001:db8::8]:4711"]);
        assert_eq!(f.client(ip("::1"), &h), ip("2001:db8::8"));
        let h = headers("x-forwarded-for", &["203.0.113.7:51000"]);
        assert_eq!(f.client(ip("::1"), &h), ip("203.0.113.7"));
        // An IPv4-mapped peer is its IPv4 address.
        let f = forwarding("127.0.0.1", XFF);
        let h = headers("x-forwarded-for", &["203.0.113.7"]);
        assert_eq!(f.client(ip("::ffff:127.0.0.1"), &h), ip("203.0.113.7"));
    }

    #[test]
    fn rfc_7239_forwarded_is_read_when_chosen_and_only_then() {
        let f = forwarding("127.0.0.1", ForwardedHeader::Forwarded);
        let h = headers(
            "forwarded",
            &[r#"for=1.1.1.1, for="[2001:db8:cafe::17]:4711";proto=https;by=127.0.0.1"#],
        );
        assert_eq!(f.client(ip("127.0.0.1"), &h), ip("2001:db8:cafe::17"));
        let h = headers("forwarded", &["for=unknown"]);
        assert_eq!(f.client(ip("127.0.0.1"), &h), ip("127.0.0.1"));
        // The header not chosen is ignored: a client cannot smuggle it past the proxy.
        let h = headers("x-forwarded-for", &["203.0.113.7"]);
        assert_eq!(f.client(ip("127.0.0.1"), &h), ip("127.0.0.1"));
    }

    #[test]
    fn with_a_star_any_peer_is_trusted_for_its_own_hop_only() {
        let f = forwarding("*", XFF);
        let h = headers("x-forwarded-for", &["203.0.113.7"]);
        assert_eq!(f.client(ip("198.51.100.1"), &h), ip("203.0.113.7"));
        // The left entries are the client's own writing: never believed.
        let h = headers("x-forwarded-for", &["198.51.100.9, 203.0.113.99"]);
        assert_eq!(f.client(ip("10.0.0.1"), &h), ip("203.0.113.99"));
    }

    #[test]
    fn an_unreadable_entry_left_of_the_client_does_not_hide_it() {
        let f = forwarding("127.0.0.1", XFF);
        let h = headers("x-forwarded-for", &["garbage, 203.0.113.8"]);
        assert_eq!(f.client(ip("127.0.0.1"), &h), ip("203.0.113.8"));
        let f = forwarding("127.0.0.1", ForwardedHeader::Forwarded);
        let h = headers(
            "forwarded",
            &[r#"for=unknown, for=_hidden;proto=https, for=203.0.113.4;x="a,b""#],
        );
        assert_eq!(f.client(ip("127.0.0.1"), &h), ip("203.0.113.4"));
    }
}
