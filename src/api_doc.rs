//! The OpenAPI document: its fixed parts (info comes from Cargo.toml, tags below), completed by
//! the paths and schemas that the routes register in [`crate::startup::api_app`].

use utoipa::OpenApi;

use crate::errors::ErrorBody;
use crate::validation::{HttpValidationError, ValidationError};

/// Info (title, version, description, license from Cargo.toml), tags and shared schemas.
#[derive(OpenApi)]
#[openapi(
    tags(
        (name = "greeting", description = "Greetings, after a simulated I/O wait."),
        (name = "health", description = "Liveness of the service, answered at once."),
    ),
    components(schemas(ErrorBody, HttpValidationError, ValidationError)),
)]
pub struct ApiDoc;

/// The complete document of the API, generated from the routes.
pub fn openapi() -> utoipa::openapi::OpenApi {
    crate::startup::api_app().split_for_parts().1
}

/// `api` as pretty-printed JSON with a trailing newline: the form committed as
/// `openapi/openapi.json` and served at `/openapi.json`.
pub fn to_json(api: &utoipa::openapi::OpenApi) -> String {
    let mut json = api
        .to_pretty_json()
        .expect("an OpenAPI document always serializes");
    json.push('\n');
    json
}
