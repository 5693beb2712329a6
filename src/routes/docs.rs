//! The OpenAPI document at `/openapi.json` and Swagger UI at `/docs/`, compiled into the binary.
//!
//! Swagger UI comes from utoipa-swagger-ui's `vendored` build: nothing is fetched at build or at
//! run time. Every URL the page uses is relative, so it also works behind a proxy that mounts the
//! service under a path prefix. These are not API operations and stay out of the document, as in
//! FastAPI.

use std::sync::Arc;

use actix_web::http::header::{self, ContentType};
use actix_web::web::{self, Bytes};
use actix_web::{HttpResponse, ResponseError};
use utoipa::openapi::OpenApi;
use utoipa_swagger_ui::Config;

use crate::errors::ApiError;

/// Where the OpenAPI document is served (FastAPI's URL).
pub const SPEC_PATH: &str = "/openapi.json";
/// Where Swagger UI is served; the page itself lives at `/docs/`, `/docs` redirects there.
pub const DOCS_PATH: &str = "/docs";
/// The route patterns this module serves, all `GET`.
pub const PATTERNS: [&str; 3] = [SPEC_PATH, DOCS_PATH, "/docs/{file:.*}"];
/// The document's URL as Swagger UI at `/docs/` fetches it: relative, so a path prefix survives.
const SPEC_URL_FROM_DOCS: &str = "../openapi.json";

/// What the docs routes serve, prepared once at start-up.
pub struct Docs {
    spec_json: Bytes,
    index_html: Bytes,
    swagger_config: Arc<Config<'static>>,
}

impl Docs {
    /// Prepares the document and the Swagger UI page for `api`.
    pub fn new(api: &OpenApi) -> Self {
        let swagger_config = Arc::new(
            Config::new([SPEC_URL_FROM_DOCS])
                // Swagger UI's default validator badge loads an image from validator.swagger.io.
                .validator_url("none")
                .display_operation_id(true)
                .display_request_duration(true)
                .deep_linking(true)
                .filter(true),
        );
        let index_html = swagger_file("index.html", &swagger_config)
            .map(|html| retitle(&html, &format!("{} - Swagger UI", api.info.title)))
            .expect("Swagger UI's index.html is compiled into the binary");
        Self {
            spec_json: Bytes::from(crate::api_doc::to_json(api)),
            index_html: Bytes::from(index_html),
            swagger_config,
        }
    }
}

/// Registers the document and Swagger UI routes.
pub fn configure(docs: web::Data<Docs>) -> impl FnOnce(&mut web::ServiceConfig) {
    move |config| {
        config
            .app_data(docs)
            .route(SPEC_PATH, web::get().to(spec))
            .route(DOCS_PATH, web::get().to(redirect_to_docs_page))
            .route(PATTERNS[2], web::get().to(docs_file));
    }
}

async fn spec(docs: web::Data<Docs>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type(ContentType::json())
        .body(docs.spec_json.clone())
}

/// `/docs` → `docs/`: relative, so it resolves under whatever prefix the client sees.
async fn redirect_to_docs_page() -> HttpResponse {
    let last_segment = DOCS_PATH.rsplit('/').next().unwrap_or_default();
    HttpResponse::TemporaryRedirect()
        .insert_header((header::LOCATION, format!("{last_segment}/")))
        .finish()
}

async fn docs_file(file: web::Path<String>, docs: web::Data<Docs>) -> HttpResponse {
    let file = file.into_inner();
    if file.is_empty() || file == "index.html" {
        return HttpResponse::Ok()
            .content_type(ContentType::html())
            .body(docs.index_html.clone());
    }
    match utoipa_swagger_ui::serve(&file, docs.swagger_config.clone()) {
        Ok(Some(asset)) => {
            let mut response = HttpResponse::Ok();
            if asset.gzpipped {
                response.insert_header(header::ContentEncoding::Gzip);
            }
            response
                .content_type(asset.content_type)
                .body(asset.bytes.into_owned())
        }
        Ok(None) => ApiError::NotFound.error_response(),
        Err(cause) => ApiError::Internal(cause.to_string()).error_response(),
    }
}

fn swagger_file(file: &str, config: &Arc<Config<'static>>) -> Option<String> {
    let asset = utoipa_swagger_ui::serve(file, config.clone()).ok()??;
    String::from_utf8(asset.bytes.into_owned()).ok()
}

/// Replaces the page's `<title>` with `title`, escaped for HTML.
fn retitle(html: &str, title: &str) -> String {
    let escaped = title
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;");
    match (html.find("<title>"), html.find("</title>")) {
        (Some(start), Some(end)) if start < end => {
            format!("{}<title>{escaped}{}", &html[..start], &html[end..])
        }
        _ => html.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retitle_replaces_and_escapes_the_title() {
        assert_eq!(
            retitle("<head><title>Swagger UI</title></head>", "a<b> & c"),
            "<head><title>a&lt;b&gt; &amp; c</title></head>"
        );
        assert_eq!(retitle("<p>no title</p>", "x"), "<p>no title</p>");
    }
}
