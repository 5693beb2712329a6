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
    pub fn from_query(query: &str, declared: &[Parameter]) -> Result<Self, HttpValidationError> {
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
        for (parameter, raw) in declared.iter().zip(raw) {
            let loc = query_loc(&parameter.name);
            let checked = match (raw, &parameter.default) {
                (None, Some(default)) => Ok(default.clone()),
                (None, None) => Err(Violation::missing().at(loc, Value::Null)),
                (Some(raw), _) => match decode_text(raw, true) {
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
        let values =
            ParameterValues::from_query("city=Saint+%C3%89&x=1&city=Paris", &declared()).unwrap();
        assert_eq!(values.get("city"), "Paris", "the last one counts");
        assert_eq!(values.get("days"), "3", "the default");
        let values =
            ParameterValues::from_query("city=S%C3%A3o+Paulo&days=07", &declared()).unwrap();
        assert_eq!(values.get("city"), "São Paulo");
        assert_eq!(values.get("days"), "7");
    }

    #[test]
    fn every_invalid_parameter_is_reported_at_once() {
        let error = ParameterValues::from_query("days=0&days=x", &declared()).unwrap_err();
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
        let error = ParameterValues::from_query("city=%ZZ", &declared()).unwrap_err();
        assert_eq!(error.detail[0].kind, "percent_encoding");
        let error = ParameterValues::from_query("city=%FF", &declared()).unwrap_err();
        assert_eq!(error.detail[0].kind, "string_unicode");
    }
}
