//! W3C Trace Context (<https://www.w3.org/TR/trace-context/>) for `GET /aggregate`: the
//! client's `traceparent` and `tracestate` are passed to every upstream, each call with a parent
//! id of its own, so one aggregate can be followed across services; when the client sent no
//! valid `traceparent`, greeter starts a trace (sampled, so that the upstreams' tracers record
//! it). The trace id is written in the request's access line. greeter records no spans itself.
//!
//! A `traceparent` that is not valid (not lowercase hex, an all-zero id, version `ff`, a bad
//! length) is ignored as the specification asks, and its `tracestate` with it.

use std::fmt;

use http::HeaderValue;

/// The header that carries the trace id, the caller's span id and the flags.
pub const TRACEPARENT: &str = "traceparent";
/// The header that carries vendors' own trace state, passed on as it came.
pub const TRACESTATE: &str = "tracestate";
/// The longest `tracestate` passed on (the specification's 32 members of at most 256 bytes
/// each are more than any upstream accepts in one header; 512 is its suggested minimum).
pub const MAX_TRACESTATE_BYTES: usize = 512;

/// A trace's id: 16 bytes, not all zero.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TraceId([u8; 16]);

impl TraceId {
    /// Its 32 lowercase hexadecimal digits.
    pub fn hex(&self) -> [u8; 32] {
        let mut hex = [0; 32];
        write_hex(&self.0, &mut hex);
        hex
    }
}

impl fmt::Display for TraceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(std::str::from_utf8(&self.hex()).unwrap_or_default())
    }
}

/// The trace a request takes part in: the client's, or one greeter started.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceContext {
    trace_id: TraceId,
    flags: u8,
    state: Option<HeaderValue>,
}

impl TraceContext {
    /// The trace of a request's `traceparent` and `tracestate` headers (each header's values),
    /// or a new one, sampled, when it has no valid `traceparent` (none, one that does not
    /// parse, or more than one: the specification's test suite starts a new trace then).
    pub fn continue_or_start<'a>(
        traceparent: impl IntoIterator<Item = &'a [u8]>,
        tracestate: impl IntoIterator<Item = &'a [u8]>,
    ) -> Self {
        let mut traceparents = traceparent.into_iter();
        let only = match (traceparents.next(), traceparents.next()) {
            (Some(only), None) => Some(only),
            _ => None,
        };
        match only.and_then(parse_traceparent) {
            Some((trace_id, flags)) => Self {
                trace_id,
                flags,
                state: joined_state(tracestate),
            },
            None => Self {
                trace_id: TraceId(random_id()),
                flags: 0x01,
                state: None,
            },
        }
    }

    /// The trace's id.
    pub fn trace_id(&self) -> TraceId {
        self.trace_id
    }

    /// The `traceparent` for one upstream call, with a parent id of its own, and the
    /// `tracestate` to send with it, if any.
    pub fn for_call(&self) -> (HeaderValue, Option<HeaderValue>) {
        let parent: [u8; 8] = random_id();
        let mut value = *b"00-00000000000000000000000000000000-0000000000000000-00";
        write_hex(&self.trace_id.0, &mut value[3..35]);
        write_hex(&parent, &mut value[36..52]);
        write_hex(&[self.flags], &mut value[53..55]);
        let traceparent =
            HeaderValue::from_bytes(&value).expect("hexadecimal digits make a header value");
        (traceparent, self.state.clone())
    }
}

/// The `tracestate` headers' values as one (several headers are one list), when they fit in
/// [`MAX_TRACESTATE_BYTES`].
fn joined_state<'a>(values: impl IntoIterator<Item = &'a [u8]>) -> Option<HeaderValue> {
    // Empty list members (an empty header, `a=1,,b=2`'s middle) are left out, and an empty
    // list is not sent at all.
    let members = values
        .into_iter()
        .flat_map(|value| value.split(|&byte| byte == b','))
        .map(<[u8]>::trim_ascii)
        .filter(|member| !member.is_empty());
    let mut joined = Vec::new();
    for member in members {
        if !joined.is_empty() {
            joined.push(b',');
        }
        joined.extend_from_slice(member);
    }
    if joined.is_empty() || joined.len() > MAX_TRACESTATE_BYTES {
        return None;
    }
    HeaderValue::from_bytes(&joined).ok()
}

/// The trace id and flags of a valid `traceparent` (version 00, or a later version's first
/// four fields, as the specification asks).
fn parse_traceparent(value: &[u8]) -> Option<(TraceId, u8)> {
    if value.len() < 55 || value[2] != b'-' || value[35] != b'-' || value[52] != b'-' {
        return None;
    }
    let version = hex_bytes::<1>(&value[..2])?[0];
    let longer_ok = version > 0 && value.get(55).is_none_or(|&b| b == b'-');
    if version == 0xff || (value.len() > 55 && !longer_ok) {
        return None;
    }
    let trace_id = hex_bytes::<16>(&value[3..35])?;
    let parent = hex_bytes::<8>(&value[36..52])?;
    let flags = hex_bytes::<1>(&value[53..55])?[0];
    if trace_id == [0; 16] || parent == [0; 8] {
        return None;
    }
    Some((TraceId(trace_id), flags))
}

/// `N` bytes from `2N` lowercase hexadecimal digits.
fn hex_bytes<const N: usize>(digits: &[u8]) -> Option<[u8; N]> {
    let value = |digit: u8| match digit {
        b'0'..=b'9' => Some(digit - b'0'),
        b'a'..=b'f' => Some(digit - b'a' + 10),
        _ => None,
    };
    let mut bytes = [0; N];
    for (byte, pair) in bytes.iter_mut().zip(digits.chunks_exact(2)) {
        *byte = value(pair[0])? << 4 | value(pair[1])?;
    }
    Some(bytes)
}

/// Writes `bytes` as lowercase hexadecimal digits into `out` (twice as long).
fn write_hex(bytes: &[u8], out: &mut [u8]) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    for (byte, pair) in bytes.iter().zip(out.chunks_exact_mut(2)) {
        pair[0] = DIGITS[usize::from(byte >> 4)];
        pair[1] = DIGITS[usize::from(byte & 0xf)];
    }
}

/// A random id that is not all zero (ids identify, they protect nothing: fastrand's generator,
/// seeded per thread from the system, is enough).
fn random_id<const N: usize>() -> [u8; N] {
    loop {
        let mut id = [0; N];
        id.iter_mut().for_each(|byte| *byte = fastrand::u8(..));
        if id != [0; N] {
            return id;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CLIENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    /// The trace of a request with these headers.
    fn trace_of(pairs: &[(&str, &str)]) -> TraceContext {
        let values = |name: &str| -> Vec<&[u8]> {
            pairs
                .iter()
                .filter(|(n, _)| *n == name)
                .map(|(_, value)| value.as_bytes())
                .collect()
        };
        TraceContext::continue_or_start(values(TRACEPARENT), values(TRACESTATE))
    }

    #[test]
    fn a_clients_trace_is_continued_with_a_new_parent_per_call() {
        let trace = trace_of(&[
            (TRACEPARENT, CLIENT),
            (TRACESTATE, "congo=t61rcWkgMzE"),
            (TRACESTATE, "rojo=00f067aa0ba902b7"),
        ]);
        assert_eq!(
            trace.trace_id().to_string(),
            "4bf92f3577b34da6a3ce929d0e0e4736"
        );
        let (first, state) = trace.for_call();
        let (second, _) = trace.for_call();
        let first = first.to_str().unwrap();
        assert_eq!(&first[..36], &CLIENT[..36]);
        assert_eq!(&first[52..], "-01");
        assert_ne!(&first[36..52], &CLIENT[36..52]);
        assert_ne!(first, second.to_str().unwrap());
        assert_eq!(state.unwrap(), "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7");
    }

    #[test]
    fn a_later_version_is_read_for_its_first_fields_and_sent_as_00() {
        let later = format!("cc{}-what-comes-next", &CLIENT[2..]);
        let trace = trace_of(&[(TRACEPARENT, &later)]);
        let (sent, _) = trace.for_call();
        assert_eq!(&sent.to_str().unwrap()[..36], &CLIENT[..36]);
    }

    #[test]
    fn an_invalid_traceparent_starts_a_new_sampled_trace_without_its_state() {
        for invalid in [
            CLIENT.to_uppercase(),
            CLIENT.replace("4bf92f3577b34da6a3ce929d0e0e4736", &"0".repeat(32)),
            CLIENT.replace("00f067aa0ba902b7", &"0".repeat(16)),
            format!("ff{}", &CLIENT[2..]),
            format!("{CLIENT}-extra"),
            CLIENT[..54].to_owned(),
            CLIENT.replace('-', "_"),
            "00-xyz".to_owned(),
        ] {
            let trace = trace_of(&[(TRACEPARENT, &invalid), (TRACESTATE, "congo=t61rcWkgMzE")]);
            assert_ne!(
                trace.trace_id().to_string(),
                "4bf92f3577b34da6a3ce929d0e0e4736",
                "{invalid}"
            );
            let (sent, state) = trace.for_call();
            assert!(sent.to_str().unwrap().ends_with("-01"), "{invalid}");
            assert_eq!(state, None, "{invalid}");
        }
    }

    #[test]
    fn two_traceparents_start_a_new_trace() {
        let trace = trace_of(&[(TRACEPARENT, CLIENT), (TRACEPARENT, CLIENT)]);
        assert_ne!(
            trace.trace_id().to_string(),
            "4bf92f3577b34da6a3ce929d0e0e4736"
        );
    }

    #[test]
    fn empty_tracestate_members_are_left_out_and_an_empty_list_not_sent() {
        let state = |values: &[&str]| {
            let mut pairs = vec![(TRACEPARENT, CLIENT)];
            pairs.extend(values.iter().map(|value| (TRACESTATE, *value)));
            trace_of(&pairs).for_call().1
        };
        assert_eq!(state(&[""]), None);
        assert_eq!(state(&[" , "]), None);
        assert_eq!(state(&["a=1,,b=2", ""]).unwrap(), "a=1,b=2");
    }

    #[test]
    fn a_tracestate_past_the_limit_is_not_passed_on() {
        let long = format!("a={}", "b".repeat(MAX_TRACESTATE_BYTES));
        let trace = trace_of(&[(TRACEPARENT, CLIENT), (TRACESTATE, &long)]);
        assert_eq!(trace.for_call().1, None);
    }
}
