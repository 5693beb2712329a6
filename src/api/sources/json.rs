//! What an upstream's body must be to be passed on: JSON that every client reads back, since
//! greeter copies it verbatim into its own answer. Valid JSON is not enough: serde_json (and so
//! the generated Rust client) refuses arrays nested past its recursion limit of 128, a number
//! past `f64` (`1e999999`) and a lone UTF-16 surrogate escape (`"\ud800"`), which Python's
//! `json` and `JSON.parse` accept; one such body would make the whole answer unreadable there.
//!
//! The check walks the body once with serde_json's own parser, keeping nothing (no tree of
//! values), and names what is wrong.

use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};

/// The deepest a body's arrays and objects may nest: greeter's answer holds the body three
/// levels down, and the whole answer must stay within serde_json's recursion limit of 128.
pub const MAX_BODY_DEPTH: usize = 100;

/// Why a body is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// Not JSON at all (serde_json's message).
    NotJson(String),
    /// JSON, but not what every client reads back: nested past [`MAX_BODY_DEPTH`], a number
    /// past `f64`, a lone surrogate.
    Unreadable(String),
}

/// Checks that `text` is JSON that serde_json parses, nests at most [`MAX_BODY_DEPTH`] deep,
/// and holds no number out of `f64`'s range and no lone surrogate; the refusal says why not.
pub fn check(text: &str) -> Result<(), Refusal> {
    let mut parser = serde_json::Deserializer::from_str(text);
    Walk { depth: 0 }
        .deserialize(&mut parser)
        .and_then(|()| parser.end())
        .map_err(|error| {
            let message = error.to_string();
            // serde_json's own limit (128) speaks of recursion; say what it means for a body.
            if message.starts_with("recursion limit exceeded") || message.contains(NESTED) {
                Refusal::Unreadable(format!(
                    "arrays and objects nest deeper than {MAX_BODY_DEPTH}"
                ))
            } else if UNREADABLE.iter().any(|start| message.starts_with(start)) {
                Refusal::Unreadable(message)
            } else {
                Refusal::NotJson(message)
            }
        })
}

const NESTED: &str = "nested too deep";

/// The starts of serde_json's messages for valid JSON it will not read.
const UNREADABLE: [&str; 3] = [
    "number out of range",
    "lone leading surrogate",
    "unexpected end of hex escape",
];

/// A value at `depth` (the top one at 0), walked and dropped.
#[derive(Clone, Copy)]
struct Walk {
    depth: usize,
}

impl Walk {
    fn inner<E: de::Error>(self) -> Result<Self, E> {
        if self.depth >= MAX_BODY_DEPTH {
            return Err(E::custom(NESTED));
        }
        Ok(Self {
            depth: self.depth + 1,
        })
    }
}

impl<'de> DeserializeSeed<'de> for Walk {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Walk {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }

    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        Ok(())
    }

    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }

    // serde_json refuses a number past `f64` before it gets here ("number out of range").
    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        Ok(())
    }

    fn visit_str<E>(self, _: &str) -> Result<(), E> {
        Ok(())
    }

    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut items: A) -> Result<(), A::Error> {
        let inner = self.inner()?;
        while items.next_element_seed(inner)?.is_some() {}
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut members: A) -> Result<(), A::Error> {
        let inner = self.inner()?;
        while members.next_key::<de::IgnoredAny>()?.is_some() {
            members.next_value_seed(inner)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nested(depth: usize) -> String {
        format!("{}{}", "[".repeat(depth), "]".repeat(depth))
    }

    #[test]
    fn what_every_parser_reads_passes() {
        for body in [
            r#"{"a": [1, -2, 3.5e10, true, null, "é\u00e9 \ud83d\ude00"]}"#,
            "1.7976931348623157e308",
            "18446744073709551615",
            "-9223372036854775808",
            "123456789012345678901234567890",
            &nested(MAX_BODY_DEPTH),
        ] {
            assert_eq!(check(body), Ok(()), "{body}");
        }
    }

    #[test]
    fn what_serde_json_refuses_is_named() {
        let refused = |body: &str| match check(body).expect_err(body) {
            Refusal::Unreadable(why) => why,
            Refusal::NotJson(why) => format!("not JSON: {why}"),
        };
        assert_eq!(
            refused(&nested(MAX_BODY_DEPTH + 1)),
            "arrays and objects nest deeper than 100"
        );
        assert_eq!(
            refused(&nested(200)),
            "arrays and objects nest deeper than 100"
        );
        assert!(refused(r#"{"n": 1e999999}"#).starts_with("number out of range"));
        assert!(refused(&format!("1{}", "0".repeat(400))).starts_with("number out of range"));
        assert!(refused(r#""\ud800""#).starts_with("unexpected end of hex escape"));
        assert!(refused(r#""\udc00""#).starts_with("lone leading surrogate"));
        assert!(refused("[1,]").starts_with("not JSON: trailing comma"));
        assert!(refused("{} {}").starts_with("not JSON: trailing characters"));
        assert!(refused("hello").starts_with("not JSON: expected value"));
    }

    /// The answer that holds a body as deep as allowed is read back by serde_json.
    #[test]
    fn an_answer_holding_the_deepest_body_parses() {
        let answer = format!(
            r#"{{"elapsed_ms": 1, "sources": [{{"name": "a", "body": {}}}]}}"#,
            nested(MAX_BODY_DEPTH)
        );
        serde_json::from_str::<serde_json::Value>(&answer).expect("within the recursion limit");
    }
}
