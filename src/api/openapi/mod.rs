//! The OpenAPI document: its fixed parts (info comes from Cargo.toml, tags below), completed by
//! the paths and schemas that the routes register (see [`crate::api::document`]), and published
//! in two editions: OpenAPI 3.1 as utoipa generates it, and a 3.0.3 conversion for generators
//! that read only 3.0.

use utoipa::OpenApi;
use utoipa::openapi::header::HeaderBuilder;
use utoipa::openapi::path::Operation;
use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, SchemaFormat, Type};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme};
use utoipa::openapi::{ContentBuilder, Ref, RefOr, ResponseBuilder};

pub mod check;
pub mod parameters;
pub mod v3_0;

/// Small documents for the conversion's and the checker's tests.
#[cfg(test)]
mod test_documents {
    use serde_json::{Value, json};

    /// A minimal document of `version` with `parts` laid over it.
    pub(super) fn doc_of(version: &str, parts: Value) -> Value {
        let mut doc =
            json!({"openapi": version, "info": {"title": "t", "version": "1"}, "paths": {}});
        doc.as_object_mut()
            .unwrap()
            .extend(parts.as_object().unwrap().clone());
        doc
    }

    /// A minimal OpenAPI 3.1 document with `parts` laid over it.
    pub(super) fn doc(parts: Value) -> Value {
        doc_of("3.1.0", parts)
    }
}

use crate::api::errors::{ApiError, ErrorBody};
use crate::api::validation::{HttpValidationError, ValidationError};
use v3_0::UnsupportedConstruct;

/// Info (title, version, description, license and contact from Cargo.toml), tags, the server
/// and shared schemas.
#[derive(OpenApi)]
#[openapi(
    tags(
        (name = "greeting", description = "Greetings, after a simulated I/O wait."),
        (name = "fan-out", description = "One request calling several upstream services at once."),
        (name = "health", description = "Liveness and readiness of the service, answered at once."),
    ),
    components(schemas(ErrorBody, HttpValidationError, ValidationError)),
    servers((url = "/", description = "The server that serves this document")),
)]
pub struct ApiDoc;

/// The security scheme of the API keys (`--api-keys-file`, `GREETER_API_KEYS`).
pub const BEARER_SCHEME: &str = "bearerAuth";

/// Whether the operations at `path` are public: the probes, which load balancers and
/// orchestrators call without credentials, are never rate limited nor behind the API keys.
pub fn is_public(path: &str) -> bool {
    matches!(path, "/healthz" | "/readyz")
}

/// What a server's settings change in the document it serves, beyond the routes. The committed
/// document is the default's ([`Deployment::default`]): no API keys.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Deployment<'a> {
    /// Whether API keys are on: the bearer scheme, each operation's requirement and its `401`
    /// are declared only then, so that the document never asks for a key the server does not
    /// check (schemathesis, Dredd and the generated clients take it at its word).
    pub api_keys: bool,
    /// The parameters of `GET /aggregate` (`[[parameters]]`): each described, with its `422`.
    pub parameters: &'a [crate::config::parameters::Parameter],
}

/// Adds the answers no handler writes but every operation can get: `414` and `431` from the head
/// limits checked before routing (with the default limits in the examples), `400` for a body
/// sent to a `GET` operation (every `GET` route takes [`crate::api::body::NoBody`]); on every
/// operation but the public ones ([`is_public`]), `429` with the rate-limit headers; and with API
/// keys on, `401` with the bearer scheme as its `security` (the public ones say `security: []`).
pub fn add_shared_refusals(api: &mut utoipa::openapi::OpenApi, deployment: Deployment<'_>) {
    if deployment.api_keys {
        add_bearer_scheme(api);
    }
    let defaults = crate::config::ServeSettings::default();
    let uri_too_long = ApiError::UriTooLong {
        limit: defaults.max_uri_bytes(),
    };
    let head_too_large = ApiError::HeaderFieldsTooLarge {
        limit: defaults.max_header_bytes(),
    };
    let body_on_get = ApiError::BadRequest("a GET request cannot carry a body".to_owned());
    let too_many = ApiError::TooManyRequests {
        retry_after_secs: 1,
    };
    for (path, item) in api.paths.paths.iter_mut() {
        let public = is_public(path);
        if let Some(get) = item.get.as_mut() {
            add_refusal(
                get,
                "400",
                "The request carries a body; a GET takes none.",
                &body_on_get,
            );
        }
        let operations = [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
            &mut item.patch,
        ];
        for operation in operations.into_iter().flatten() {
            add_refusal(
                operation,
                "414",
                "The request target (path and query) is longer than the server's limit \
                 (`--max-uri-length`, 4 KiB by default).",
                &uri_too_long,
            );
            add_refusal(
                operation,
                "500",
                "A failure inside the service (a bug, or a panic contained): logged with the \
                 request id; the cause is never sent.",
                &ApiError::Internal(String::new()),
            );
            add_refusal(
                operation,
                "431",
                "The request line and headers are larger than the server's limit \
                 (`--max-header-size`, 8 KiB by default).",
                &head_too_large,
            );
            if public {
                if deployment.api_keys {
                    operation.security = Some(Vec::new());
                }
            } else {
                if deployment.api_keys {
                    operation.security = Some(vec![SecurityRequirement::new(
                        BEARER_SCHEME,
                        Vec::<String>::new(),
                    )]);
                    add_refusal(
                        operation,
                        "401",
                        "The request carries none of the server's API keys as \
                         `Authorization: Bearer <key>`; `WWW-Authenticate: Bearer` says how.",
                        &ApiError::Unauthorized,
                    );
                    add_www_authenticate(operation);
                }
                add_refusal(
                    operation,
                    "429",
                    "The client is over the server's rate limit (`--rate-limit`, off by \
                     default); `Retry-After` says when to try again.",
                    &too_many,
                );
                add_rate_limit_headers(operation);
            }
        }
    }
}

/// Declares the bearer scheme of the API keys.
fn add_bearer_scheme(api: &mut utoipa::openapi::OpenApi) {
    api.components
        .get_or_insert_with(Default::default)
        .add_security_scheme(
            BEARER_SCHEME,
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "An API key of this server's, sent as `Authorization: Bearer <key>`.",
                    ))
                    .build(),
            ),
        );
}

/// Documents `WWW-Authenticate` on `operation`'s `401`.
fn add_www_authenticate(operation: &mut Operation) {
    let Some(RefOr::T(response)) = operation.responses.responses.get_mut("401") else {
        return;
    };
    let header = HeaderBuilder::new()
        .schema(Some(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .enum_values(Some(["Bearer"])),
        ))
        .description(Some("The scheme to authenticate with: `Bearer`."))
        .build();
    response
        .headers
        .insert("WWW-Authenticate".to_owned(), header.into());
}

/// Documents the rate-limit headers on every answer of `operation`, and `Retry-After` on its
/// `429`.
fn add_rate_limit_headers(operation: &mut Operation) {
    let string_header = |description: &str, pattern: &str, example: &str| {
        HeaderBuilder::new()
            .schema(Some(
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .max_length(Some(128))
                    .pattern(Some(pattern))
                    .examples([serde_json::json!(example)]),
            ))
            .description(Some(description))
            .build()
            .into()
    };
    for (status, response) in operation.responses.responses.iter_mut() {
        let RefOr::T(response) = response else {
            continue;
        };
        response.headers.insert(
            "RateLimit-Policy".to_owned(),
            string_header(
                "With `--rate-limit`: the limit each client has (IETF draft \
                 ratelimit-headers): `q` requests at once, earned back over `w` seconds.",
                r#"^"default";q=[0-9]+;w=[0-9]+$"#,
                "\"default\";q=10;w=1",
            ),
        );
        response.headers.insert(
            "RateLimit".to_owned(),
            string_header(
                "With `--rate-limit`: where the client stands: `r` requests left now, all of \
                 them again in `t` seconds.",
                r#"^"default";r=[0-9]+;t=[0-9]+$"#,
                "\"default\";r=9;t=1",
            ),
        );
        if status == "429" {
            let seconds = HeaderBuilder::new()
                .schema(Some(
                    ObjectBuilder::new()
                        .schema_type(Type::Integer)
                        .format(Some(SchemaFormat::KnownFormat(KnownFormat::Int64)))
                        .minimum(Some(1))
                        .maximum(Some(86_400)),
                ))
                .description(Some("Whole seconds until a request would be let through."))
                .build();
            response
                .headers
                .insert("Retry-After".to_owned(), seconds.into());
        }
    }
}

/// Documents `error` as `operation`'s `status` answer, unless the operation documents its own.
fn add_refusal(operation: &mut Operation, status: &str, description: &str, error: &ApiError) {
    let example = match error {
        // Its cause is logged, never sent.
        ApiError::Internal(_) => serde_json::json!({"detail": "Internal Server Error"}),
        _ => serde_json::json!({"detail": error.to_string()}),
    };
    let content = ContentBuilder::new()
        .schema(Some(Ref::from_schema_name("ErrorBody")))
        .example(Some(example))
        .build();
    let response = ResponseBuilder::new()
        .description(description)
        .content("application/json", content)
        .build();
    operation
        .responses
        .responses
        .entry(status.to_owned())
        .or_insert(response.into());
}

/// The editions of the OpenAPI document greeter publishes: `3.1` and `3.0` on the command line
/// (`greeter openapi --spec-version`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpecVersion {
    /// OpenAPI 3.1, as utoipa generates it.
    V3_1,
    /// OpenAPI 3.0.3, converted from the 3.1 document.
    V3_0,
}

impl std::str::FromStr for SpecVersion {
    type Err = String;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        match input {
            "3.1" => Ok(Self::V3_1),
            "3.0" => Ok(Self::V3_0),
            other => Err(format!("{other:?} is not an edition: 3.1 or 3.0")),
        }
    }
}

impl SpecVersion {
    /// Both editions, the primary one first.
    pub const ALL: [SpecVersion; 2] = [Self::V3_1, Self::V3_0];

    /// The edition's path when the 3.1 document is served at `primary`: the 3.0 edition puts
    /// `-3.0` before a `.json` ending, or at the end (`/openapi.json` → `/openapi-3.0.json`).
    pub fn path_beside(self, primary: &str) -> String {
        match self {
            Self::V3_1 => primary.to_owned(),
            Self::V3_0 => match primary.strip_suffix(".json") {
                Some(stem) => format!("{stem}-3.0.json"),
                None => format!("{primary}-3.0"),
            },
        }
    }

    /// The edition's file under `openapi/`, e.g. `openapi.json`.
    pub fn file_name(self) -> &'static str {
        match self {
            Self::V3_1 => "openapi.json",
            Self::V3_0 => "openapi-3.0.json",
        }
    }

    /// A short label, e.g. `OpenAPI 3.1`.
    pub fn label(self) -> &'static str {
        match self {
            Self::V3_1 => "OpenAPI 3.1",
            Self::V3_0 => "OpenAPI 3.0",
        }
    }

    /// `api` in this edition as pretty-printed JSON with a trailing newline: the form that is
    /// committed under `openapi/` and served.
    pub fn render(self, api: &utoipa::openapi::OpenApi) -> Result<String, UnsupportedConstruct> {
        let value = serde_json::to_value(api).expect("an OpenAPI document always serializes");
        let value = match self {
            Self::V3_1 => value,
            Self::V3_0 => v3_0::downgrade(&value)?,
        };
        let mut json = serde_json::to_string_pretty(&value).expect("JSON always serializes");
        json.push('\n');
        Ok(json)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_command_lines_editions_are_the_documents() {
        for name in crate::config::cli::SPEC_VERSIONS {
            assert!(name.parse::<SpecVersion>().is_ok(), "{name}");
        }
        assert_eq!(
            crate::config::cli::SPEC_VERSIONS.len(),
            SpecVersion::ALL.len()
        );
    }

    #[test]
    fn the_3_0_edition_sits_beside_the_3_1_document() {
        assert_eq!(
            SpecVersion::V3_0.path_beside("/openapi.json"),
            "/openapi-3.0.json"
        );
        assert_eq!(
            SpecVersion::V3_1.path_beside("/openapi.json"),
            "/openapi.json"
        );
        assert_eq!(
            SpecVersion::V3_0.path_beside("/api/spec.json"),
            "/api/spec-3.0.json"
        );
        assert_eq!(SpecVersion::V3_0.path_beside("/spec"), "/spec-3.0");
    }
}
