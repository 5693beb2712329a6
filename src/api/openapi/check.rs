//! The proof that a document is OpenAPI 3.0 through and through: [`check_3_0`] walks it on its
//! own rules, sharing no logic with the conversion in [`super::v3_0`], so that it can catch a
//! conversion bug. The tests run it on both editions, and the fuzz target on every document the
//! conversion accepts.

use std::fmt;

use serde_json::{Map, Value};

use super::v3_0::child;

/// Checks, independently of [`super::v3_0::downgrade`], that `doc` holds no construct that only OpenAPI 3.1
/// has or that 3.0 reads differently; on failure, lists each one found as `pointer: what`.
pub fn check_3_0(doc: &Value) -> std::result::Result<(), Vec<String>> {
    let mut check = Check {
        security_schemes: &doc["components"]["securitySchemes"],
        problems: Vec::new(),
    };
    check.document(doc);
    if check.problems.is_empty() {
        Ok(())
    } else {
        Err(check.problems)
    }
}

/// Keywords of JSON Schema 2020-12 (or earlier drafts) that an OpenAPI 3.0 schema does not have.
const JSON_SCHEMA_ONLY_KEYWORDS: &[&str] = &[
    "const",
    "examples",
    "prefixItems",
    "contains",
    "minContains",
    "maxContains",
    "patternProperties",
    "propertyNames",
    "dependentRequired",
    "dependentSchemas",
    "unevaluatedItems",
    "unevaluatedProperties",
    "if",
    "then",
    "else",
    "contentEncoding",
    "contentMediaType",
    "contentSchema",
    "$defs",
    "$schema",
    "$id",
    "$anchor",
    "$dynamicRef",
    "$dynamicAnchor",
    "$vocabulary",
    "$comment",
];

/// The walk of [`check_3_0`] over every place where 3.1 and 3.0 differ.
struct Check<'a> {
    security_schemes: &'a Value,
    problems: Vec<String>,
}

/// What [`Check`] does at each entry of a map or list.
type Visit<'a> = fn(&mut Check<'a>, &Value, &str);

impl<'a> Check<'a> {
    fn flag(&mut self, pointer: &str, what: impl fmt::Display) {
        self.problems.push(format!("{pointer}: {what}"));
    }

    /// Flags the field `key` of the object at `pointer`, if it is there.
    fn forbid(&mut self, value: &Value, pointer: &str, key: &str, what: &str) {
        if value.get(key).is_some() {
            self.flag(&child(pointer, key), what);
        }
    }

    fn document(&mut self, doc: &Value) {
        let version = &doc["openapi"];
        if !version.as_str().is_some_and(|v| v.starts_with("3.0.")) {
            self.flag("/openapi", format!("the version {version} is not 3.0.x"));
        }
        let only_3_1 = "a field only OpenAPI 3.1 has";
        self.forbid(doc, "", "webhooks", only_3_1);
        self.forbid(doc, "", "jsonSchemaDialect", only_3_1);
        self.forbid(&doc["info"], "/info", "summary", only_3_1);
        let license = &doc["info"]["license"];
        self.forbid(license, "/info/license", "identifier", only_3_1);
        self.forbid(&doc["components"], "/components", "pathItems", only_3_1);
        if doc.get("paths").is_none() {
            self.flag("/paths", "missing, where 3.0 requires it");
        }
        self.each_field(&doc["paths"], "/paths", Self::path_item);
        self.components(&doc["components"]);
        self.security(&doc["security"], "/security");
    }

    fn components(&mut self, components: &Value) {
        let maps: [(&str, Visit<'a>); 9] = [
            ("schemas", Self::schema),
            ("responses", Self::response),
            ("parameters", Self::parameter),
            ("examples", Self::example_or_link),
            ("requestBodies", Self::request_body),
            ("headers", Self::parameter),
            ("securitySchemes", Self::security_scheme),
            ("links", Self::example_or_link),
            ("callbacks", Self::callback),
        ];
        for (key, visit) in maps {
            self.each_entry(&components[key], &child("/components", key), visit);
        }
    }

    fn path_item(&mut self, item: &Value, pointer: &str) {
        if self.reference(item, pointer) {
            return;
        }
        let parameters = child(pointer, "parameters");
        self.each_element(&item["parameters"], &parameters, Self::parameter);
        for method in [
            "get", "put", "post", "delete", "options", "head", "patch", "trace",
        ] {
            if let Some(operation) = item.get(method) {
                self.operation(method, operation, &child(pointer, method));
            }
        }
    }

    fn operation(&mut self, method: &str, operation: &Value, pointer: &str) {
        let at = |key| child(pointer, key);
        match operation.get("requestBody") {
            Some(_) if matches!(method, "get" | "head" | "delete" | "trace") => self.flag(
                &at("requestBody"),
                format!("a request body, which 3.0 ignores on `{method}`"),
            ),
            Some(body) => self.request_body(body, &at("requestBody")),
            None => {}
        }
        if operation.get("responses").is_none() {
            self.flag(&at("responses"), "missing, where 3.0 requires it");
        }
        self.each_element(&operation["parameters"], &at("parameters"), Self::parameter);
        self.each_field(&operation["responses"], &at("responses"), Self::response);
        self.each_entry(&operation["callbacks"], &at("callbacks"), Self::callback);
        self.security(&operation["security"], &at("security"));
    }

    fn callback(&mut self, callback: &Value, pointer: &str) {
        if !self.reference(callback, pointer) {
            self.each_field(callback, pointer, Self::path_item);
        }
    }

    /// A Parameter Object or a Header Object.
    fn parameter(&mut self, parameter: &Value, pointer: &str) {
        if self.reference(parameter, pointer) {
            return;
        }
        if let Some(schema) = parameter.get("schema") {
            self.schema(schema, &child(pointer, "schema"));
        }
        let at = |key| child(pointer, key);
        self.each_entry(&parameter["content"], &at("content"), Self::media_type);
        self.each_entry(
            &parameter["examples"],
            &at("examples"),
            Self::example_or_link,
        );
    }

    fn request_body(&mut self, body: &Value, pointer: &str) {
        if !self.reference(body, pointer) {
            let content = child(pointer, "content");
            self.each_entry(&body["content"], &content, Self::media_type);
        }
    }

    fn response(&mut self, response: &Value, pointer: &str) {
        if self.reference(response, pointer) {
            return;
        }
        let at = |key| child(pointer, key);
        self.each_entry(&response["headers"], &at("headers"), Self::parameter);
        self.each_entry(&response["content"], &at("content"), Self::media_type);
        self.each_entry(&response["links"], &at("links"), Self::example_or_link);
    }

    fn media_type(&mut self, media_type: &Value, pointer: &str) {
        if let Some(schema) = media_type.get("schema") {
            self.schema(schema, &child(pointer, "schema"));
        }
        let at = |key| child(pointer, key);
        self.each_entry(
            &media_type["examples"],
            &at("examples"),
            Self::example_or_link,
        );
        self.each_entry(&media_type["encoding"], &at("encoding"), Self::encoding);
    }

    fn encoding(&mut self, encoding: &Value, pointer: &str) {
        let headers = child(pointer, "headers");
        self.each_entry(&encoding["headers"], &headers, Self::parameter);
    }

    /// Example and Link Objects hold no schema: only their references differ.
    fn example_or_link(&mut self, value: &Value, pointer: &str) {
        self.reference(value, pointer);
    }

    fn security_scheme(&mut self, scheme: &Value, pointer: &str) {
        if self.reference(scheme, pointer) {
            return;
        }
        let three_0_types = ["apiKey", "http", "oauth2", "openIdConnect"];
        let kind = scheme.get("type");
        if let Some(kind) = kind.filter(|kind| !three_0_types.iter().any(|name| *kind == name)) {
            self.flag(&child(pointer, "type"), format!("the type {kind}"));
        }
    }

    /// 3.0 security requirements list scopes of OAuth2 and OpenID Connect schemes only.
    fn security(&mut self, requirements: &Value, pointer: &str) {
        let schemes = self.security_schemes;
        for (index, requirement) in requirements.as_array().into_iter().flatten().enumerate() {
            for (name, scopes) in requirement.as_object().into_iter().flatten() {
                let scoped = matches!(
                    schemes[name.as_str()]["type"].as_str(),
                    Some("oauth2" | "openIdConnect")
                );
                if !scoped && scopes.as_array().is_some_and(|scopes| !scopes.is_empty()) {
                    let at = child(&child(pointer, &index.to_string()), name);
                    self.flag(&at, "role names for a scheme without scopes");
                }
            }
        }
    }

    /// Flags the siblings of a `$ref`, which 3.0 ignores; true if `value` is a reference.
    fn reference(&mut self, value: &Value, pointer: &str) -> bool {
        let Some(fields) = value.as_object().filter(|v| v.contains_key("$ref")) else {
            return false;
        };
        for key in fields.keys().filter(|key| *key != "$ref") {
            self.flag(&child(pointer, key), "a sibling of `$ref`");
        }
        true
    }

    fn schema(&mut self, schema: &Value, pointer: &str) {
        let Some(fields) = schema.as_object() else {
            return self.flag(pointer, format!("the schema {schema}, not an object"));
        };
        if self.reference(schema, pointer) {
            return;
        }
        let at = |key| child(pointer, key);
        let kind = fields.get("type");
        if let Some(kind) = kind.filter(|kind| !kind.is_string() || *kind == "null") {
            self.flag(&at("type"), format!("the type {kind}"));
        }
        if fields.contains_key("nullable") && kind.is_none() {
            self.flag(
                &at("nullable"),
                "`nullable` without a `type`, where it has no effect",
            );
        }
        for keyword in JSON_SCHEMA_ONLY_KEYWORDS {
            self.forbid(
                schema,
                pointer,
                keyword,
                "a keyword 3.0 schemas do not have",
            );
        }
        for keyword in ["exclusiveMinimum", "exclusiveMaximum"] {
            if fields.get(keyword).is_some_and(|bound| !bound.is_boolean()) {
                self.flag(&at(keyword), "a numeric bound, where 3.0's is a boolean");
            }
        }
        if kind.is_some_and(|kind| kind == "array") && !fields.contains_key("items") {
            self.flag(
                &at("items"),
                "missing beside `type: array`, where 3.0 requires it",
            );
        }
        if fields
            .get("required")
            .and_then(Value::as_array)
            .is_some_and(Vec::is_empty)
        {
            self.flag(&at("required"), "empty, where 3.0 requires a property name");
        }
        self.subschemas(fields, pointer);
    }

    fn subschemas(&mut self, fields: &Map<String, Value>, pointer: &str) {
        let at = |key| child(pointer, key);
        if let Some(properties) = fields.get("properties") {
            self.each_entry(properties, &at("properties"), Self::schema);
        }
        for keyword in ["items", "not"] {
            if let Some(subschema) = fields.get(keyword) {
                self.schema(subschema, &at(keyword));
            }
        }
        // `additionalProperties` may be a boolean in 3.0 too.
        let additional = fields.get("additionalProperties");
        if let Some(subschema) = additional.filter(|value| !value.is_boolean()) {
            self.schema(subschema, &at("additionalProperties"));
        }
        for keyword in ["allOf", "oneOf", "anyOf"] {
            if let Some(members) = fields.get(keyword) {
                self.each_element(members, &at(keyword), Self::schema);
            }
        }
    }

    /// Visits each entry of the map `value` at `pointer`.
    fn each_entry(&mut self, value: &Value, pointer: &str, visit: Visit<'a>) {
        for (name, entry) in value.as_object().into_iter().flatten() {
            visit(self, entry, &child(pointer, name));
        }
    }

    /// Visits each field of the object `value` at `pointer` but its `x-` extensions.
    fn each_field(&mut self, value: &Value, pointer: &str, visit: Visit<'a>) {
        for (key, field) in value.as_object().into_iter().flatten() {
            if !key.starts_with("x-") {
                visit(self, field, &child(pointer, key));
            }
        }
    }

    /// Visits each element of the list `value` at `pointer`.
    fn each_element(&mut self, value: &Value, pointer: &str, visit: Visit<'a>) {
        for (index, element) in value.as_array().into_iter().flatten().enumerate() {
            visit(self, element, &child(pointer, &index.to_string()));
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::api::openapi::test_documents::{doc, doc_of};
    use crate::api::openapi::v3_0::downgrade;

    /// A 3.1 document with every construct the conversion converts.
    fn sample_3_1() -> Value {
        let nullable_ref = json!({"oneOf": [{"type": "object"}, {"type": "null"}]});
        doc(json!({
            "info": {"title": "t", "version": "1", "license": {"name": "MIT", "identifier": "MIT"}},
            "paths": {"/n/{id}": {
                "parameters": [{"name": "id", "in": "path", "required": true,
                    "schema": {"type": "integer", "exclusiveMinimum": 0}}],
                "put": {
                    "requestBody": {"content": {"application/octet-stream": {
                        "schema": {"type": "string", "contentMediaType": "application/octet-stream"}}}},
                    "responses": {
                        "200": {"description": "ok", "headers": {"X-N": {"schema": {"type": ["integer", "null"]}}},
                            "content": {"application/json": {"schema": nullable_ref}}},
                        "default": {"$ref": "#/components/responses/Error"}
                    }
                }
            }},
            "components": {
                "schemas": {"N": {
                    "type": "object",
                    "required": ["kind"],
                    "properties": {
                        "kind": {"const": "n"},
                        "tags": {"type": ["array", "null"], "examples": [["a"]]},
                        "next": {"$ref": "#/components/schemas/N", "description": "The next."},
                        "either": {"anyOf": [{"type": "null"}, {"type": "string"}, {"type": "integer"}]},
                        "never": false
                    }
                }},
                "responses": {"Error": {"description": "e",
                    "content": {"application/json": {"schema": {"type": "object", "required": []}}}}},
                "securitySchemes": {"key": {"type": "apiKey", "name": "k", "in": "header"}}
            },
            "security": [{"key": []}]
        }))
    }

    #[test]
    fn the_checker_passes_the_conversion_of_a_sample_document() {
        let sample = sample_3_1();
        assert!(check_3_0(&sample).is_err(), "the sample has 3.1 constructs");
        assert_eq!(check_3_0(&downgrade(&sample).unwrap()), Ok(()));
    }

    /// Asserts that [`check_3_0`] flags `pointer` in the 3.0 document made of `parts`.
    fn assert_flags(parts: Value, pointer: &str) {
        let problems = check_3_0(&doc_of("3.0.3", parts.clone())).expect_err(&parts.to_string());
        assert!(
            problems
                .iter()
                .any(|problem| problem.starts_with(&format!("{pointer}: "))),
            "{pointer} not in {problems:?}"
        );
    }

    #[test]
    fn the_checker_flags_each_3_1_construct_of_a_document() {
        let get = |operation: Value| json!({"paths": {"/x": {"get": operation}}});
        let ok = json!({"200": {"description": "ok"}});
        let cases = [
            (json!({"openapi": "3.1.0"}), "/openapi"),
            (json!({"webhooks": {}}), "/webhooks"),
            (
                json!({"jsonSchemaDialect": "https://example.invalid"}),
                "/jsonSchemaDialect",
            ),
            (json!({"info": {"summary": "s"}}), "/info/summary"),
            (
                json!({"info": {"license": {"name": "MIT", "identifier": "MIT"}}}),
                "/info/license/identifier",
            ),
            (
                json!({"components": {"pathItems": {}}}),
                "/components/pathItems",
            ),
            (
                json!({"components": {"securitySchemes": {"m": {"type": "mutualTLS"}}}}),
                "/components/securitySchemes/m/type",
            ),
            (json!({"security": [{"key": ["admin"]}]}), "/security/0/key"),
            (
                json!({"paths": {"/x": {"$ref": "#/p", "summary": "s"}}}),
                "/paths/~1x/summary",
            ),
            (get(json!({})), "/paths/~1x/get/responses"),
            (
                get(json!({"requestBody": {"content": {}}, "responses": ok})),
                "/paths/~1x/get/requestBody",
            ),
            (
                get(json!({"responses": {"200": {"$ref": "#/r", "description": "d"}}})),
                "/paths/~1x/get/responses/200/description",
            ),
            (
                get(json!({"parameters": [{"$ref": "#/p", "summary": "s"}], "responses": ok})),
                "/paths/~1x/get/parameters/0/summary",
            ),
            (
                get(json!({"responses": {"200": {"description": "ok",
                    "headers": {"H": {"schema": {"const": 1}}}}}})),
                "/paths/~1x/get/responses/200/headers/H/schema/const",
            ),
            (
                get(json!({"responses": ok, "callbacks": {"c": {"u": {"post": {
                    "requestBody": {"content": {"a/b": {"schema": {"type": "null"}}}},
                    "responses": ok}}}}})),
                "/paths/~1x/get/callbacks/c/u/post/requestBody/content/a~1b/schema/type",
            ),
            (
                json!({"components": {"requestBodies": {"B": {"content": {"a/b": {
                    "encoding": {"p": {"headers": {"H": {"schema": {"examples": [1]}}}}}}}}}}}),
                "/components/requestBodies/B/content/a~1b/encoding/p/headers/H/schema/examples",
            ),
            (
                json!({"components": {"examples": {"E": {"$ref": "#/e", "summary": "s"}}}}),
                "/components/examples/E/summary",
            ),
        ];
        for (parts, pointer) in cases {
            assert_flags(parts, pointer);
        }
        let mut without_paths = doc_of("3.0.3", json!({}));
        without_paths.as_object_mut().unwrap().remove("paths");
        assert_eq!(
            check_3_0(&without_paths),
            Err(vec!["/paths: missing, where 3.0 requires it".to_owned()])
        );
    }

    #[test]
    fn the_checker_flags_each_3_1_construct_of_a_schema() {
        let mut cases = vec![
            (json!({"type": ["string", "null"]}), "/type"),
            (json!({"type": "null"}), "/type"),
            (json!({"$ref": "#/x", "description": "d"}), "/description"),
            (json!({"nullable": true}), "/nullable"),
            (
                json!({"oneOf": [{"$ref": "#/x"}], "nullable": true}),
                "/nullable",
            ),
            (
                json!({"allOf": [{"$ref": "#/x"}], "nullable": true}),
                "/nullable",
            ),
            (
                json!({"allOf": [{"$ref": "#/x"}, {}], "nullable": true}),
                "/nullable",
            ),
            (json!({"exclusiveMinimum": 0}), "/exclusiveMinimum"),
            (json!({"exclusiveMaximum": 9}), "/exclusiveMaximum"),
            (json!({"type": "array"}), "/items"),
            (json!({"type": "object", "required": []}), "/required"),
            (
                json!({"properties": {"a": {"const": 1}}}),
                "/properties/a/const",
            ),
            (json!({"items": true}), "/items"),
            (json!({"not": {"examples": [1]}}), "/not/examples"),
            (
                json!({"additionalProperties": {"type": "null"}}),
                "/additionalProperties/type",
            ),
            (
                json!({"anyOf": [{"$ref": "#/x", "title": "t"}]}),
                "/anyOf/0/title",
            ),
        ];
        for keyword in JSON_SCHEMA_ONLY_KEYWORDS {
            cases.push((json!({*keyword: {}}), ""));
        }
        for (schema, pointer) in cases {
            let pointer = match pointer {
                "" => child(
                    "/components/schemas/S",
                    schema.as_object().unwrap().keys().next().unwrap(),
                ),
                _ => format!("/components/schemas/S{pointer}"),
            };
            assert_flags(json!({"components": {"schemas": {"S": schema}}}), &pointer);
        }
    }

    #[test]
    fn the_checker_passes_3_0_constructs_and_data_that_looks_like_3_1() {
        let data = json!({"const": 1, "$ref": "#/x", "type": ["string", "null"], "nullable": true});
        let doc = json!({
            "openapi": "3.0.3",
            "info": {"title": "t", "version": "1", "x-summary": data},
            "paths": {"/x": {"x-data": data, "get": {
                "security": [{"oauth": ["read"]}],
                "responses": {"x-data": data, "200": {"description": "ok",
                    "links": {"l": {"operationId": "o", "parameters": {"p": data}}},
                    "content": {"application/json": {"example": data,
                        "examples": {"e": {"value": data}},
                        "schema": {"type": "object", "nullable": true, "default": data,
                            "enum": [data], "x-data": data, "example": data,
                            "properties": {"const": {"type": "string"}, "examples": {"type": "string"}},
                            "additionalProperties": false}}}}}}}},
            "components": {
                "schemas": {
                    "R": {"allOf": [{"$ref": "#/x"}], "description": "d"},
                    "B": {"type": "number", "minimum": 0, "exclusiveMinimum": true}
                },
                "securitySchemes": {"oauth": {"type": "oauth2", "flows": {}}}
            }
        });
        assert_eq!(check_3_0(&doc), Ok(()));
    }
}
