//! `GET /aggregate`'s parameters in the document, as the configuration declares them
//! (`[[parameters]]`): each a query parameter with its schema (type, length, pattern, range,
//! values, default), and the `422` a missing or invalid one gets. The committed document is the
//! default configuration's, which declares none.

use serde_json::{Value, json};
use utoipa::openapi::path::{Operation, ParameterBuilder, ParameterIn};
use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, SchemaFormat, Type};
use utoipa::openapi::{ContentBuilder, Ref, Required, ResponseBuilder};

use crate::api::validation::{HttpValidationError, Violation, query_loc};
use crate::config::parameters::{Parameter, Rule};

/// Adds `parameters` to `operation`, with the `422` they may get.
pub fn describe(operation: &mut Operation, parameters: &[Parameter]) {
    if parameters.is_empty() {
        return;
    }
    let described = operation.parameters.get_or_insert_with(Vec::new);
    for parameter in parameters {
        let placeholder = format!("Fills `{{{}}}` in the upstream URLs.", parameter.name);
        let description = match &parameter.description {
            Some(text) => format!("{text} {placeholder}"),
            None => placeholder,
        };
        described.push(
            ParameterBuilder::new()
                .name(&parameter.name)
                .parameter_in(ParameterIn::Query)
                .required(if parameter.default.is_none() {
                    Required::True
                } else {
                    Required::False
                })
                .description(Some(description))
                .schema(Some(schema(parameter)))
                .build()
                .into(),
        );
    }
    let example = HttpValidationError {
        detail: vec![example_error(&parameters[0])],
    };
    let response = ResponseBuilder::new()
        .description("A parameter is missing or breaks a rule; every invalid one is listed.")
        .content(
            "application/json",
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name("HTTPValidationError")))
                .example(serde_json::to_value(example).ok())
                .build(),
        )
        .build();
    operation
        .responses
        .responses
        .insert("422".to_owned(), response.into());
}

/// The parameter's schema: its type and rules, and its default.
fn schema(parameter: &Parameter) -> ObjectBuilder {
    let default = parameter
        .default
        .as_ref()
        .map(|value| match parameter.rule {
            Rule::Integer { .. } => value.parse::<i64>().map_or(json!(value), |n| json!(n)),
            _ => json!(value),
        });
    let schema = match &parameter.rule {
        Rule::String {
            min_length,
            max_length,
            pattern,
        } => ObjectBuilder::new()
            .schema_type(Type::String)
            .min_length(usize::try_from(*min_length).ok())
            .max_length(usize::try_from(*max_length).ok())
            .pattern(pattern.as_ref().map(|p| p.as_str())),
        Rule::Integer { minimum, maximum } => ObjectBuilder::new()
            .schema_type(Type::Integer)
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::Int64)))
            .minimum(*minimum)
            .maximum(*maximum),
        Rule::Enum { values } => ObjectBuilder::new()
            .schema_type(Type::String)
            .enum_values(Some(values.iter().cloned())),
    };
    schema.default(default)
}

/// A true `422` entry for `parameter`: missing when it is required, else a value it refuses.
fn example_error(parameter: &Parameter) -> crate::api::validation::ValidationError {
    let loc = query_loc(&parameter.name);
    if parameter.default.is_none() {
        return Violation::missing().at(loc, Value::Null);
    }
    let probes = ["", "x", "not a value", "-"];
    let refused = probes
        .iter()
        .find_map(|probe| parameter.check(probe).err().map(|refusal| (probe, refusal)));
    match refused {
        Some((probe, refusal)) => Violation::from(refusal).at(loc, json!(probe)),
        None => {
            Violation::new("string_type", "Input should be a valid string").at(loc, Value::Null)
        }
    }
}
