//! The parameters of `GET /aggregate` (`[[parameters]]` in the configuration file): each is a
//! query parameter of the caller's (`GET /aggregate?city=Paris`) that fills the `{city}`
//! placeholders of upstream URLs, in a path segment or a query value. Each is declared with a
//! type (string, integer or enum), its rules (length and pattern, range, values) and either
//! `required = true` or a default, and checked before any call ([`Parameter::check`]).
//!
//! A value is percent-encoded for the slot it fills ([`Template::fill`]): everything but
//! letters, digits, `-`, `_` and `~` (and `.` in a query value), so that no value can add a path
//! segment (`/`, `..`), a query parameter (`&`, `=`), a fragment (`#`) or a line (CR, LF).

use std::fmt;

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// The most parameters `GET /aggregate` takes.
pub const MAX_PARAMETERS: usize = 16;
/// The longest parameter name.
pub const MAX_NAME_CHARS: usize = 32;
/// A string parameter's `max_length` unless declared.
pub const DEFAULT_MAX_LENGTH: u64 = 256;
/// The largest `max_length` a string parameter may declare (a request target is at most
/// `--max-uri-length`, 32 KiB at most, anyway).
pub const LARGEST_MAX_LENGTH: u64 = 32 * 1024;
/// The longest pattern.
pub const MAX_PATTERN_CHARS: usize = 512;
/// The most values an enum parameter may have.
pub const MAX_ENUM_VALUES: usize = 64;
/// The longest description.
pub const MAX_DESCRIPTION_CHARS: usize = 512;

/// What may stay as it is in a path segment: letters, digits, `-`, `_`, `~`. A `.` is encoded
/// there too, so that `..` cannot be a segment of its own.
const PATH_SLOT: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'~');
/// What may stay as it is in a query value: RFC 3986's unreserved characters.
const QUERY_SLOT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// A parameter of `GET /aggregate`.
#[derive(Debug, Clone, PartialEq)]
pub struct Parameter {
    /// Its name in the query and in placeholders: 1 to 32 of `a-z`, `0-9` and `_`, starting
    /// with a letter.
    pub name: String,
    /// What it means, for the document.
    pub description: Option<String>,
    /// What values it takes.
    pub rule: Rule,
    /// The value when the caller gives none (checked); `None` when it is required.
    pub default: Option<String>,
}

/// The values a parameter takes.
#[derive(Debug, Clone, PartialEq)]
pub enum Rule {
    /// Text of `min_length` to `max_length` characters, matching `pattern` if any.
    String {
        /// The fewest characters.
        min_length: u64,
        /// The most characters.
        max_length: u64,
        /// A regular expression the value must match somewhere (anchor it with `^...$`).
        pattern: Option<Pattern>,
    },
    /// A whole number (64-bit), within the bounds given.
    Integer {
        /// The smallest accepted.
        minimum: Option<i64>,
        /// The largest accepted.
        maximum: Option<i64>,
    },
    /// One of these values.
    Enum {
        /// The values, in declared order.
        values: Vec<String>,
    },
}

/// A parameter's regular expression: as written (for the document), and compiled.
#[derive(Clone)]
pub struct Pattern {
    source: String,
    regex: regex::Regex,
}

impl Pattern {
    /// The expression as written.
    pub fn as_str(&self) -> &str {
        &self.source
    }
}

impl PartialEq for Pattern {
    fn eq(&self, other: &Self) -> bool {
        self.source == other.source
    }
}

impl fmt::Debug for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.source)
    }
}

/// Why a value is refused, in pydantic's terms (FastAPI's `422` entries).
#[derive(Debug, Clone, PartialEq)]
pub struct Refusal {
    /// pydantic's error type, e.g. `string_too_long`.
    pub kind: &'static str,
    /// A sentence for a person.
    pub msg: String,
    /// The rule's parameters, e.g. `{"max_length": 64}`.
    pub ctx: Option<Value>,
}

impl Refusal {
    fn new(kind: &'static str, msg: String, ctx: Value) -> Self {
        Self {
            kind,
            msg,
            ctx: Some(ctx),
        }
    }
}

/// A `[[parameters]]` table of the configuration file.
#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Declaration {
    name: String,
    #[serde(rename = "type")]
    kind: Option<String>,
    description: Option<String>,
    #[serde(default)]
    required: bool,
    default: Option<Value>,
    min_length: Option<u64>,
    max_length: Option<u64>,
    pattern: Option<String>,
    minimum: Option<i64>,
    maximum: Option<i64>,
    values: Option<Vec<String>>,
}

impl Parameter {
    /// The parameter a `[[parameters]]` table declares; the error names the key at fault.
    pub fn declare(table: Declaration) -> Result<Self, (&'static str, String)> {
        let name_ok = (1..=MAX_NAME_CHARS).contains(&table.name.len())
            && table.name.starts_with(|c: char| c.is_ascii_lowercase())
            && table
                .name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
        if !name_ok {
            return Err((
                "name",
                format!(
                    "{:?} must be 1 to {MAX_NAME_CHARS} of a-z, 0-9 and _, starting with a letter",
                    table.name
                ),
            ));
        }
        if table
            .description
            .as_ref()
            .is_some_and(|d| d.chars().count() > MAX_DESCRIPTION_CHARS)
        {
            return Err((
                "description",
                format!("at most {MAX_DESCRIPTION_CHARS} characters"),
            ));
        }
        let kind = table.kind.as_deref().unwrap_or("string");
        let only = |keys: &[(&'static str, bool)]| match keys.iter().find(|(_, given)| *given) {
            Some((key, _)) => Err((
                *key,
                format!("does not apply to a parameter of type {kind}"),
            )),
            None => Ok(()),
        };
        let rule = match kind {
            "string" => {
                only(&[
                    ("minimum", table.minimum.is_some()),
                    ("maximum", table.maximum.is_some()),
                    ("values", table.values.is_some()),
                ])?;
                let min_length = table.min_length.unwrap_or(1);
                let max_length = table.max_length.unwrap_or(DEFAULT_MAX_LENGTH);
                if max_length > LARGEST_MAX_LENGTH {
                    return Err(("max_length", format!("at most {LARGEST_MAX_LENGTH}")));
                }
                if min_length > max_length {
                    return Err(("min_length", format!("above max_length ({max_length})")));
                }
                let pattern = match table.pattern {
                    Some(source) => Some(compile(source).map_err(|why| ("pattern", why))?),
                    None => None,
                };
                Rule::String {
                    min_length,
                    max_length,
                    pattern,
                }
            }
            "integer" => {
                only(&[
                    ("min_length", table.min_length.is_some()),
                    ("max_length", table.max_length.is_some()),
                    ("pattern", table.pattern.is_some()),
                    ("values", table.values.is_some()),
                ])?;
                if let (Some(minimum), Some(maximum)) = (table.minimum, table.maximum)
                    && minimum > maximum
                {
                    return Err(("minimum", format!("above maximum ({maximum})")));
                }
                Rule::Integer {
                    minimum: table.minimum,
                    maximum: table.maximum,
                }
            }
            "enum" => {
                only(&[
                    ("min_length", table.min_length.is_some()),
                    ("max_length", table.max_length.is_some()),
                    ("pattern", table.pattern.is_some()),
                    ("minimum", table.minimum.is_some()),
                    ("maximum", table.maximum.is_some()),
                ])?;
                let values = table.values.unwrap_or_default();
                if !(1..=MAX_ENUM_VALUES).contains(&values.len()) {
                    return Err(("values", format!("1 to {MAX_ENUM_VALUES} values")));
                }
                for (index, value) in values.iter().enumerate() {
                    if value.is_empty() || value.chars().count() > DEFAULT_MAX_LENGTH as usize {
                        return Err((
                            "values",
                            format!("{value:?}: a value is 1 to {DEFAULT_MAX_LENGTH} characters"),
                        ));
                    }
                    if values[..index].contains(value) {
                        return Err(("values", format!("{value:?} is given twice")));
                    }
                }
                Rule::Enum { values }
            }
            other => {
                return Err((
                    "type",
                    format!("{other:?}: a parameter is a string, an integer or an enum"),
                ));
            }
        };
        let mut parameter = Self {
            name: table.name,
            description: table.description,
            rule,
            default: None,
        };
        parameter.default = match (table.required, table.default) {
            (true, Some(_)) => {
                return Err(("default", "a required parameter has no default".to_owned()));
            }
            (false, None) => {
                return Err((
                    "required",
                    "give required = true, or a default for when the caller gives none".to_owned(),
                ));
            }
            (true, None) => None,
            (false, Some(default)) => {
                let text = match default {
                    Value::String(text) => text,
                    Value::Number(number) => number.to_string(),
                    other => {
                        return Err((
                            "default",
                            format!("{other} is not a value of the parameter"),
                        ));
                    }
                };
                let checked = parameter
                    .check(&text)
                    .map_err(|refusal| ("default", format!("{text:?}: {}", refusal.msg)))?;
                Some(checked)
            }
        };
        Ok(parameter)
    }

    /// `value` as it fills placeholders (an integer in its canonical form), or why it is
    /// refused, checked in pydantic's order (type, then length or range, then pattern).
    pub fn check(&self, value: &str) -> Result<String, Refusal> {
        match &self.rule {
            Rule::String {
                min_length,
                max_length,
                pattern,
            } => {
                let chars = value.chars().count() as u64;
                if chars < *min_length {
                    let plural = if *min_length == 1 { "" } else { "s" };
                    return Err(Refusal::new(
                        "string_too_short",
                        format!("String should have at least {min_length} character{plural}"),
                        json!({"min_length": min_length}),
                    ));
                }
                if chars > *max_length {
                    let plural = if *max_length == 1 { "" } else { "s" };
                    return Err(Refusal::new(
                        "string_too_long",
                        format!("String should have at most {max_length} character{plural}"),
                        json!({"max_length": max_length}),
                    ));
                }
                if let Some(pattern) = pattern
                    && !pattern.regex.is_match(value)
                {
                    return Err(Refusal::new(
                        "string_pattern_mismatch",
                        format!("String should match pattern '{}'", pattern.source),
                        json!({"pattern": pattern.source}),
                    ));
                }
                Ok(value.to_owned())
            }
            Rule::Integer { minimum, maximum } => {
                let digits = value.strip_prefix('-').unwrap_or(value);
                let number = if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
                    value.parse::<i64>().ok()
                } else {
                    None
                };
                let Some(number) = number else {
                    return Err(Refusal {
                        kind: "int_parsing",
                        msg: "Input should be a valid integer, unable to parse string as an \
                              integer"
                            .to_owned(),
                        ctx: None,
                    });
                };
                if let Some(minimum) = minimum
                    && number < *minimum
                {
                    return Err(Refusal::new(
                        "greater_than_equal",
                        format!("Input should be greater than or equal to {minimum}"),
                        json!({"ge": minimum}),
                    ));
                }
                if let Some(maximum) = maximum
                    && number > *maximum
                {
                    return Err(Refusal::new(
                        "less_than_equal",
                        format!("Input should be less than or equal to {maximum}"),
                        json!({"le": maximum}),
                    ));
                }
                Ok(number.to_string())
            }
            Rule::Enum { values } => {
                if values.iter().any(|v| v == value) {
                    return Ok(value.to_owned());
                }
                let expected = expected(values);
                Err(Refusal::new(
                    "enum",
                    format!("Input should be {expected}"),
                    json!({"expected": expected}),
                ))
            }
        }
    }
}

/// `'a', 'b' or 'c'`, as pydantic words an enum's values.
fn expected(values: &[String]) -> String {
    let quoted: Vec<String> = values.iter().map(|v| format!("'{v}'")).collect();
    match quoted.split_last() {
        Some((last, [])) => last.clone(),
        Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
        None => String::new(),
    }
}

/// `source` compiled, within a size that keeps a match cheap.
fn compile(source: String) -> Result<Pattern, String> {
    if source.chars().count() > MAX_PATTERN_CHARS {
        return Err(format!("at most {MAX_PATTERN_CHARS} characters"));
    }
    // A small program: matching costs time in proportion to it and to the value, on the
    // worker's event loop.
    let regex = regex::RegexBuilder::new(&source)
        .size_limit(64 << 10)
        .build()
        .map_err(|error| {
            let error = error.to_string();
            let last = error.lines().last().unwrap_or("not a regular expression");
            format!("{source:?} is not a regular expression: {}", last.trim())
        })?;
    Ok(Pattern { source, regex })
}

/// Where a placeholder sits, and so what its value is encoded for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Slot {
    /// In the path.
    Path,
    /// In the query.
    Query,
}

/// One piece of an upstream URL's path and query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Piece {
    /// Text sent as it is.
    Literal(String),
    /// `{name}`: the parameter's value, encoded for its slot.
    Placeholder {
        /// The parameter's name.
        name: String,
        /// Where it sits.
        slot: Slot,
    },
}

/// An upstream URL's path and query, split at its `{name}` placeholders.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    pieces: Vec<Piece>,
}

impl Template {
    /// Splits `target` (a path and query) at its placeholders; a brace that opens no
    /// placeholder of a valid name is an error (a literal brace is written `%7B` or `%7D`).
    pub fn parse(target: &str) -> Result<Self, String> {
        let mut pieces = Vec::new();
        let mut rest = target;
        let mut in_query = false;
        while let Some(open) = rest.find(['{', '}']) {
            let literal = &rest[..open];
            in_query |= literal.contains('?');
            let Some(after) = rest[open..].strip_prefix('{') else {
                return Err("a } that closes no placeholder (write a brace as %7D)".to_owned());
            };
            let Some(close) = after.find('}') else {
                return Err("a { without its } (write a brace as %7B)".to_owned());
            };
            let name = &after[..close];
            let valid = !name.is_empty()
                && name.len() <= MAX_NAME_CHARS
                && name.starts_with(|c: char| c.is_ascii_lowercase())
                && name
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
            if !valid {
                return Err(format!(
                    "{{{name}}} is not a placeholder: a parameter's name is 1 to \
                     {MAX_NAME_CHARS} of a-z, 0-9 and _ (write a brace as %7B)"
                ));
            }
            if !literal.is_empty() {
                pieces.push(Piece::Literal(literal.to_owned()));
            }
            pieces.push(Piece::Placeholder {
                name: name.to_owned(),
                slot: if in_query { Slot::Query } else { Slot::Path },
            });
            rest = &after[close + 1..];
        }
        if !rest.is_empty() {
            pieces.push(Piece::Literal(rest.to_owned()));
        }
        Ok(Self { pieces })
    }

    /// The placeholders, in order.
    pub fn placeholders(&self) -> impl Iterator<Item = (&str, Slot)> {
        self.pieces.iter().filter_map(|piece| match piece {
            Piece::Placeholder { name, slot } => Some((name.as_str(), *slot)),
            Piece::Literal(_) => None,
        })
    }

    /// Whether it has no placeholder.
    pub fn is_fixed(&self) -> bool {
        self.placeholders().next().is_none()
    }

    /// The path and query with each placeholder replaced by `value_of` its name, encoded for
    /// its slot.
    pub fn fill<'a>(&self, value_of: impl Fn(&str) -> &'a str) -> String {
        let mut target = String::new();
        for piece in &self.pieces {
            match piece {
                Piece::Literal(text) => target.push_str(text),
                Piece::Placeholder { name, slot } => {
                    let set = match slot {
                        Slot::Path => PATH_SLOT,
                        Slot::Query => QUERY_SLOT,
                    };
                    target.extend(utf8_percent_encode(value_of(name), set));
                }
            }
        }
        target
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn declare(toml: Value) -> Result<Parameter, (&'static str, String)> {
        Parameter::declare(serde_json::from_value(toml).unwrap())
    }

    #[test]
    fn values_are_checked_in_pydantics_words() {
        let city = declare(json!({"name": "city", "required": true, "max_length": 5,
                                  "pattern": "^[A-Za-z ]+$"}))
        .unwrap();
        assert_eq!(city.check("Paris").unwrap(), "Paris");
        let refused = |p: &Parameter, v: &str| p.check(v).unwrap_err();
        assert_eq!(refused(&city, "").kind, "string_too_short");
        assert_eq!(
            refused(&city, "").msg,
            "String should have at least 1 character"
        );
        assert_eq!(
            refused(&city, "Londres").msg,
            "String should have at most 5 characters"
        );
        assert_eq!(refused(&city, "Rome!").kind, "string_pattern_mismatch");
        assert_eq!(
            refused(&city, "Rome!").ctx,
            Some(json!({"pattern": "^[A-Za-z ]+$"}))
        );

        let days = declare(json!({"name": "days", "type": "integer", "minimum": 1,
                                  "maximum": 16, "default": 3}))
        .unwrap();
        assert_eq!(days.default.as_deref(), Some("3"));
        assert_eq!(days.check("007").unwrap(), "7", "canonical");
        for bad in ["", "-", "1.5", " 3", "+3", "3x", "99999999999999999999"] {
            assert_eq!(refused(&days, bad).kind, "int_parsing", "{bad:?}");
        }
        assert_eq!(
            refused(&days, "0").msg,
            "Input should be greater than or equal to 1"
        );
        assert_eq!(refused(&days, "17").ctx, Some(json!({"le": 16})));

        let units = declare(json!({"name": "units", "type": "enum",
                                   "values": ["metric", "imperial", "kelvin"],
                                   "default": "metric"}))
        .unwrap();
        assert_eq!(
            refused(&units, "Metric").msg,
            "Input should be 'metric', 'imperial' or 'kelvin'"
        );
    }

    #[test]
    fn bad_declarations_name_their_key() {
        for (table, key, says) in [
            (
                json!({"name": "City", "required": true}),
                "name",
                "must be 1 to 32",
            ),
            (
                json!({"name": "c", "type": "float", "required": true}),
                "type",
                "a string",
            ),
            (json!({"name": "c"}), "required", "give required = true"),
            (
                json!({"name": "c", "required": true, "default": "x"}),
                "default",
                "no default",
            ),
            (
                json!({"name": "c", "default": ""}),
                "default",
                "at least 1 character",
            ),
            (
                json!({"name": "c", "type": "integer", "default": 1, "pattern": "x"}),
                "pattern",
                "does not apply",
            ),
            (
                json!({"name": "c", "required": true, "pattern": "("}),
                "pattern",
                "not a regular expression",
            ),
            (
                json!({"name": "c", "required": true, "min_length": 3, "max_length": 2}),
                "min_length",
                "above max_length",
            ),
            (
                json!({"name": "c", "type": "enum", "required": true}),
                "values",
                "1 to 64",
            ),
            (
                json!({"name": "c", "type": "enum", "values": ["a", "a"], "required": true}),
                "values",
                "twice",
            ),
            (
                json!({"name": "c", "type": "integer", "minimum": 2, "maximum": 1,
                    "required": true}),
                "minimum",
                "above maximum",
            ),
        ] {
            let (at, why) = declare(table.clone()).unwrap_err();
            assert_eq!(at, key, "{table}: {why}");
            assert!(why.contains(says), "{table}: {why}");
        }
    }

    #[test]
    fn a_value_is_encoded_for_the_slot_it_fills() {
        let template = Template::parse("/v1/{city}/days?units={units}&x={city}").unwrap();
        assert_eq!(
            template.placeholders().collect::<Vec<_>>(),
            [
                ("city", Slot::Path),
                ("units", Slot::Query),
                ("city", Slot::Query)
            ]
        );
        let value = "../a/b?c=d&e#f%2F\r\n\0 é.~_-";
        let filled = template.fill(|name| if name == "city" { value } else { "metric" });
        assert_eq!(
            filled,
            "/v1/%2E%2E%2Fa%2Fb%3Fc%3Dd%26e%23f%252F%0D%0A%00%20%C3%A9%2E~_-/days?units=metric\
             &x=..%2Fa%2Fb%3Fc%3Dd%26e%23f%252F%0D%0A%00%20%C3%A9.~_-"
        );
        assert!(Template::parse("/fixed?a=1").unwrap().is_fixed());
        for bad in ["/{", "/}", "/{}", "/{Bad}", "/{a-b}"] {
            assert!(Template::parse(bad).is_err(), "{bad}");
        }
    }
}
