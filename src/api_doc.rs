//! The OpenAPI document: its fixed parts (info comes from Cargo.toml, tags below), completed by
//! the paths and schemas that the routes register in [`crate::startup::api_app`], and published
//! in two editions: OpenAPI 3.1 as utoipa generates it, and a 3.0.3 conversion for generators
//! that read only 3.0.

use utoipa::OpenApi;

use crate::errors::ErrorBody;
use crate::openapi30::{self, UnsupportedConstruct};
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

/// The editions of the document greeter publishes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SpecVersion {
    /// OpenAPI 3.1, as utoipa generates it.
    #[value(name = "3.1")]
    V3_1,
    /// OpenAPI 3.0.3, converted from the 3.1 document.
    #[value(name = "3.0")]
    V3_0,
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

    /// The edition's path with the default settings, e.g. `/openapi.json`.
    pub fn url_path(self) -> String {
        self.path_beside(crate::settings::DEFAULT_OPENAPI_PATH)
    }

    /// Where the edition is committed, relative to the project root.
    pub fn committed_file(self) -> &'static str {
        match self {
            Self::V3_1 => "openapi/openapi.json",
            Self::V3_0 => "openapi/openapi-3.0.json",
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
            Self::V3_0 => openapi30::downgrade(&value)?,
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
    fn the_3_0_edition_sits_beside_the_3_1_document() {
        assert_eq!(SpecVersion::V3_0.url_path(), "/openapi-3.0.json");
        assert_eq!(SpecVersion::V3_1.url_path(), "/openapi.json");
        assert_eq!(
            SpecVersion::V3_0.path_beside("/api/spec.json"),
            "/api/spec-3.0.json"
        );
        assert_eq!(SpecVersion::V3_0.path_beside("/spec"), "/spec-3.0");
    }
}
