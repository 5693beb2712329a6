//! `X-Request-Id` on every response: the client's own when it sent a sane one, else a fresh one.
//! The access log line carries it, so a client's report can be matched to the server's log.
//! [`with_common_headers`] puts it, and `nosniff`, on every answer.

use std::sync::LazyLock;
use std::sync::atomic::{AtomicU64, Ordering};

use actix_web::http::header::{HeaderMap, HeaderName, HeaderValue, X_CONTENT_TYPE_OPTIONS};

/// The header's name.
pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
/// The longest client-sent id that is kept.
const MAX_CLIENT_ID_LENGTH: usize = 128;

/// A client's id is kept when it is 1 to 128 characters of letters, digits and `-_.:`.
pub fn is_sane(id: &[u8]) -> bool {
    (1..=MAX_CLIENT_ID_LENGTH).contains(&id.len())
        && id
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(b))
}

/// A fresh id: this process's random prefix and a counter, unique without a system call.
fn fresh() -> HeaderValue {
    static PREFIX: LazyLock<u64> = LazyLock::new(|| {
        use std::hash::{BuildHasher, Hasher};
        let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
        hasher.write_u128(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos()),
        );
        hasher.write_u32(std::process::id());
        hasher.finish()
    });
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    HeaderValue::try_from(format!("{:016x}-{n:012x}", *PREFIX))
        .expect("hex digits are a valid header value")
}

/// The id of a request with `headers`: the client's when sane, else a fresh one.
pub fn for_request(headers: &HeaderMap) -> HeaderValue {
    headers
        .get(&REQUEST_ID)
        .filter(|id| is_sane(id.as_bytes()))
        .cloned()
        .unwrap_or_else(fresh)
}

/// The headers every answer carries: its request id, and `nosniff`.
pub fn with_common_headers(headers: &mut HeaderMap, id: HeaderValue) {
    headers.insert(REQUEST_ID, id);
    headers.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sane_ids_are_short_and_plain() {
        assert!(is_sane(b"abc-123_x.y:z"));
        assert!(is_sane(&[b'a'; 128]));
        assert!(!is_sane(&[b'a'; 129]));
        assert!(!is_sane(b""));
        assert!(!is_sane(b"has space"));
        assert!(!is_sane(b"quote\""));
    }

    #[test]
    fn fresh_ids_differ_and_are_sane() {
        let (a, b) = (fresh(), fresh());
        assert_ne!(a, b);
        assert!(is_sane(a.as_bytes()), "{a:?}");
    }
}
