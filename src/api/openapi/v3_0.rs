//! The OpenAPI 3.0 edition of the document, for the many client generators that read only 3.0
//! (Rust's progenitor, AutoRest, swagger-codegen, older openapi-generator).
//!
//! utoipa emits OpenAPI 3.1 only, so the 3.0.3 document is derived from it by [`downgrade`],
//! which walks the whole document by the OpenAPI object model: every field of every object is
//! converted, copied, kept as an `x-` extension, or refused with an [`UnsupportedConstruct`]
//! naming its JSON pointer, rather than passed on for a 3.0 reader to misunderstand.
//! [`super::check::check_3_0`] proves, independently of the conversion, that a document holds
//! no construct that only OpenAPI 3.1 has.

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

/// A field that OpenAPI 3.0's `kind` of object does not have.
fn unknown(kind: &str, key: &str, pointer: &str) -> UnsupportedConstruct {
    unsupported(pointer, format!("the {kind} field `{key}`"))
}

/// The HTTP methods a Path Item Object has operations for.
const METHODS: &[&str] = &[
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

/// Methods whose request body OpenAPI 3.0 tells consumers to ignore (RFC 7231 gives it no
/// meaning), where 3.1 allows it.
const BODYLESS_METHODS: &[&str] = &["get", "head", "delete", "trace"];

/// Converts an OpenAPI 3.1 document into OpenAPI 3.0.3.
pub fn downgrade(doc: &Value) -> Result<Value> {
    let security_schemes = doc.pointer("/components/securitySchemes");
    Downgrade { security_schemes }.document(doc)
}

/// The conversion of the parts of the document that can hold operations, whose security
/// requirements are read against the document's security schemes.
struct Downgrade<'a> {
    security_schemes: Option<&'a Value>,
}

impl Downgrade<'_> {
    fn document(&self, doc: &Value) -> Result<Value> {
        let mut out = fields(doc, "", |key, value, at| match key {
            "openapi" => version(value, at),
            "info" => info(value, at),
            "servers" => list_of(value, at, server),
            "paths" => self.paths(value, at),
            "components" => self.components(value, at),
            "security" => self.security(value, at),
            "tags" => list_of(value, at, tag),
            "externalDocs" => external_docs(value, at),
            _ => Err(unknown("document", key, at)),
        })?;
        if !out.contains_key("openapi") {
            return Err(unsupported("/openapi", "a document without its version"));
        }
        // 3.1 made `paths` optional; 3.0 requires it.
        out.entry("paths").or_insert_with(|| json!({}));
        Ok(Value::Object(out))
    }

    fn paths(&self, value: &Value, pointer: &str) -> Result<Value> {
        fields(value, pointer, |path, item, at| {
            if path.starts_with('/') {
                self.path_item(item, at)
            } else {
                Err(unknown("paths", path, at))
            }
        })
        .map(Value::Object)
    }

    fn path_item(&self, value: &Value, pointer: &str) -> Result<Value> {
        if is_reference(value) {
            return reference(value, pointer);
        }
        fields(value, pointer, |key, field, at| match key {
            "summary" | "description" => Ok(field.clone()),
            "servers" => list_of(field, at, server),
            "parameters" => list_of(field, at, parameter),
            method if METHODS.contains(&method) => self.operation(method, field, at),
            _ => Err(unknown("path item", key, at)),
        })
        .map(Value::Object)
    }

    fn operation(&self, method: &str, value: &Value, pointer: &str) -> Result<Value> {
        let out = fields(value, pointer, |key, field, at| match key {
            "tags" | "summary" | "description" | "operationId" | "deprecated" => Ok(field.clone()),
            "externalDocs" => external_docs(field, at),
            "parameters" => list_of(field, at, parameter),
            "requestBody" if BODYLESS_METHODS.contains(&method) => Err(unsupported(
                at,
                format!("a request body on `{method}`, which OpenAPI 3.0 ignores"),
            )),
            "requestBody" => request_body(field, at),
            "responses" => responses(field, at),
            "callbacks" => map_of(field, at, |callback, at| self.callback(callback, at)),
            "security" => self.security(field, at),
            "servers" => list_of(field, at, server),
            _ => Err(unknown("operation", key, at)),
        })?;
        if !out.contains_key("responses") {
            return Err(unsupported(
                pointer,
                "an operation without `responses`, which OpenAPI 3.0 requires",
            ));
        }
        Ok(Value::Object(out))
    }

    /// A Callback Object: path items by runtime expression.
    fn callback(&self, value: &Value, pointer: &str) -> Result<Value> {
        if is_reference(value) {
            return reference(value, pointer);
        }
        fields(value, pointer, |_, item, at| self.path_item(item, at)).map(Value::Object)
    }

    fn components(&self, value: &Value, pointer: &str) -> Result<Value> {
        fields(value, pointer, |key, field, at| match key {
            "schemas" => map_of(field, at, schema),
            "responses" => map_of(field, at, response),
            "parameters" => map_of(field, at, parameter),
            "examples" => map_of(field, at, example),
            "requestBodies" => map_of(field, at, request_body),
            "headers" => map_of(field, at, header),
            "securitySchemes" => map_of(field, at, security_scheme),
            "links" => map_of(field, at, link),
            "callbacks" => map_of(field, at, |callback, at| self.callback(callback, at)),
            _ => Err(unknown("components", key, at)),
        })
        .map(Value::Object)
    }

    /// Security requirements. 3.1 lets them list role names for any scheme; 3.0 lists only the
    /// scopes of OAuth2 and OpenID Connect schemes, and nothing for the others.
    fn security(&self, value: &Value, pointer: &str) -> Result<Value> {
        list_of(value, pointer, |requirement, at| {
            for (name, scopes) in object(requirement, at)? {
                let scopes_at = child(at, name);
                let scopes = array(scopes, &scopes_at)?;
                if !scopes.is_empty() && !self.has_scopes(name) {
                    return Err(unsupported(
                        &scopes_at,
                        format!("role names for the security scheme `{name}`"),
                    ));
                }
            }
            Ok(requirement.clone())
        })
    }

    /// Whether the security scheme `name` is OAuth2 or OpenID Connect, which have scopes.
    fn has_scopes(&self, name: &str) -> bool {
        let scheme = self.security_schemes.and_then(|schemes| schemes.get(name));
        let kind = scheme.and_then(|scheme| scheme.get("type"));
        matches!(
            kind.and_then(Value::as_str),
            Some("oauth2" | "openIdConnect")
        )
    }
}

fn version(value: &Value, pointer: &str) -> Result<Value> {
    match value.as_str() {
        Some(version) if version.starts_with("3.1.") => Ok(json!(VERSION)),
        _ => Err(unsupported(
            pointer,
            format!("the version {value} (the conversion reads OpenAPI 3.1)"),
        )),
    }
}

fn info(value: &Value, pointer: &str) -> Result<Value> {
    fields(value, pointer, |key, field, at| match key {
        "title" | "description" | "termsOfService" | "version" => Ok(field.clone()),
        "contact" => plain(field, at, "contact", &["name", "url", "email"]),
        "license" => license(field, at),
        _ => Err(unknown("info", key, at)),
    })
    .map(Value::Object)
}

/// 3.0 has no SPDX `identifier`: it becomes the `url` of the licence's SPDX page instead.
fn license(value: &Value, pointer: &str) -> Result<Value> {
    let mut out = fields(value, pointer, |key, field, at| match key {
        "name" | "url" => Ok(field.clone()),
        "identifier" => string(field, at)
            .map(|identifier| json!(format!("https://spdx.org/licenses/{identifier}.html"))),
        _ => Err(unknown("license", key, at)),
    })?;
    if let Some(spdx_page) = out.shift_remove("identifier") {
        out.entry("url").or_insert(spdx_page);
    }
    Ok(Value::Object(out))
}

fn server(value: &Value, pointer: &str) -> Result<Value> {
    fields(value, pointer, |key, field, at| match key {
        "url" | "description" => Ok(field.clone()),
        "variables" => map_of(field, at, |variable, at| {
            plain(
                variable,
                at,
                "server variable",
                &["enum", "default", "description"],
            )
        }),
        _ => Err(unknown("server", key, at)),
    })
    .map(Value::Object)
}

fn tag(value: &Value, pointer: &str) -> Result<Value> {
    fields(value, pointer, |key, field, at| match key {
        "name" | "description" => Ok(field.clone()),
        "externalDocs" => external_docs(field, at),
        _ => Err(unknown("tag", key, at)),
    })
    .map(Value::Object)
}

fn external_docs(value: &Value, pointer: &str) -> Result<Value> {
    plain(value, pointer, "external docs", &["description", "url"])
}

fn parameter(value: &Value, pointer: &str) -> Result<Value> {
    if is_reference(value) {
        return reference(value, pointer);
    }
    fields(value, pointer, |key, field, at| match key {
        "name" | "in" => Ok(field.clone()),
        _ => parameter_field("parameter", key, field, at),
    })
    .map(Value::Object)
}

fn header(value: &Value, pointer: &str) -> Result<Value> {
    if is_reference(value) {
        return reference(value, pointer);
    }
    fields(value, pointer, |key, field, at| {
        parameter_field("header", key, field, at)
    })
    .map(Value::Object)
}

/// A field that the Parameter Object and the Header Object both have.
fn parameter_field(kind: &str, key: &str, value: &Value, pointer: &str) -> Result<Value> {
    match key {
        "description" | "required" | "deprecated" | "allowEmptyValue" | "style" | "explode"
        | "allowReserved" | "example" => Ok(value.clone()),
        "schema" => schema(value, pointer),
        "examples" => map_of(value, pointer, example),
        "content" => map_of(value, pointer, media_type),
        _ => Err(unknown(kind, key, pointer)),
    }
}

fn request_body(value: &Value, pointer: &str) -> Result<Value> {
    if is_reference(value) {
        return reference(value, pointer);
    }
    fields(value, pointer, |key, field, at| match key {
        "description" | "required" => Ok(field.clone()),
        "content" => map_of(field, at, media_type),
        _ => Err(unknown("request body", key, at)),
    })
    .map(Value::Object)
}

fn media_type(value: &Value, pointer: &str) -> Result<Value> {
    fields(value, pointer, |key, field, at| match key {
        "example" => Ok(field.clone()),
        "schema" => schema(field, at),
        "examples" => map_of(field, at, example),
        "encoding" => map_of(field, at, encoding),
        _ => Err(unknown("media type", key, at)),
    })
    .map(Value::Object)
}

fn encoding(value: &Value, pointer: &str) -> Result<Value> {
    fields(value, pointer, |key, field, at| match key {
        "contentType" | "style" | "explode" | "allowReserved" => Ok(field.clone()),
        "headers" => map_of(field, at, header),
        _ => Err(unknown("encoding", key, at)),
    })
    .map(Value::Object)
}

/// The Responses Object: responses by status code (`200`, `2XX`) or `default`.
fn responses(value: &Value, pointer: &str) -> Result<Value> {
    fields(value, pointer, |code, field, at| {
        if is_status_code(code) {
            response(field, at)
        } else {
            Err(unknown("responses", code, at))
        }
    })
    .map(Value::Object)
}

fn is_status_code(code: &str) -> bool {
    match code.as_bytes() {
        [b'1'..=b'5', b'X', b'X'] => true,
        [b'1'..=b'5', tens, units] => tens.is_ascii_digit() && units.is_ascii_digit(),
        _ => code == "default",
    }
}

fn response(value: &Value, pointer: &str) -> Result<Value> {
    if is_reference(value) {
        return reference(value, pointer);
    }
    fields(value, pointer, |key, field, at| match key {
        "description" => Ok(field.clone()),
        "headers" => map_of(field, at, header),
        "content" => map_of(field, at, media_type),
        "links" => map_of(field, at, link),
        _ => Err(unknown("response", key, at)),
    })
    .map(Value::Object)
}

fn link(value: &Value, pointer: &str) -> Result<Value> {
    if is_reference(value) {
        return reference(value, pointer);
    }
    fields(value, pointer, |key, field, at| match key {
        "operationRef" | "operationId" | "parameters" | "requestBody" | "description" => {
            Ok(field.clone())
        }
        "server" => server(field, at),
        _ => Err(unknown("link", key, at)),
    })
    .map(Value::Object)
}

fn example(value: &Value, pointer: &str) -> Result<Value> {
    if is_reference(value) {
        return reference(value, pointer);
    }
    let known = ["summary", "description", "value", "externalValue"];
    plain(value, pointer, "example", &known)
}

fn security_scheme(value: &Value, pointer: &str) -> Result<Value> {
    if is_reference(value) {
        return reference(value, pointer);
    }
    fields(value, pointer, |key, field, at| match key {
        // 3.1's `mutualTLS` has no 3.0 counterpart.
        "type" => match field.as_str() {
            Some("apiKey" | "http" | "oauth2" | "openIdConnect") => Ok(field.clone()),
            _ => Err(unsupported(at, format!("the security scheme type {field}"))),
        },
        "description" | "name" | "in" | "scheme" | "bearerFormat" | "openIdConnectUrl" => {
            Ok(field.clone())
        }
        "flows" => oauth_flows(field, at),
        _ => Err(unknown("security scheme", key, at)),
    })
    .map(Value::Object)
}

fn oauth_flows(value: &Value, pointer: &str) -> Result<Value> {
    let flow_fields = ["authorizationUrl", "tokenUrl", "refreshUrl", "scopes"];
    fields(value, pointer, |key, field, at| match key {
        "implicit" | "password" | "clientCredentials" | "authorizationCode" => {
            plain(field, at, "OAuth flow", &flow_fields)
        }
        _ => Err(unknown("OAuth flows", key, at)),
    })
    .map(Value::Object)
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
    "multipleOf",
    "minItems",
    "maxItems",
    "uniqueItems",
    "minProperties",
    "maxProperties",
    "readOnly",
    "writeOnly",
    "deprecated",
];

/// Schema keywords that only annotate, without constraining values.
const ANNOTATIONS: &[&str] = &[
    "title",
    "description",
    "default",
    "example",
    "deprecated",
    "readOnly",
    "writeOnly",
    "externalDocs",
];

/// The types of OpenAPI 3.0: JSON Schema's, without `null`.
const TYPES: &[&str] = &["string", "number", "integer", "boolean", "array", "object"];

/// Converts one JSON Schema (2020-12 dialect) into an OpenAPI 3.0 Schema Object.
fn schema(value: &Value, pointer: &str) -> Result<Value> {
    let source = match value {
        // 2020-12's boolean schemas: `true` accepts every value, `false` none.
        Value::Bool(true) => return Ok(json!({})),
        Value::Bool(false) => return Ok(json!({"not": {}})),
        _ => object(value, pointer)?,
    };
    if source.len() == 1 && is_reference(value) {
        return reference(value, pointer);
    }
    let mut out = Map::new();
    for (key, field) in source {
        schema_keyword(source, key, field, pointer, &mut out)?;
    }
    // 3.0 requires `items` beside `type: array`; 3.1 does not.
    if out.get("type").is_some_and(|kind| kind == "array") {
        out.entry("items").or_insert_with(|| json!({}));
    }
    for key in ["oneOf", "anyOf"] {
        let members = source.get(key).and_then(Value::as_array);
        if members.is_some_and(|members| members.iter().any(is_null_schema)) {
            out = inline_single_alternative(out, key);
        }
    }
    Ok(Value::Object(out))
}

/// Converts the keyword `key` of the schema `source` at `pointer` into `out`.
fn schema_keyword(
    source: &Map<String, Value>,
    key: &str,
    value: &Value,
    pointer: &str,
    out: &mut Map<String, Value>,
) -> Result<()> {
    let at = child(pointer, key);
    match key {
        // A 3.0 `$ref` ignores its siblings: keep them by wrapping the reference in `allOf`.
        "$ref" => extend_all_of(out, vec![json!({"$ref": string(value, &at)?})]),
        "allOf" => extend_all_of(out, elements(value, &at, schema)?),
        "oneOf" | "anyOf" => {
            out.insert(key.into(), alternatives(value, &at)?);
        }
        "type" => type_keyword(value, &at, out)?,
        "examples" => {
            let first = array(value, &at)?
                .first()
                .ok_or_else(|| unsupported(&at, "an empty `examples`"))?;
            out.entry("example").or_insert_with(|| first.clone());
        }
        "const" if source.contains_key("enum") => {
            return Err(unsupported(&at, "`const` beside `enum`"));
        }
        "const" => {
            out.insert("enum".into(), json!([value]));
        }
        "properties" => {
            out.insert(key.into(), map_of(value, &at, schema)?);
        }
        "items" | "not" => {
            out.insert(key.into(), schema(value, &at)?);
        }
        "additionalProperties" if value.is_boolean() => {
            out.insert(key.into(), value.clone());
        }
        "additionalProperties" => {
            out.insert(key.into(), schema(value, &at)?);
        }
        "minimum" | "exclusiveMinimum" => bound(source, pointer, &LOWER, out)?,
        "maximum" | "exclusiveMaximum" => bound(source, pointer, &UPPER, out)?,
        "contentEncoding" | "contentMediaType" => {
            out.insert("format".into(), json!(binary_format(source, pointer)?));
        }
        // 3.0 requires a `required` list to name at least one property.
        "required" if value.as_array().is_some_and(Vec::is_empty) => {}
        "discriminator" => {
            out.insert(key.into(), discriminator(value, &at)?);
        }
        "xml" => {
            let known = ["name", "namespace", "prefix", "attribute", "wrapped"];
            out.insert(key.into(), plain(value, &at, "xml", &known)?);
        }
        "externalDocs" => {
            out.insert(key.into(), external_docs(value, &at)?);
        }
        _ if PLAIN_SCHEMA_KEYWORDS.contains(&key) || key.starts_with("x-") => {
            out.insert(key.into(), value.clone());
        }
        _ => return Err(unsupported(&at, format!("the schema keyword `{key}`"))),
    }
    Ok(())
}

/// Adds `members` to the schema's `allOf`, which both `allOf` and a `$ref` with siblings fill.
fn extend_all_of(out: &mut Map<String, Value>, members: Vec<Value>) {
    match out.get_mut("allOf") {
        Some(Value::Array(all_of)) => all_of.extend(members),
        _ => {
            out.insert("allOf".into(), Value::Array(members));
        }
    }
}

/// `type: "string"` stays; `type: ["string", "null"]` becomes `type: string, nullable: true`.
fn type_keyword(value: &Value, pointer: &str, out: &mut Map<String, Value>) -> Result<()> {
    let names = match value {
        Value::Array(names) => names.iter().collect(),
        name => vec![name],
    };
    let (nulls, others): (Vec<&Value>, Vec<&Value>) =
        names.into_iter().partition(|name| *name == "null");
    match others.as_slice() {
        [name] if name.as_str().is_some_and(|name| TYPES.contains(&name)) => {
            out.insert("type".into(), (*name).clone());
            if !nulls.is_empty() {
                out.insert("nullable".into(), json!(true));
            }
            Ok(())
        }
        _ => Err(unsupported(pointer, format!("the type {value}"))),
    }
}

/// The alternatives of `oneOf` or `anyOf`. 3.1 admits null with a `{"type": "null"}`
/// alternative; 3.0 has `nullable` instead, which applies only beside a `type`, so the first
/// alternative that can carry it takes it.
fn alternatives(value: &Value, pointer: &str) -> Result<Value> {
    let members = array(value, pointer)?;
    let mut converted = Vec::with_capacity(members.len());
    for (index, member) in members.iter().enumerate() {
        if !is_null_schema(member) {
            converted.push(schema(member, &child(pointer, &index.to_string()))?);
        }
    }
    if converted.len() < members.len() && !converted.iter_mut().any(make_nullable) {
        return Err(unsupported(
            pointer,
            "a null alternative beside none with a `type` to carry `nullable` (3.0.3 cannot make \
             a `$ref` nullable: declare the field optional instead, e.g. utoipa's \
             `#[schema(nullable = false)]` with serde's `skip_serializing_if`)",
        ));
    }
    Ok(Value::Array(converted))
}

/// `{"type": "null"}`, perhaps with a title, description or default: 3.1's null alternative.
fn is_null_schema(schema: &Value) -> bool {
    schema.as_object().is_some_and(|fields| {
        let kind = fields.get("type");
        kind.is_some_and(|kind| kind == "null" || *kind == json!(["null"]))
            && fields
                .keys()
                .all(|key| matches!(key.as_str(), "type" | "title" | "description" | "default"))
    })
}

/// Makes a converted schema admit null too, if 3.0.3 can say so: `nullable` takes effect only
/// beside a `type` in the same schema, so only a schema with a `type` gets it (a reference,
/// even wrapped in `allOf`, cannot). False, leaving it as it was, otherwise.
fn make_nullable(schema: &mut Value) -> bool {
    match schema {
        Value::Object(fields) if fields.contains_key("type") => {
            fields.insert("nullable".into(), json!(true));
            true
        }
        _ => false,
    }
}

/// `{"oneOf": [X], ...}`, left where a null alternative was dropped, becomes `{X..., ...}` when
/// the schema's other keywords are annotations that X does not have: the same schema, in the
/// form generators read as a nullable type.
fn inline_single_alternative(schema: Map<String, Value>, key: &str) -> Map<String, Value> {
    let mut member = match schema.get(key).and_then(Value::as_array).map(Vec::as_slice) {
        Some([Value::Object(member)]) => member.clone(),
        _ => return schema,
    };
    let mergeable = schema.keys().filter(|other| *other != key).all(|other| {
        (ANNOTATIONS.contains(&other.as_str()) || other.starts_with("x-"))
            && !member.contains_key(other)
    });
    if !mergeable {
        return schema;
    }
    let mut out = Map::new();
    for (other, value) in schema {
        if other == key {
            out.append(&mut member);
        } else {
            out.insert(other, value);
        }
    }
    out
}

/// One end of a numeric range: its inclusive and exclusive keywords, and which end it is.
struct Bound {
    inclusive: &'static str,
    exclusive: &'static str,
    lower: bool,
}

const LOWER: Bound = Bound {
    inclusive: "minimum",
    exclusive: "exclusiveMinimum",
    lower: true,
};

const UPPER: Bound = Bound {
    inclusive: "maximum",
    exclusive: "exclusiveMaximum",
    lower: false,
};

/// 2020-12's numeric `exclusiveMinimum` becomes 3.0's `minimum` with `exclusiveMinimum: true`
/// (and likewise for the maximum); given both an inclusive and an exclusive bound, the tighter
/// one is kept. Done at the first keyword of the pair.
fn bound(
    source: &Map<String, Value>,
    pointer: &str,
    bound: &Bound,
    out: &mut Map<String, Value>,
) -> Result<()> {
    if out.contains_key(bound.inclusive) {
        return Ok(());
    }
    let inclusive = number(source, pointer, bound.inclusive)?;
    let exclusive = number(source, pointer, bound.exclusive)?;
    let exclusive_wins = match (inclusive, exclusive) {
        (_, None) => false,
        (None, Some(_)) => true,
        (Some(inclusive), Some(exclusive)) if bound.lower => exclusive >= inclusive,
        (Some(inclusive), Some(exclusive)) => exclusive <= inclusive,
    };
    if exclusive_wins {
        out.insert(bound.inclusive.into(), source[bound.exclusive].clone());
        out.insert(bound.exclusive.into(), json!(true));
    } else {
        out.insert(bound.inclusive.into(), source[bound.inclusive].clone());
    }
    Ok(())
}

/// The number at `key` of the schema `source`, if it is there.
fn number(source: &Map<String, Value>, pointer: &str, key: &str) -> Result<Option<f64>> {
    let Some(value) = source.get(key) else {
        return Ok(None);
    };
    let not_a_number = || unsupported(&child(pointer, key), format!("the `{key}` {value}"));
    value.as_f64().ok_or_else(not_a_number).map(Some)
}

/// 2020-12 describes binary strings with `contentEncoding` and `contentMediaType`, 3.0 with
/// `format`: base64 text is `byte`, raw `application/octet-stream` is `binary`.
fn binary_format(source: &Map<String, Value>, pointer: &str) -> Result<&'static str> {
    let media_type = source.get("contentMediaType");
    if let Some(media_type) = media_type.filter(|m| *m != "application/octet-stream") {
        return Err(unsupported(
            &child(pointer, "contentMediaType"),
            format!("the content media type {media_type}"),
        ));
    }
    let format = match source.get("contentEncoding") {
        None => "binary",
        Some(encoding) if encoding == "base64" => "byte",
        Some(encoding) => {
            return Err(unsupported(
                &child(pointer, "contentEncoding"),
                format!("the content encoding {encoding}"),
            ));
        }
    };
    match source.get("format") {
        Some(given) if given != format => Err(unsupported(
            &child(pointer, "format"),
            format!("the format {given} of a string whose content is `{format}`"),
        )),
        _ => Ok(format),
    }
}

/// Unlike 3.1's, 3.0's Discriminator Object has no extensions.
fn discriminator(value: &Value, pointer: &str) -> Result<Value> {
    let fields = object(value, pointer)?;
    match fields
        .keys()
        .find(|key| !matches!(key.as_str(), "propertyName" | "mapping"))
    {
        Some(key) => Err(unknown("discriminator", key, &child(pointer, key))),
        None => Ok(value.clone()),
    }
}

/// Converts the object at `pointer` field by field: `convert(key, value, pointer)` gives a
/// field's 3.0 value, or fails on a field the object does not have. `x-` extensions are copied.
fn fields(
    value: &Value,
    pointer: &str,
    mut convert: impl FnMut(&str, &Value, &str) -> Result<Value>,
) -> Result<Map<String, Value>> {
    let mut out = Map::new();
    for (key, field) in object(value, pointer)? {
        let converted = if key.starts_with("x-") {
            field.clone()
        } else {
            convert(key, field, &child(pointer, key))?
        };
        out.insert(key.clone(), converted);
    }
    Ok(out)
}

/// An object whose fields, the `known` ones and `x-` extensions, are copied as they are.
fn plain(value: &Value, pointer: &str, kind: &str, known: &[&str]) -> Result<Value> {
    fields(value, pointer, |key, field, at| {
        if known.contains(&key) {
            Ok(field.clone())
        } else {
            Err(unknown(kind, key, at))
        }
    })
    .map(Value::Object)
}

/// A map of named objects (`content`, `properties`, each map of `components`), each converted
/// by `convert`.
fn map_of(
    value: &Value,
    pointer: &str,
    convert: impl Fn(&Value, &str) -> Result<Value>,
) -> Result<Value> {
    let mut out = Map::new();
    for (name, entry) in object(value, pointer)? {
        out.insert(name.clone(), convert(entry, &child(pointer, name))?);
    }
    Ok(Value::Object(out))
}

/// A list, each element converted by `convert`.
fn list_of(
    value: &Value,
    pointer: &str,
    convert: impl Fn(&Value, &str) -> Result<Value>,
) -> Result<Value> {
    elements(value, pointer, convert).map(Value::Array)
}

fn elements(
    value: &Value,
    pointer: &str,
    convert: impl Fn(&Value, &str) -> Result<Value>,
) -> Result<Vec<Value>> {
    let list = array(value, pointer)?;
    let element_at = |index: usize| child(pointer, &index.to_string());
    list.iter()
        .enumerate()
        .map(|(index, element)| convert(element, &element_at(index)))
        .collect()
}

fn is_reference(value: &Value) -> bool {
    value.get("$ref").is_some()
}

/// A Reference Object. 3.0 ignores any sibling of `$ref`, such as the `summary` and
/// `description` with which 3.1 overrides the referenced ones.
fn reference(value: &Value, pointer: &str) -> Result<Value> {
    let fields = object(value, pointer)?;
    if let Some(sibling) = fields.keys().find(|key| *key != "$ref") {
        return Err(unsupported(
            &child(pointer, sibling),
            "a sibling of `$ref`, which OpenAPI 3.0 ignores",
        ));
    }
    let target = string(&fields["$ref"], &child(pointer, "$ref"))?;
    Ok(json!({"$ref": target}))
}

fn object<'a>(value: &'a Value, pointer: &str) -> Result<&'a Map<String, Value>> {
    value.as_object().ok_or_else(|| {
        unsupported(
            pointer,
            format!("a non-object where an object belongs: {value}"),
        )
    })
}

fn array<'a>(value: &'a Value, pointer: &str) -> Result<&'a Vec<Value>> {
    value
        .as_array()
        .ok_or_else(|| unsupported(pointer, format!("a non-list where a list belongs: {value}")))
}

fn string<'a>(value: &'a Value, pointer: &str) -> Result<&'a str> {
    value.as_str().ok_or_else(|| {
        unsupported(
            pointer,
            format!("a non-string where a string belongs: {value}"),
        )
    })
}

/// The pointer to `key` inside the value at `pointer`.
pub(super) fn child(pointer: &str, key: &str) -> String {
    format!("{pointer}/{}", escape(key))
}

/// Escapes a key for a JSON pointer (RFC 6901).
fn escape(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::openapi::check::check_3_0;
    use crate::api::openapi::test_documents::doc;

    fn doc_with_schema(schema: Value) -> Value {
        doc(json!({"components": {"schemas": {"S": schema}}}))
    }

    /// `doc` downgraded, after checking that the result passes [`check_3_0`].
    fn converted(doc: &Value) -> Value {
        let converted = downgrade(doc).unwrap();
        assert_eq!(check_3_0(&converted), Ok(()), "{converted:#}");
        converted
    }

    fn converted_schema(schema: Value) -> Value {
        converted(&doc_with_schema(schema))["components"]["schemas"]["S"].clone()
    }

    fn failure(schema: Value) -> UnsupportedConstruct {
        downgrade(&doc_with_schema(schema)).unwrap_err()
    }

    #[test]
    fn sets_the_version_and_reads_only_3_1() {
        assert_eq!(converted(&doc(json!({})))["openapi"], "3.0.3");
        for version in [json!("3.0.3"), json!("3.2.0"), json!(3.1)] {
            let error = downgrade(&doc(json!({"openapi": version}))).unwrap_err();
            assert_eq!(error.pointer, "/openapi");
        }
        let mut without_version = doc(json!({}));
        without_version.as_object_mut().unwrap().remove("openapi");
        assert_eq!(downgrade(&without_version).unwrap_err().pointer, "/openapi");
    }

    #[test]
    fn adds_the_paths_that_3_0_requires() {
        let mut without_paths = doc(json!({}));
        without_paths.as_object_mut().unwrap().remove("paths");
        assert_eq!(converted(&without_paths)["paths"], json!({}));
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
    }

    #[test]
    fn a_null_alternative_beside_only_a_reference_fails_loudly() {
        // utoipa's `Option<T>` for a `T` with a schema of its own: 3.0.3's `nullable` has no
        // effect without a `type` beside it, so no 3.0.3 schema says "this reference, or null".
        for schema in [
            json!({"oneOf": [{"$ref": "#/x"}, {"type": "null"}]}),
            json!({"oneOf": [{"type": "null"}, {"$ref": "#/x"}], "minProperties": 1}),
        ] {
            let error = downgrade(&doc(json!({
                "paths": {},
                "components": {"schemas": {"S": schema}}
            })))
            .unwrap_err();
            assert_eq!(error.pointer, "/components/schemas/S/oneOf", "{error}");
        }
    }

    #[test]
    fn a_null_alternative_makes_a_typed_alternative_nullable() {
        assert_eq!(
            converted_schema(json!({
                "oneOf": [{"type": "null"}, {"type": "string", "maxLength": 3}],
                "description": "d"
            })),
            json!({"type": "string", "maxLength": 3, "nullable": true, "description": "d"})
        );
        assert_eq!(
            converted_schema(
                json!({"anyOf": [{"type": "null"}, {"enum": [1]}, {"type": "integer"}]})
            ),
            json!({"anyOf": [{"enum": [1]}, {"type": "integer", "nullable": true}]})
        );
        // A constraint beside the alternatives keeps them apart.
        assert_eq!(
            converted_schema(
                json!({"oneOf": [{"type": "null"}, {"type": "object"}], "minProperties": 1})
            ),
            json!({"oneOf": [{"type": "object", "nullable": true}], "minProperties": 1})
        );
    }

    #[test]
    fn a_null_alternative_that_nothing_can_carry_fails() {
        for schema in [
            json!({"oneOf": [{"type": "null"}, {"enum": [1]}]}),
            json!({"anyOf": [{"type": "null"}]}),
            json!({"oneOf": [{"type": "null"}, {"oneOf": [{"type": "string"}]}]}),
        ] {
            let pointer = if schema.get("oneOf").is_some() {
                "oneOf"
            } else {
                "anyOf"
            };
            assert_eq!(
                failure(schema.clone()).pointer,
                format!("/components/schemas/S/{pointer}"),
                "{schema}"
            );
        }
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
        assert_eq!(
            converted_schema(json!({"$ref": "#/a", "allOf": [{"$ref": "#/b"}]})),
            json!({"allOf": [{"$ref": "#/a"}, {"$ref": "#/b"}]})
        );
    }

    #[test]
    fn boolean_schemas_become_objects() {
        let converted = converted_schema(json!({
            "type": "object",
            "properties": {"gone": false, "any": true},
            "additionalProperties": false
        }));
        assert_eq!(converted["properties"]["gone"], json!({"not": {}}));
        assert_eq!(converted["properties"]["any"], json!({}));
        assert_eq!(converted["additionalProperties"], json!(false));
    }

    #[test]
    fn numeric_exclusive_bounds_become_boolean_ones() {
        assert_eq!(
            converted_schema(json!({"exclusiveMinimum": 0, "maximum": 9})),
            json!({"minimum": 0, "exclusiveMinimum": true, "maximum": 9})
        );
        // With both bounds, the tighter one is kept.
        assert_eq!(
            converted_schema(json!({"minimum": 1, "exclusiveMinimum": 0})),
            json!({"minimum": 1})
        );
        assert_eq!(
            converted_schema(json!({"exclusiveMaximum": 5, "maximum": 10})),
            json!({"maximum": 5, "exclusiveMaximum": true})
        );
    }

    #[test]
    fn binary_content_becomes_a_format() {
        assert_eq!(
            converted_schema(
                json!({"type": "string", "contentMediaType": "application/octet-stream"})
            ),
            json!({"type": "string", "format": "binary"})
        );
        assert_eq!(
            converted_schema(json!({"type": "string", "contentEncoding": "base64"})),
            json!({"type": "string", "format": "byte"})
        );
    }

    #[test]
    fn arrays_get_items_and_empty_required_lists_go() {
        assert_eq!(
            converted_schema(json!({"type": ["array", "null"], "required": []})),
            json!({"type": "array", "nullable": true, "items": {}})
        );
    }

    #[test]
    fn nested_schemas_are_converted() {
        let converted = converted_schema(json!({
            "type": "object",
            "properties": {"a": {"type": ["string", "null"]}},
            "items": {"const": 1},
            "additionalProperties": {"examples": [1]},
            "anyOf": [{"type": ["integer", "null"]}],
            "not": {"const": 2}
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
        assert_eq!(converted["not"], json!({"enum": [2]}));
    }

    #[test]
    fn license_identifier_becomes_a_url() {
        let doc = doc(json!({
            "info": {"title": "t", "version": "1", "license": {"name": "MIT", "identifier": "MIT"}}
        }));
        assert_eq!(
            converted(&doc)["info"]["license"],
            json!({"name": "MIT", "url": "https://spdx.org/licenses/MIT.html"})
        );
    }

    #[test]
    fn schemas_in_parameters_bodies_and_responses_are_converted() {
        let doc = doc(json!({"paths": {"/x/{n}": {
            "parameters": [{"name": "n", "in": "path", "required": true, "schema": {"const": 0}}],
            "post": {
                "parameters": [{"name": "q", "in": "query", "schema": {"type": ["string", "null"]}}],
                "requestBody": {"content": {"application/json": {"schema": {"const": 1}}}},
                "responses": {"200": {"description": "ok",
                    "headers": {"X-Rate": {"schema": {"type": ["integer", "null"]}}},
                    "content": {"application/json": {"schema": {"examples": [2]}}}}}
            }
        }}}));
        let item = &converted(&doc)["paths"]["/x/{n}"];
        assert_eq!(item["parameters"][0]["schema"], json!({"enum": [0]}));
        let operation = &item["post"];
        assert_eq!(
            operation["parameters"][0]["schema"],
            json!({"type": "string", "nullable": true})
        );
        assert_eq!(
            operation["requestBody"]["content"]["application/json"]["schema"],
            json!({"enum": [1]})
        );
        let response = &operation["responses"]["200"];
        assert_eq!(
            response["headers"]["X-Rate"]["schema"],
            json!({"type": "integer", "nullable": true})
        );
        assert_eq!(
            response["content"]["application/json"]["schema"],
            json!({"example": 2})
        );
    }

    #[test]
    fn components_of_every_kind_are_converted() {
        let nullable = json!({"type": ["string", "null"]});
        let converted_nullable = json!({"type": "string", "nullable": true});
        let doc = doc(json!({"components": {
            "responses": {"R": {"description": "r",
                "headers": {"X-Id": {"schema": nullable}},
                "content": {"application/json": {"schema": nullable}}}},
            "parameters": {"P": {"name": "p", "in": "query", "schema": nullable}},
            "headers": {"H": {"schema": nullable,
                "content": {"text/plain": {"schema": nullable}}}},
            "requestBodies": {"B": {"content": {"multipart/form-data": {"schema": nullable,
                "encoding": {"part": {"headers": {"X-Part": {"schema": nullable}}}}}}}},
            "callbacks": {"C": {"{$request.body#/url}": {"post": {
                "requestBody": {"content": {"application/json": {"schema": nullable}}},
                "responses": {"200": {"description": "ok"}}}}}}
        }}));
        let components = &converted(&doc)["components"];
        for pointer in [
            "/responses/R/headers/X-Id/schema",
            "/responses/R/content/application~1json/schema",
            "/parameters/P/schema",
            "/headers/H/schema",
            "/headers/H/content/text~1plain/schema",
            "/requestBodies/B/content/multipart~1form-data/schema",
            "/requestBodies/B/content/multipart~1form-data/encoding/part/headers/X-Part/schema",
            "/callbacks/C/{$request.body#~1url}/post/requestBody/content/application~1json/schema",
        ] {
            assert_eq!(
                components.pointer(pointer),
                Some(&converted_nullable),
                "{pointer}"
            );
        }
    }

    #[test]
    fn oauth_scopes_are_kept() {
        let doc = doc(json!({
            "security": [{"oauth": ["read"], "key": []}],
            "components": {"securitySchemes": {
                "oauth": {"type": "oauth2", "flows": {"implicit": {
                    "authorizationUrl": "https://a.example/auth", "scopes": {"read": "Read"}}}},
                "key": {"type": "apiKey", "name": "k", "in": "header"}
            }}
        }));
        assert_eq!(converted(&doc)["security"], doc["security"]);
    }

    #[test]
    fn extensions_and_examples_are_copied_as_they_are() {
        let data = json!({"const": 1, "$ref": "#/x", "type": ["string", "null"]});
        let doc = doc(json!({
            "x-top": data,
            "paths": {"/x": {"x-item": data, "get": {"responses": {"200": {"description": "ok",
                "content": {"application/json": {"example": data,
                    "examples": {"e": {"value": data}},
                    "schema": {"x-data": data, "default": data, "enum": [data]}}}}}}}}
        }));
        let converted = converted(&doc);
        assert_eq!(converted["x-top"], data);
        assert_eq!(converted["paths"]["/x"]["get"], doc["paths"]["/x"]["get"]);
    }

    #[test]
    fn constructs_3_0_cannot_express_fail_with_their_pointer() {
        let get = |operation: Value| json!({"paths": {"/x": {"get": operation}}});
        let ok = json!({"200": {"description": "ok"}});
        let cases = [
            (json!({"webhooks": {}}), "/webhooks"),
            (
                json!({"jsonSchemaDialect": "https://example.invalid"}),
                "/jsonSchemaDialect",
            ),
            (json!({"$self": "https://example.invalid"}), "/$self"),
            (
                json!({"info": {"title": "t", "version": "1", "summary": "s"}}),
                "/info/summary",
            ),
            (
                json!({"components": {"pathItems": {}}}),
                "/components/pathItems",
            ),
            (
                json!({"components": {"securitySchemes": {"m": {"type": "mutualTLS"}}}}),
                "/components/securitySchemes/m/type",
            ),
            (
                json!({"components": {"responses": {"R": {"$ref": "#/r", "description": "d"}}}}),
                "/components/responses/R/description",
            ),
            (
                json!({"components": {"headers": {"H": {"schema": {"prefixItems": []}}}}}),
                "/components/headers/H/schema/prefixItems",
            ),
            (json!({"paths": {"x": {}}}), "/paths/x"),
            (json!({"paths": {"/x": {"query": {}}}}), "/paths/~1x/query"),
            (
                json!({"paths": {"/x": {"$ref": "#/p", "summary": "s"}}}),
                "/paths/~1x/summary",
            ),
            (get(json!({})), "/paths/~1x/get"),
            (
                get(json!({"requestBody": {"content": {}}, "responses": ok})),
                "/paths/~1x/get/requestBody",
            ),
            (
                get(json!({"responses": {"2xx": {}}})),
                "/paths/~1x/get/responses/2xx",
            ),
            (
                get(json!({"responses": {"200": {"description": "ok", "summary": "s"}}})),
                "/paths/~1x/get/responses/200/summary",
            ),
            (
                get(json!({"responses": {"200": {"description": "ok",
                    "content": {"application/json": {"itemSchema": {}}}}}})),
                "/paths/~1x/get/responses/200/content/application~1json/itemSchema",
            ),
            (
                get(json!({"responses": ok, "security": [{"key": ["admin"]}]})),
                "/paths/~1x/get/security/0/key",
            ),
            (
                json!({"servers": [{"url": "/", "name": "n"}]}),
                "/servers/0/name",
            ),
            (
                json!({"tags": [{"name": "t", "summary": "s"}]}),
                "/tags/0/summary",
            ),
        ];
        for (parts, pointer) in cases {
            let error = downgrade(&doc(parts.clone())).expect_err(&parts.to_string());
            assert_eq!(error.pointer, pointer, "{parts}");
        }
    }

    #[test]
    fn schema_keywords_3_0_lacks_fail_with_their_pointer() {
        let cases = [
            (
                json!({"properties": {"a": {"prefixItems": []}}}),
                "/properties/a/prefixItems",
            ),
            (json!({"$defs": {}}), "/$defs"),
            (json!({"if": {}, "then": {}}), "/if"),
            (json!({"patternProperties": {}}), "/patternProperties"),
            (
                json!({"unevaluatedProperties": false}),
                "/unevaluatedProperties",
            ),
            (json!({"dependentSchemas": {}}), "/dependentSchemas"),
            (
                json!({"$schema": "https://json-schema.org/draft/2020-12/schema"}),
                "/$schema",
            ),
            (json!({"nullable": true}), "/nullable"),
            (json!({"type": ["string", "integer"]}), "/type"),
            (json!({"type": "null"}), "/type"),
            (json!({"type": "text"}), "/type"),
            (json!({"const": 1, "enum": [1, 2]}), "/const"),
            (json!({"examples": []}), "/examples"),
            (json!({"exclusiveMinimum": true}), "/exclusiveMinimum"),
            (
                json!({"type": "string", "contentMediaType": "image/png"}),
                "/contentMediaType",
            ),
            (
                json!({"type": "string", "contentEncoding": "base32"}),
                "/contentEncoding",
            ),
            (
                json!({"type": "string", "format": "uri", "contentEncoding": "base64"}),
                "/format",
            ),
            (
                json!({"discriminator": {"propertyName": "k", "x-a": 1}}),
                "/discriminator/x-a",
            ),
            (json!({"xml": {"nodeType": "element"}}), "/xml/nodeType"),
            (json!({"$ref": 1}), "/$ref"),
            (json!({"items": [{}]}), "/items"),
        ];
        for (schema, pointer) in cases {
            let error = failure(schema.clone());
            assert_eq!(
                error.pointer,
                format!("/components/schemas/S{pointer}"),
                "{schema}"
            );
        }
        let error = failure(json!({"prefixItems": []}));
        assert!(error.to_string().contains("prefixItems"), "{error}");
    }
}
