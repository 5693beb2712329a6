//! The OpenAPI 3.0 edition of the document, for the many client generators that read only 3.0
//! (Rust's progenitor, AutoRest, swagger-codegen, older openapi-generator).
//!
//! utoipa emits OpenAPI 3.1 only, so the 3.0.3 document is derived from it by [`downgrade`]. The
//! conversion knows every construct this API's document uses and fails loudly on any other,
//! rather than emit something a 3.0 reader would misunderstand.

use std::fmt;

use serde_json::{Map, Value, json};

/// The OpenAPI version the conversion produces.
pub const VERSION: &str = "3.0.3";

/// A construct the conversion does not know; `pointer` is where it is (a JSON pointer).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnsupportedConstruct {
    /// Where in the 3.1 document.
    pub pointer: String,
    /// What it is.
    pub what: String,
}

impl fmt::Display for UnsupportedConstruct {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "cannot express {} at {} in OpenAPI {VERSION}",
            self.what, self.pointer
        )
    }
}

impl std::error::Error for UnsupportedConstruct {}

type Result<T> = std::result::Result<T, UnsupportedConstruct>;

fn unsupported(pointer: &str, what: impl Into<String>) -> UnsupportedConstruct {
    UnsupportedConstruct {
        pointer: pointer.to_owned(),
        what: what.into(),
    }
}

/// Schema keywords that mean the same in OpenAPI 3.0 and are copied as they are.
const PLAIN_SCHEMA_KEYWORDS: &[&str] = &[
    "title",
    "description",
    "format",
    "default",
    "enum",
    "example",
    "required",
    "minLength",
    "maxLength",
    "pattern",
    "minimum",
    "maximum",
    "multipleOf",
    "minItems",
    "maxItems",
    "uniqueItems",
    "minProperties",
    "maxProperties",
    "readOnly",
    "writeOnly",
    "deprecated",
    "discriminator",
    "nullable",
    "xml",
    "externalDocs",
];

/// Converts an OpenAPI 3.1 document into OpenAPI 3.0.3.
pub fn downgrade(doc: &Value) -> Result<Value> {
    let root = object(doc, "")?;
    let mut out = Map::new();
    for (key, value) in root {
        let pointer = format!("/{}", escape(key));
        let converted = match key.as_str() {
            "openapi" => json!(VERSION),
            "info" => info(value, &pointer)?,
            "paths" => paths(value, &pointer)?,
            "components" => components(value, &pointer)?,
            "servers" | "security" | "tags" | "externalDocs" => value.clone(),
            other if other.starts_with("x-") => value.clone(),
            other => {
                return Err(unsupported(
                    &pointer,
                    format!("the top-level field `{other}`"),
                ));
            }
        };
        out.insert(key.clone(), converted);
    }
    Ok(Value::Object(out))
}

fn info(info: &Value, pointer: &str) -> Result<Value> {
    let mut out = object(info, pointer)?.clone();
    if out.contains_key("summary") {
        return Err(unsupported(&format!("{pointer}/summary"), "`info.summary`"));
    }
    if let Some(license) = out.get_mut("license").and_then(Value::as_object_mut) {
        // 3.0 has no SPDX `identifier`; point `url` at the SPDX page of the licence instead.
        if let Some(identifier) = license.remove("identifier") {
            let identifier = identifier.as_str().unwrap_or_default();
            license
                .entry("url")
                .or_insert_with(|| json!(format!("https://spdx.org/licenses/{identifier}.html")));
        }
    }
    Ok(Value::Object(out))
}

fn paths(paths: &Value, pointer: &str) -> Result<Value> {
    let mut out = Map::new();
    for (path, item) in object(paths, pointer)? {
        let item_pointer = format!("{pointer}/{}", escape(path));
        let mut converted = Map::new();
        for (key, value) in object(item, &item_pointer)? {
            let field_pointer = format!("{item_pointer}/{key}");
            let value = match key.as_str() {
                "get" | "put" | "post" | "delete" | "options" | "head" | "patch" | "trace" => {
                    operation(value, &field_pointer)?
                }
                "parameters" => parameters(value, &field_pointer)?,
                "summary" | "description" | "servers" => value.clone(),
                other => {
                    return Err(unsupported(
                        &field_pointer,
                        format!("the path item field `{other}`"),
                    ));
                }
            };
            converted.insert(key.clone(), value);
        }
        out.insert(path.clone(), Value::Object(converted));
    }
    Ok(Value::Object(out))
}

fn operation(operation: &Value, pointer: &str) -> Result<Value> {
    let mut out = object(operation, pointer)?.clone();
    if let Some(parameters_value) = out.get("parameters") {
        let converted = parameters(parameters_value, &format!("{pointer}/parameters"))?;
        out.insert("parameters".into(), converted);
    }
    if let Some(body) = out.get_mut("requestBody") {
        content_of(body, &format!("{pointer}/requestBody"))?;
    }
    if let Some(responses) = out.get_mut("responses").and_then(Value::as_object_mut) {
        for (status, response) in responses.iter_mut() {
            content_of(response, &format!("{pointer}/responses/{status}"))?;
        }
    }
    if out.contains_key("callbacks") {
        return Err(unsupported(&format!("{pointer}/callbacks"), "callbacks"));
    }
    Ok(Value::Object(out))
}

fn parameters(parameters: &Value, pointer: &str) -> Result<Value> {
    let list = parameters
        .as_array()
        .ok_or_else(|| unsupported(pointer, "parameters that are not a list"))?;
    let mut out = Vec::with_capacity(list.len());
    for (index, parameter) in list.iter().enumerate() {
        let parameter_pointer = format!("{pointer}/{index}");
        let mut converted = object(parameter, &parameter_pointer)?.clone();
        if let Some(schema_value) = converted.get("schema") {
            let schema = schema(schema_value, &format!("{parameter_pointer}/schema"))?;
            converted.insert("schema".into(), schema);
        }
        out.push(Value::Object(converted));
    }
    Ok(Value::Array(out))
}

/// Converts the schemas inside a request body's or a response's `content`, in place.
fn content_of(holder: &mut Value, pointer: &str) -> Result<()> {
    let Some(content) = holder.get_mut("content").and_then(Value::as_object_mut) else {
        return Ok(());
    };
    for (media_type, media) in content.iter_mut() {
        let media_pointer = format!("{pointer}/content/{}", escape(media_type));
        if let Some(schema_value) = media.get("schema") {
            let schema = schema(schema_value, &format!("{media_pointer}/schema"))?;
            media["schema"] = schema;
        }
    }
    Ok(())
}

fn components(components: &Value, pointer: &str) -> Result<Value> {
    let mut out = Map::new();
    for (key, value) in object(components, pointer)? {
        let field_pointer = format!("{pointer}/{key}");
        let value = match key.as_str() {
            "schemas" => {
                let mut schemas = Map::new();
                for (name, definition) in object(value, &field_pointer)? {
                    let schema_pointer = format!("{field_pointer}/{}", escape(name));
                    schemas.insert(name.clone(), schema(definition, &schema_pointer)?);
                }
                Value::Object(schemas)
            }
            "responses" | "parameters" | "examples" | "requestBodies" | "headers"
            | "securitySchemes" | "links" => value.clone(),
            other => {
                return Err(unsupported(
                    &field_pointer,
                    format!("the components field `{other}`"),
                ));
            }
        };
        out.insert(key.clone(), value);
    }
    Ok(Value::Object(out))
}

/// Converts one JSON Schema (2020-12 dialect) into an OpenAPI 3.0 Schema Object.
fn schema(schema_value: &Value, pointer: &str) -> Result<Value> {
    let source = object(schema_value, pointer)?;

    // A 3.0 `$ref` ignores its siblings: keep them by wrapping the reference in `allOf`.
    if let Some(reference) = source.get("$ref") {
        let siblings: Map<String, Value> = source
            .iter()
            .filter(|(k, _)| *k != "$ref")
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        if siblings.is_empty() {
            return Ok(json!({"$ref": reference}));
        }
        let mut wrapped = Map::new();
        wrapped.insert("allOf".into(), json!([{"$ref": reference}]));
        wrapped.extend(siblings);
        return schema(&Value::Object(wrapped), pointer);
    }

    let mut out = Map::new();
    for (key, value) in source {
        let field_pointer = format!("{pointer}/{key}");
        match key.as_str() {
            "type" => type_keyword(value, &field_pointer, &mut out)?,
            "examples" => {
                let first = value
                    .as_array()
                    .and_then(|list| list.first())
                    .ok_or_else(|| {
                        unsupported(&field_pointer, "`examples` that is not a non-empty list")
                    })?;
                out.entry("example").or_insert_with(|| first.clone());
            }
            "const" => {
                out.insert("enum".into(), json!([value]));
            }
            "properties" => {
                let mut properties = Map::new();
                for (name, property) in object(value, &field_pointer)? {
                    let property_pointer = format!("{field_pointer}/{}", escape(name));
                    properties.insert(name.clone(), schema(property, &property_pointer)?);
                }
                out.insert(key.clone(), Value::Object(properties));
            }
            "items" | "not" => {
                out.insert(key.clone(), schema(value, &field_pointer)?);
            }
            "additionalProperties" => {
                let converted = if value.is_boolean() {
                    value.clone()
                } else {
                    schema(value, &field_pointer)?
                };
                out.insert(key.clone(), converted);
            }
            "allOf" | "oneOf" | "anyOf" => {
                let members = value.as_array().ok_or_else(|| {
                    unsupported(&field_pointer, format!("`{key}` that is not a list"))
                })?;
                let mut converted = Vec::new();
                for (index, member) in members.iter().enumerate() {
                    // 3.1's `{"type": "null"}` alternative becomes 3.0's `nullable`.
                    if member == &json!({"type": "null"}) && key != "allOf" {
                        out.insert("nullable".into(), json!(true));
                        continue;
                    }
                    converted.push(schema(member, &format!("{field_pointer}/{index}"))?);
                }
                out.insert(key.clone(), Value::Array(converted));
            }
            plain if PLAIN_SCHEMA_KEYWORDS.contains(&plain) || plain.starts_with("x-") => {
                out.insert(key.clone(), value.clone());
            }
            other => {
                return Err(unsupported(
                    &field_pointer,
                    format!("the schema keyword `{other}`"),
                ));
            }
        }
    }
    Ok(Value::Object(out))
}

/// `type: "string"` stays; `type: ["string", "null"]` becomes `type: string, nullable: true`.
fn type_keyword(value: &Value, pointer: &str, out: &mut Map<String, Value>) -> Result<()> {
    match value {
        Value::String(name) if name == "null" => Err(unsupported(pointer, "a schema of type null")),
        Value::String(_) => {
            out.insert("type".into(), value.clone());
            Ok(())
        }
        Value::Array(names) => {
            let (nulls, others): (Vec<&Value>, Vec<&Value>) =
                names.iter().partition(|name| name.as_str() == Some("null"));
            match others.as_slice() {
                [single] => {
                    out.insert("type".into(), (*single).clone());
                    if !nulls.is_empty() {
                        out.insert("nullable".into(), json!(true));
                    }
                    Ok(())
                }
                _ => Err(unsupported(pointer, format!("the type list {value}"))),
            }
        }
        _ => Err(unsupported(pointer, format!("the type {value}"))),
    }
}

fn object<'a>(value: &'a Value, pointer: &str) -> Result<&'a Map<String, Value>> {
    value.as_object().ok_or_else(|| {
        unsupported(
            pointer,
            format!("a non-object where an object belongs: {value}"),
        )
    })
}

/// Escapes a key for a JSON pointer (RFC 6901).
fn escape(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc_with_schema(schema: Value) -> Value {
        json!({"openapi": "3.1.0", "info": {"title": "t", "version": "1"}, "paths": {},
               "components": {"schemas": {"S": schema}}})
    }

    fn converted_schema(schema: Value) -> Value {
        downgrade(&doc_with_schema(schema)).unwrap()["components"]["schemas"]["S"].clone()
    }

    fn failure(schema: Value) -> UnsupportedConstruct {
        downgrade(&doc_with_schema(schema)).unwrap_err()
    }

    #[test]
    fn sets_the_version() {
        assert_eq!(
            downgrade(&doc_with_schema(json!({}))).unwrap()["openapi"],
            "3.0.3"
        );
    }

    #[test]
    fn nullable_type_lists_become_nullable() {
        assert_eq!(
            converted_schema(json!({"type": ["string", "null"]})),
            json!({"type": "string", "nullable": true})
        );
        assert_eq!(
            converted_schema(json!({"type": ["integer"]})),
            json!({"type": "integer"})
        );
        assert_eq!(
            converted_schema(json!({"oneOf": [{"type": "null"}, {"$ref": "#/x"}]})),
            json!({"nullable": true, "oneOf": [{"$ref": "#/x"}]})
        );
    }

    #[test]
    fn examples_become_example_and_const_becomes_enum() {
        assert_eq!(
            converted_schema(json!({"type": "string", "examples": ["Ada", "Bob"]})),
            json!({"type": "string", "example": "Ada"})
        );
        assert_eq!(
            converted_schema(json!({"const": "ok"})),
            json!({"enum": ["ok"]})
        );
    }

    #[test]
    fn refs_with_siblings_are_wrapped_in_all_of() {
        assert_eq!(
            converted_schema(json!({"$ref": "#/components/schemas/L", "default": "en"})),
            json!({"allOf": [{"$ref": "#/components/schemas/L"}], "default": "en"})
        );
        assert_eq!(
            converted_schema(json!({"$ref": "#/a"})),
            json!({"$ref": "#/a"})
        );
    }

    #[test]
    fn nested_schemas_are_converted() {
        let converted = converted_schema(json!({
            "type": "object",
            "properties": {"a": {"type": ["string", "null"]}},
            "items": {"const": 1},
            "additionalProperties": {"examples": [1]},
            "anyOf": [{"type": ["integer", "null"]}]
        }));
        assert_eq!(
            converted["properties"]["a"],
            json!({"type": "string", "nullable": true})
        );
        assert_eq!(converted["items"], json!({"enum": [1]}));
        assert_eq!(converted["additionalProperties"], json!({"example": 1}));
        assert_eq!(
            converted["anyOf"][0],
            json!({"type": "integer", "nullable": true})
        );
    }

    #[test]
    fn license_identifier_becomes_a_url() {
        let doc = json!({"openapi": "3.1.0",
            "info": {"title": "t", "version": "1", "license": {"name": "MIT", "identifier": "MIT"}}});
        assert_eq!(
            downgrade(&doc).unwrap()["info"]["license"],
            json!({"name": "MIT", "url": "https://spdx.org/licenses/MIT.html"})
        );
    }

    #[test]
    fn schemas_in_parameters_and_bodies_are_converted() {
        let doc = json!({"openapi": "3.1.0", "info": {"title": "t", "version": "1"}, "paths": {"/x/{n}": {
            "post": {
                "parameters": [{"name": "n", "in": "path", "schema": {"type": ["string", "null"]}}],
                "requestBody": {"content": {"application/json": {"schema": {"const": 1}}}},
                "responses": {"200": {"description": "ok",
                    "content": {"application/json": {"schema": {"examples": [2]}}}}}
            }
        }}});
        let operation = &downgrade(&doc).unwrap()["paths"]["/x/{n}"]["post"];
        assert_eq!(
            operation["parameters"][0]["schema"],
            json!({"type": "string", "nullable": true})
        );
        assert_eq!(
            operation["requestBody"]["content"]["application/json"]["schema"],
            json!({"enum": [1]})
        );
        assert_eq!(
            operation["responses"]["200"]["content"]["application/json"]["schema"],
            json!({"example": 2})
        );
    }

    #[test]
    fn unknown_constructs_fail_loudly_with_their_location() {
        let error = failure(json!({"properties": {"a": {"prefixItems": []}}}));
        assert_eq!(
            error.pointer,
            "/components/schemas/S/properties/a/prefixItems"
        );
        assert!(error.to_string().contains("prefixItems"), "{error}");

        assert_eq!(
            failure(json!({"type": ["string", "integer"]})).pointer,
            "/components/schemas/S/type"
        );
        assert_eq!(
            failure(json!({"type": "null"})).pointer,
            "/components/schemas/S/type"
        );
        assert!(downgrade(&json!({"openapi": "3.1.0", "webhooks": {}})).is_err());
        assert!(downgrade(&json!({"openapi": "3.1.0", "info": {"summary": "s"}})).is_err());
    }
}
