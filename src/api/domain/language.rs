//! The languages greeter can greet in.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use crate::api::validation::Violation;

/// A language, by its ISO 639-1 code.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Language {
    /// English: "Hello, Ada!"
    #[default]
    En,
    /// French: "Bonjour, Ada!"
    Fr,
    /// Spanish: "¡Hola, Ada!"
    Es,
    /// German: "Hallo, Ada!"
    De,
    /// Japanese: "こんにちは、Adaさん!"
    Ja,
}

impl Language {
    /// Every language, in the order the schema lists them.
    pub const ALL: [Language; 5] = [Self::En, Self::Fr, Self::Es, Self::De, Self::Ja];

    /// The greeting for `name` in this language.
    pub fn greet(self, name: &str) -> String {
        match self {
            Self::En => format!("Hello, {name}!"),
            Self::Fr => format!("Bonjour, {name}!"),
            Self::Es => format!("¡Hola, {name}!"),
            Self::De => format!("Hallo, {name}!"),
            Self::Ja => format!("こんにちは、{name}さん!"),
        }
    }

    /// Reads a language code from JSON; anything else is pydantic's `enum` error.
    pub fn from_json(input: &Value) -> Result<Self, Violation> {
        serde_json::from_value(input.clone()).map_err(|_| {
            let expected = Self::expected();
            Violation::new("enum", format!("Input should be {expected}"))
                .with_ctx(serde_json::json!({"expected": expected}))
        })
    }

    /// `'en', 'fr', 'es', 'de' or 'ja'`, as pydantic words it.
    fn expected() -> String {
        let codes: Vec<String> = Self::ALL
            .iter()
            .map(|language| {
                format!(
                    "'{}'",
                    serde_json::to_value(language).unwrap().as_str().unwrap()
                )
            })
            .collect();
        let (last, rest) = codes.split_last().expect("there are languages");
        format!("{} or {last}", rest.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn codes_are_iso_639_1_and_unknown_ones_are_an_enum_error() {
        use Language::*;
        for (code, language) in [("en", En), ("fr", Fr), ("es", Es), ("de", De), ("ja", Ja)] {
            assert_eq!(Language::from_json(&json!(code)).unwrap(), language);
            assert_eq!(serde_json::to_value(language).unwrap(), json!(code));
        }
        for input in [json!("xx"), json!("EN"), json!(""), json!(1), json!(null)] {
            let violation = Language::from_json(&input).unwrap_err();
            assert_eq!(violation.kind, "enum", "{input}");
            assert_eq!(
                violation.msg,
                "Input should be 'en', 'fr', 'es', 'de' or 'ja'"
            );
        }
    }

    #[test]
    fn greets_in_each_language() {
        assert_eq!(Language::Fr.greet("Ada"), "Bonjour, Ada!");
        assert_eq!(Language::default().greet("Ada"), "Hello, Ada!");
    }
}
