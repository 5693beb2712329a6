//! `greeter healthcheck`: asks a running greeter whether it is up, for a container's
//! `HEALTHCHECK` (a `FROM scratch` image has no curl). One plain HTTP/1.1 `GET` over a loopback
//! TCP connection, bounded by a timeout; the answer is healthy when its status is 200.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

/// The URL asked by default: `/healthz` on this machine, at `port`.
pub fn default_url(port: u16) -> String {
    format!("http://127.0.0.1:{port}/healthz")
}

/// Asks `url` (`http://host[:port]/path`), waiting at most `timeout` in all; `Ok` with the
/// status line when it answers 200, else why not, in one line.
pub fn check(url: &str, timeout: Duration) -> Result<String, String> {
    // An hour is longer than any health check waits; it also keeps the deadline representable.
    let timeout = timeout.min(MAX_TIMEOUT);
    let deadline = Instant::now() + timeout;
    let (authority, addresses, path) = parse(url)?;
    let remaining = || {
        deadline
            .checked_duration_since(Instant::now())
            .filter(|left| !left.is_zero())
            .ok_or_else(|| {
                format!(
                    "{url}: no answer within {}",
                    humantime::format_duration(timeout)
                )
            })
    };
    // Every address the host resolves to, in turn (`localhost` may be ::1 first while greeter
    // listens on IPv4 only).
    let mut last_error = None;
    let mut connected = None;
    for address in &addresses {
        match TcpStream::connect_timeout(address, remaining()?) {
            Ok(stream) => {
                connected = Some(stream);
                break;
            }
            Err(e) => last_error = Some(e),
        }
    }
    let mut stream = connected.ok_or_else(|| {
        let cause = last_error.map_or("no address".to_owned(), |e| e.to_string());
        format!("{url}: cannot connect: {cause}")
    })?;
    stream
        .write_all(
            format!(
                "GET {path} HTTP/1.1\r\nHost: {authority}\r\nUser-Agent: greeter-healthcheck\r\n\
                 Connection: close\r\n\r\n"
            )
            .as_bytes(),
        )
        .map_err(|e| format!("{url}: cannot send the request: {e}"))?;
    let mut head = Vec::new();
    let mut buffer = [0u8; 512];
    while !head.windows(2).any(|w| w == b"\r\n") {
        stream
            .set_read_timeout(Some(remaining()?))
            .map_err(|e| format!("{url}: {e}"))?;
        match stream.read(&mut buffer) {
            Ok(0) => return Err(format!("{url}: the connection closed before an answer")),
            Ok(n) => head.extend_from_slice(&buffer[..n]),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                return Err(format!(
                    "{url}: no answer within {}",
                    humantime::format_duration(timeout)
                ));
            }
            Err(e) => return Err(format!("{url}: cannot read the answer: {e}")),
        }
        if head.len() > 4096 {
            break;
        }
    }
    let status_line = String::from_utf8_lossy(&head)
        .lines()
        .next()
        .unwrap_or_default()
        .to_owned();
    match status_line.split(' ').nth(1) {
        Some("200") if status_line.starts_with("HTTP/1.") => Ok(format!("{url}: {status_line}")),
        _ => Err(format!("{url}: answered {status_line:?}")),
    }
}

/// The longest a check may take, whatever `--timeout` says.
pub const MAX_TIMEOUT: Duration = Duration::from_secs(3600);

/// `(authority, addresses, path-and-query)` of an `http://` URL.
fn parse(url: &str) -> Result<(String, Vec<SocketAddr>, String), String> {
    let uri: http::Uri = url.parse().map_err(|e| format!("{url}: not a URL ({e})"))?;
    if uri.scheme_str() != Some("http") {
        return Err(format!("{url}: only http:// URLs can be checked"));
    }
    let host = uri.host().ok_or_else(|| format!("{url}: no host"))?;
    let port = crate::config::url_port(&uri).map_err(|e| format!("{url}: {e}"))?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let addresses: Vec<SocketAddr> = (host, port)
        .to_socket_addrs()
        .map_err(|e| format!("{url}: cannot resolve {host}: {e}"))?
        .collect();
    if addresses.is_empty() {
        return Err(format!("{url}: {host} has no address"));
    }
    let authority = uri
        .authority()
        .map(|a| a.as_str().to_owned())
        .unwrap_or_default();
    let path = uri
        .path_and_query()
        .map_or("/".to_owned(), |p| p.as_str().to_owned());
    Ok((authority, addresses, path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_http_urls_with_a_host_are_asked() {
        for (url, expected) in [
            ("https://127.0.0.1/healthz", "only http://"),
            ("127.0.0.1:8000", "only http://"),
            ("http:///healthz", "not a URL"),
            ("not a url", "not a URL"),
        ] {
            let error = parse(url).unwrap_err();
            assert!(error.contains(expected), "{url}: {error}");
        }
        let (authority, addresses, path) = parse("http://127.0.0.1:9/readyz?x=1").unwrap();
        assert_eq!(
            (authority.as_str(), addresses[0].port(), path.as_str()),
            ("127.0.0.1:9", 9, "/readyz?x=1")
        );
        assert_eq!(parse("http://[::1]/").unwrap().1[0].port(), 80);
        for url in [
            "http://127.0.0.1:65616/healthz",
            "http://127.0.0.1:0/",
            "http://[::1]:99999/",
        ] {
            let error = parse(url).unwrap_err();
            assert!(error.contains("a port is 1 to 65535"), "{url}: {error}");
        }
        assert_eq!(parse("http://[::1]:65535/").unwrap().1[0].port(), 65535);
        let error = parse("http://[::1]x:80/").unwrap_err();
        assert!(error.contains("is not a port"), "{error}");
    }
}
