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
use utoipa_swagger_ui::{Config, Url};

use crate::api_doc::SpecVersion;

use crate::errors::ApiError;
use crate::openapi30::UnsupportedConstruct;

/// Where Swagger UI is served; the page itself lives at `/docs/`, `/docs` redirects there.
pub const DOCS_PATH: &str = "/docs";
/// The pattern of the files of Swagger UI.
const DOCS_FILES: &str = "/docs/{file:.*}";

/// The route patterns this module serves, all `GET`.
pub fn patterns() -> Vec<&'static str> {
    let specs = SpecVersion::ALL.map(SpecVersion::url_path);
    specs.into_iter().chain([DOCS_PATH, DOCS_FILES]).collect()
}

/// What the docs routes serve, prepared once at start-up.
pub struct Docs {
    specs: Vec<(SpecVersion, Bytes)>,
    index_html: Bytes,
    swagger_config: Arc<Config<'static>>,
}

impl Docs {
    /// Prepares both editions of the document and the Swagger UI page for `api`.
    pub fn new(api: &OpenApi) -> Result<Self, UnsupportedConstruct> {
        let specs = SpecVersion::ALL
            .into_iter()
            .map(|version| Ok((version, Bytes::from(version.render(api)?))))
            .collect::<Result<_, UnsupportedConstruct>>()?;
        let spec_urls = SpecVersion::ALL.map(|version| {
            let primary = version == SpecVersion::ALL[0];
            Url::with_primary(version.label(), url_from_docs_page(version), primary)
        });
        let swagger_config = Arc::new(
            Config::new(spec_urls)
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
        Ok(Self {
            specs,
            index_html: Bytes::from(index_html),
            swagger_config,
        })
    }
}

/// Each edition's URL as Swagger UI at `/docs/` fetches it: relative, so a path prefix survives.
fn url_from_docs_page(version: SpecVersion) -> &'static str {
    match version {
        SpecVersion::V3_1 => "../openapi.json",
        SpecVersion::V3_0 => "../openapi-3.0.json",
    }
}

/// Registers the document and Swagger UI routes.
pub fn configure(docs: web::Data<Docs>) -> impl FnOnce(&mut web::ServiceConfig) {
    move |config| {
        for (version, _) in &docs.specs {
            let version = *version;
            config.route(
                version.url_path(),
                web::get().to(move |docs: web::Data<Docs>| spec(docs, version)),
            );
        }
        config
            .app_data(docs)
            .route(DOCS_PATH, web::get().to(redirect_to_docs_page))
            .route(DOCS_FILES, web::get().to(docs_file));
    }
}

async fn spec(docs: web::Data<Docs>, version: SpecVersion) -> HttpResponse {
    let json = docs
        .specs
        .iter()
        .find(|(v, _)| *v == version)
        .map(|(_, json)| json.clone());
    HttpResponse::Ok()
        .content_type(ContentType::json())
        .body(json.unwrap_or_default())
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
    fn swagger_ui_finds_each_edition_from_the_docs_page() {
        for version in SpecVersion::ALL {
            assert_eq!(
                url_from_docs_page(version),
                format!("..{}", version.url_path())
            );
        }
    }

    #[test]
    fn retitle_replaces_and_escapes_the_title() {
        assert_eq!(
            retitle("<head><title>Swagger UI</title></head>", "a<b> & c"),
            "<head><title>a&lt;b&gt; &amp; c</title></head>"
        );
        assert_eq!(retitle("<p>no title</p>", "x"), "<p>no title</p>");
    }
}
