//! A name to greet.

use std::borrow::Cow;
use std::sync::LazyLock;

use regex::Regex;
use serde::Serialize;
use serde_json::{Value, json};
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};
use utoipa::{PartialSchema, ToSchema};

use crate::api::validation::Violation;

/// A name: 1 to 64 characters (Unicode scalar values, not bytes), none of them a control
/// character.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Name(String);

static NO_CONTROL_CHARACTERS: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(Name::PATTERN).expect("Name::PATTERN is a valid regex"));

impl Name {
    /// The fewest characters a name may have.
    pub const MIN_CHARS: usize = 1;
    /// The most characters a name may have.
    pub const MAX_CHARS: usize = 64;
    /// No control character (Unicode category Cc: U+0000-U+001F and U+007F-U+009F). Written in
    /// the syntax that Rust's regex, ECMAScript and Python all read alike, as it is both the
    /// runtime check and the schema's `pattern`.
    pub const PATTERN: &'static str = r"^[^\u0000-\u001F\u007F-\u009F]*$";

    /// Checks `input` against every rule, returning the first one it breaks, in pydantic's order
    /// (length, then pattern).
    pub fn parse(input: &str) -> Result<Self, Violation> {
        let chars = input.chars().count();
        if chars < Self::MIN_CHARS {
            return Err(Violation::new(
                "string_too_short",
                format!("String should have at least {} character", Self::MIN_CHARS),
            )
            .with_ctx(json!({"min_length": Self::MIN_CHARS})));
        }
        if chars > Self::MAX_CHARS {
            return Err(Violation::new(
                "string_too_long",
                format!("String should have at most {} characters", Self::MAX_CHARS),
            )
            .with_ctx(json!({"max_length": Self::MAX_CHARS})));
        }
        if !NO_CONTROL_CHARACTERS.is_match(input) {
            return Err(Violation::new(
                "string_pattern_mismatch",
                format!(
                    "String should match pattern '{}' (no control characters)",
                    Self::PATTERN
                ),
            )
            .with_ctx(json!({"pattern": Self::PATTERN})));
        }
        Ok(Self(input.to_owned()))
    }

    /// Checks a JSON value: it must be a string that [`Name::parse`] accepts.
    pub fn from_json(input: &Value) -> Result<Self, Violation> {
        input
            .as_str()
            .ok_or_else(Violation::string_type)
            .and_then(Self::parse)
    }

    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl PartialSchema for Name {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .description(Some(
                "A name: 1 to 64 characters (Unicode code points), no control characters.",
            ))
            .min_length(Some(Self::MIN_CHARS))
            .max_length(Some(Self::MAX_CHARS))
            .pattern(Some(Self::PATTERN))
            .examples([json!("Ada")])
            .into()
    }
}

impl ToSchema for Name {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("Name")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(input: &str) -> Option<&'static str> {
        Name::parse(input).err().map(|v| v.kind)
    }

    #[test]
    fn length_is_counted_in_characters_at_both_edges() {
        assert_eq!(kind(""), Some("string_too_short"));
        assert_eq!(kind("A"), None);
        assert_eq!(kind(&"a".repeat(64)), None);
        assert_eq!(kind(&"a".repeat(65)), Some("string_too_long"));
        assert_eq!(kind(&"é".repeat(64)), None, "64 two-byte characters");
        assert_eq!(kind(&"𝄞".repeat(64)), None, "64 four-byte characters");
        assert_eq!(kind(&"日".repeat(65)), Some("string_too_long"));
    }

    #[test]
    fn exactly_the_control_characters_are_refused() {
        for code in (0..=0x10FFFF).filter_map(char::from_u32) {
            let refused = kind(&code.to_string()) == Some("string_pattern_mismatch");
            assert_eq!(refused, code.is_control(), "U+{:04X}", code as u32);
        }
    }

    #[test]
    fn non_strings_are_a_string_type_error() {
        for input in [
            json!(42),
            json!(null),
            json!(["Ada"]),
            json!({"name": "Ada"}),
        ] {
            assert_eq!(
                Name::from_json(&input).unwrap_err().kind,
                "string_type",
                "{input}"
            );
        }
        assert_eq!(Name::from_json(&json!("Ada")).unwrap().as_str(), "Ada");
    }
}
