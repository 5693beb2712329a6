//! Query strings and percent-encoded text, decoded by one rule for every route: the path's
//! `GET /hello/{name}`, the query's `GET /greetings` and `GET /aggregate`.

use percent_encoding::percent_decode_str;

use crate::api::validation::Violation;

/// `raw` percent-decoded (and, in a query, `+` as a space), by the one rule of the path and the
/// query: every `%` starts an escape of two hexadecimal digits (else `percent_encoding`), and
/// the bytes are UTF-8 (else `string_unicode`, rather than text of U+FFFD the client never
/// sent).
pub fn decode_text(raw: &str, plus_is_space: bool) -> Result<String, Violation> {
    if !is_well_percent_encoded(raw) {
        return Err(Violation::new(
            "percent_encoding",
            "Input should be percent-encoded: every '%' followed by two hexadecimal digits",
        ));
    }
    let spaced;
    let raw = if plus_is_space && raw.contains('+') {
        spaced = raw.replace('+', " ");
        spaced.as_str()
    } else {
        raw
    };
    percent_decode_str(raw)
        .decode_utf8()
        .map(|text| text.into_owned())
        .map_err(|_| {
            Violation::new(
                "string_unicode",
                "Input should be a valid string, unable to parse raw data as a unicode string",
            )
        })
}

/// The parameters of `query` as `(name, raw value)`: split at `&` and the first `=`, empty
/// pairs skipped, names decoded as forms decode them (`+` a space, lossily).
pub fn query_parameters(query: &str) -> impl Iterator<Item = (String, &str)> {
    query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (name, raw) = pair.split_once('=').unwrap_or((pair, ""));
            let name = percent_decode_str(&name.replace('+', " "))
                .decode_utf8_lossy()
                .into_owned();
            (name, raw)
        })
}

/// Whether every `%` in `raw` starts an escape of two hexadecimal digits.
fn is_well_percent_encoded(raw: &str) -> bool {
    let bytes = raw.as_bytes();
    bytes.iter().enumerate().all(|(at, &byte)| {
        byte != b'%'
            || bytes
                .get(at + 1..at + 3)
                .is_some_and(|hex| hex.iter().all(u8::is_ascii_hexdigit))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_escapes_need_two_hex_digits() {
        for good in ["Ada", "%41da", "100%25", "%e2%9c%93", ""] {
            assert!(is_well_percent_encoded(good), "{good}");
        }
        for bad in ["%", "a%", "%4", "%ZZ", "%4G", "a%%41"] {
            assert!(!is_well_percent_encoded(bad), "{bad}");
        }
    }
}
