//! Validation errors in FastAPI's shape: `422 {"detail": [ValidationError, ...]}`, one entry per
//! invalid input, with pydantic's `type` names so that FastAPI clients keep working.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;
use serde_json::Value;
use std::borrow::Cow;

use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, OneOfBuilder, SchemaFormat, Type};
use utoipa::openapi::{RefOr, Schema};
use utoipa::{PartialSchema, ToSchema};

/// One step of an error's location: a key (`"body"`, `"name"`) or a position in the input.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum LocationItem {
    /// A part of the request or a field name.
    Key(String),
    /// A character position, e.g. of a JSON syntax error.
    Index(usize),
}

impl PartialSchema for LocationItem {
    fn schema() -> RefOr<Schema> {
        let key = ObjectBuilder::new()
            .schema_type(Type::String)
            .description(Some(
                "A part of the request (`body`, `path`, `query`) or a field name.",
            ))
            .max_length(Some(64))
            .pattern(Some("^[a-z_]+$"));
        let index = ObjectBuilder::new()
            .schema_type(Type::Integer)
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::Int64)))
            .description(Some(
                "A character position in the body (at most `--max-body`, 1 GiB).",
            ))
            .minimum(Some(0))
            .maximum(Some(1 << 30));
        OneOfBuilder::new().item(key).item(index).into()
    }
}

impl ToSchema for LocationItem {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("LocationItem")
    }
}

impl From<&str> for LocationItem {
    fn from(key: &str) -> Self {
        Self::Key(key.to_owned())
    }
}

impl From<usize> for LocationItem {
    fn from(index: usize) -> Self {
        Self::Index(index)
    }
}

/// What is wrong with one input, in pydantic's terms.
#[derive(Debug, Clone, PartialEq)]
pub struct Violation {
    /// pydantic's error type, e.g. `string_too_long`.
    pub kind: &'static str,
    /// A sentence for a person.
    pub msg: String,
    /// The rule's parameters, e.g. `{"max_length": 64}`.
    pub ctx: Option<Value>,
}

impl Violation {
    /// A violation of `kind` explained by `msg`.
    pub fn new(kind: &'static str, msg: impl Into<String>) -> Self {
        Self {
            kind,
            msg: msg.into(),
            ctx: None,
        }
    }

    /// The same with the rule's parameters.
    pub fn with_ctx(mut self, ctx: Value) -> Self {
        self.ctx = Some(ctx);
        self
    }

    /// Places the violation at `loc`, naming the offending `input`.
    pub fn at(self, loc: Vec<LocationItem>, input: Value) -> ValidationError {
        ValidationError {
            loc,
            msg: self.msg,
            kind: self.kind.to_owned(),
            input,
            ctx: self.ctx,
        }
    }

    /// A required input is absent.
    pub fn missing() -> Self {
        Self::new("missing", "Field required")
    }

    /// The input is not a string.
    pub fn string_type() -> Self {
        Self::new("string_type", "Input should be a valid string")
    }
}

impl From<crate::config::parameters::Refusal> for Violation {
    fn from(refusal: crate::config::parameters::Refusal) -> Self {
        Self {
            kind: refusal.kind,
            msg: refusal.msg,
            ctx: refusal.ctx,
        }
    }
}

/// One invalid input: where it is, what is wrong, and what was sent.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[schema(example = json!({
    "type": "string_too_long",
    "loc": ["body", "name"],
    "msg": "String should have at most 64 characters",
    "input": "a name far longer than sixty-four characters, which is more than anybody needs",
    "ctx": {"max_length": 64}
}))]
pub struct ValidationError {
    /// Where the input is: `["path", "name"]`, `["body", "name"]`, or `["body", 12]` for a JSON
    /// syntax error at character 12.
    #[schema(max_items = 8)]
    pub loc: Vec<LocationItem>,
    /// What is wrong, for a person to read.
    #[schema(max_length = 512)]
    pub msg: String,
    /// What is wrong, for a program: pydantic's error type, e.g. `missing`, `string_too_long`,
    /// `string_pattern_mismatch`, `enum`, `json_invalid`.
    #[serde(rename = "type")]
    #[schema(max_length = 64, pattern = "^[a-z_]+$")]
    pub kind: String,
    /// The input as it was received.
    pub input: Value,
    /// The rule's parameters, e.g. `{"max_length": 64}`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Object, required = false)]
    pub ctx: Option<Value>,
}

/// The `422` answer: every invalid input of the request at once.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[schema(as = HTTPValidationError)]
pub struct HttpValidationError {
    /// One entry per invalid input.
    #[schema(max_items = 64)]
    pub detail: Vec<ValidationError>,
}

impl From<ValidationError> for HttpValidationError {
    fn from(error: ValidationError) -> Self {
        Self {
            detail: vec![error],
        }
    }
}

impl std::fmt::Display for HttpValidationError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kinds: Vec<&str> = self.detail.iter().map(|e| e.kind.as_str()).collect();
        write!(f, "invalid input: {}", kinds.join(", "))
    }
}

impl ResponseError for HttpValidationError {
    fn status_code(&self) -> StatusCode {
        StatusCode::UNPROCESSABLE_ENTITY
    }

    fn error_response(&self) -> HttpResponse {
        HttpResponse::build(self.status_code()).json(self)
    }
}

/// `["path", name]`.
pub fn path_loc(name: &str) -> Vec<LocationItem> {
    vec!["path".into(), name.into()]
}

/// `["query", name]`.
pub fn query_loc(name: &str) -> Vec<LocationItem> {
    vec!["query".into(), name.into()]
}

/// `["body", field]`, or `["body"]` for the body as a whole.
pub fn body_loc(field: Option<&str>) -> Vec<LocationItem> {
    std::iter::once("body".into())
        .chain(field.map(Into::into))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn serializes_in_fastapi_shape() {
        let error = Violation::new(
            "string_too_long",
            "String should have at most 64 characters",
        )
        .with_ctx(json!({"max_length": 64}))
        .at(body_loc(Some("name")), json!("x"));
        let body = serde_json::to_value(HttpValidationError::from(error)).unwrap();
        assert_eq!(
            body,
            json!({"detail": [{
                "loc": ["body", "name"],
                "msg": "String should have at most 64 characters",
                "type": "string_too_long",
                "input": "x",
                "ctx": {"max_length": 64}
            }]})
        );
    }

    #[test]
    fn positions_serialize_as_numbers_and_ctx_is_omitted_when_empty() {
        let error = Violation::new("json_invalid", "JSON decode error")
            .at(vec!["body".into(), 7.into()], json!({}));
        let value = serde_json::to_value(&error).unwrap();
        assert_eq!(value["loc"], json!(["body", 7]));
        assert!(value.get("ctx").is_none());
    }
}
