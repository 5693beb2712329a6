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

/// Fresh ids a thread takes from the process's counter at a time: the counter, which every
/// worker shares, is touched once per block rather than once per request (a profile put the
/// request id at 2% of the server's CPU, the shared counter and a `format!` in it).
const BLOCK: u64 = 1 << 12;

thread_local! {
    /// The next number of this thread's block, and the end of the block.
    static BLOCK_LEFT: std::cell::Cell<(u64, u64)> = const { std::cell::Cell::new((0, 0)) };
}

/// The next number for a fresh id: unique in the process, increasing on each thread.
fn next_number() -> u64 {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    BLOCK_LEFT
        .try_with(|block| {
            let (mut next, mut end) = block.get();
            if next == end {
                next = COUNTER.fetch_add(BLOCK, Ordering::Relaxed);
                end = next + BLOCK;
            }
            block.set((next + 1, end));
            next
        })
        .unwrap_or_else(|_| COUNTER.fetch_add(1, Ordering::Relaxed))
}

/// A fresh id, `<prefix>-<number>`: this process's random prefix (16 hexadecimal digits) and a
/// number (at least 12), unique without a system call.
fn fresh() -> HeaderValue {
    static PREFIX: LazyLock<[u8; 16]> = LazyLock::new(|| {
        use std::hash::{BuildHasher, Hasher};
        let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
        hasher.write_u128(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos()),
        );
        hasher.write_u32(std::process::id());
        let mut prefix = [0; 16];
        write_hex(&mut prefix, hasher.finish());
        prefix
    });
    let n = next_number();
    if n >> 48 != 0 {
        // Past 12 digits (after 2^48 ids): the rare long form.
        let prefix = std::str::from_utf8(&*PREFIX).unwrap_or_default();
        return HeaderValue::try_from(format!("{prefix}-{n:012x}"))
            .expect("hex digits are a valid header value");
    }
    let mut id = [0u8; 29];
    id[..16].copy_from_slice(&*PREFIX);
    id[16] = b'-';
    write_hex(&mut id[17..], n);
    HeaderValue::from_bytes(&id).expect("hex digits are a valid header value")
}

/// Writes the low `out.len()` hexadecimal digits of `n` into `out`, most significant first.
fn write_hex(out: &mut [u8], mut n: u64) {
    for digit in out.iter_mut().rev() {
        *digit = b"0123456789abcdef"[(n & 0xf) as usize];
        n >>= 4;
    }
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
        let text = a.to_str().unwrap();
        assert_eq!((text.len(), &text[16..17]), (29, "-"), "{text}");
        assert!(
            text.bytes().all(|b| b == b'-' || b.is_ascii_hexdigit()),
            "{text}"
        );
    }

    #[test]
    fn ids_are_unique_across_threads_and_blocks() {
        let threads: Vec<_> = (0..4)
            .map(|_| std::thread::spawn(|| (0..3 * BLOCK).map(|_| fresh()).collect::<Vec<_>>()))
            .collect();
        let mut all = std::collections::HashSet::new();
        for thread in threads {
            for id in thread.join().unwrap() {
                assert!(all.insert(id), "an id twice");
            }
        }
        assert_eq!(all.len() as u64, 12 * BLOCK);
    }

    #[test]
    fn hex_is_written_most_significant_first() {
        let mut out = [0u8; 12];
        write_hex(&mut out, 0xabc);
        assert_eq!(&out, b"000000000abc");
        let mut out = [0u8; 16];
        write_hex(&mut out, u64::MAX);
        assert_eq!(&out, b"ffffffffffffffff");
    }
}
