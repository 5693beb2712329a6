//! The caller's parameters of `GET /aggregate` (`?city=Paris&units=metric`), read from the
//! query and checked against their declarations (`[[parameters]]`, [`crate::config::parameters`])
//! before any call: every invalid or missing one is reported at once, in FastAPI's `422`.

use serde_json::{Value, json};

use crate::api::query::{decode_text, query_parameters};
use crate::api::validation::{HttpValidationError, Violation, query_loc};
use crate::config::parameters::Parameter;

/// The values the parameters have for one aggregate, checked: the caller's, or the defaults.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ParameterValues {
    values: Vec<(String, String)>,
}

impl ParameterValues {
    /// The parameters of `query` (a URL's query string) by their declarations: of a repeated
    /// parameter the last counts, and parameters not declared are ignored (both as FastAPI).
    /// `in_path` says, parameter by parameter, whether it fills a path segment, where a value
    /// with a `.` or `..` segment is refused: an upstream that decodes `%2F` and `%2E` before
    /// resolving dot segments (nginx does) would climb out of the configured path.
    pub fn from_query(
        query: &str,
        declared: &[Parameter],
        in_path: &[bool],
    ) -> Result<Self, HttpValidationError> {
        if declared.is_empty() {
            return Ok(Self::default());
        }
        let mut raw: Vec<Option<&str>> = vec![None; declared.len()];
        for (key, value) in query_parameters(query) {
            if let Some(index) = declared.iter().position(|p| p.name == key) {
                raw[index] = Some(value);
            }
        }
        let mut values = Vec::with_capacity(declared.len());
        let mut errors = Vec::new();
        for ((parameter, raw), &in_path) in declared.iter().zip(raw).zip(in_path) {
            let loc = query_loc(&parameter.name);
            let checked = match (raw, &parameter.default) {
                (None, Some(default)) => Ok(default.clone()),
                (None, None) => Err(Violation::missing().at(loc, Value::Null)),
                (Some(raw), _) => match decode_text(raw, true) {
                    Ok(text) if in_path && has_dot_segment(&text) => Err(Violation::new(
                        "value_error",
                        "Value error, a value that fills a path segment cannot hold a '.' or '..' \
                         segment",
                    )
                    .at(loc, json!(text))),
                    Ok(text) => parameter
                        .check(&text)
                        .map_err(|refusal| Violation::from(refusal).at(loc, json!(text))),
                    Err(violation) => Err(violation.at(loc, json!(raw))),
                },
            };
            match checked {
                Ok(value) => values.push((parameter.name.clone(), value)),
                Err(error) => errors.push(error),
            }
        }
        if errors.is_empty() {
            Ok(Self { values })
        } else {
            Err(HttpValidationError { detail: errors })
        }
    }

    /// The value of the parameter `name` (empty for a name not declared, which the settings'
    /// check rules out).
    pub fn get(&self, name: &str) -> &str {
        self.values
            .iter()
            .find(|(n, _)| n == name)
            .map_or("", |(_, value)| value.as_str())
    }
}

/// Whether `value`, split at `/` and `\`, has a `.` or `..` part.
fn has_dot_segment(value: &str) -> bool {
    value
        .split(['/', '\\'])
        .any(|part| part == "." || part == "..")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn declared() -> Vec<Parameter> {
        [
            json!({"name": "city", "required": true, "max_length": 9}),
            json!({"name": "days", "type": "integer", "minimum": 1, "default": 3}),
        ]
        .into_iter()
        .map(|table| Parameter::declare(serde_json::from_value(table).unwrap()).unwrap())
        .collect()
    }

    #[test]
    fn values_come_from_the_query_or_the_defaults() {
        let values = ParameterValues::from_query(
            "city=Saint+%C3%89&x=1&city=Paris",
            &declared(),
            &[true, false],
        )
        .unwrap();
        assert_eq!(values.get("city"), "Paris", "the last one counts");
        assert_eq!(values.get("days"), "3", "the default");
        let values =
            ParameterValues::from_query("city=S%C3%A3o+Paulo&days=07", &declared(), &[true, false])
                .unwrap();
        assert_eq!(values.get("city"), "São Paulo");
        assert_eq!(values.get("days"), "7");
    }

    #[test]
    fn every_invalid_parameter_is_reported_at_once() {
        let error =
            ParameterValues::from_query("days=0&days=x", &declared(), &[true, false]).unwrap_err();
        let body = serde_json::to_value(&error).unwrap();
        assert_eq!(
            body,
            json!({"detail": [
                {"type": "missing", "loc": ["query", "city"], "msg": "Field required",
                 "input": null},
                {"type": "int_parsing", "loc": ["query", "days"],
                 "msg": "Input should be a valid integer, unable to parse string as an integer",
                 "input": "x"},
            ]})
        );
        let error =
            ParameterValues::from_query("city=%ZZ", &declared(), &[true, false]).unwrap_err();
        assert_eq!(error.detail[0].kind, "percent_encoding");
        let error =
            ParameterValues::from_query("city=%FF", &declared(), &[true, false]).unwrap_err();
        assert_eq!(error.detail[0].kind, "string_unicode");
        for climbing in ["..", ".", "a%2F..%2F..%2Fsecret", "a%5C..", "../x"] {
            let query = format!("city={climbing}");
            let error =
                ParameterValues::from_query(&query, &declared(), &[true, false]).unwrap_err();
            assert_eq!(error.detail[0].kind, "value_error", "{climbing}");
            // In a query value the same is no segment: refused, if at all, for its length.
            if let Err(error) = ParameterValues::from_query(&query, &declared(), &[false, false]) {
                assert!(
                    error.detail.iter().all(|e| e.kind != "value_error"),
                    "{climbing}"
                );
            }
        }
        for fine in ["a.b", "...", "a/b", ".x/y."] {
            let query = format!("city={}", fine.replace('/', "%2F"));
            assert!(
                ParameterValues::from_query(&query, &declared(), &[true, false]).is_ok(),
                "{fine}"
            );
        }
    }
}
