//! The OpenAPI documents (3.1 at `/openapi.json`, its 3.0 edition beside it) and Swagger UI at
//! `/docs/`, compiled into the binary. Both are settings: `--docs-path`, `--openapi-path`, each
//! `off` to remove it.
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

use crate::api::body::NoBody;
use crate::api::errors::ApiError;
use crate::api::openapi::v3_0::UnsupportedConstruct;
use crate::process::settings::Mount;
use crate::process::settings::SpecVersion;

/// What the docs page may load: only its own files (styles inline, images also as `data:`
/// URIs, as Swagger UI draws them), and nothing may frame it.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; \
    style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; \
    frame-ancestors 'none'; base-uri 'self'; form-action 'self'";

/// greeter's own icon for the docs page.
const FAVICON_SVG: &[u8] = include_bytes!("../assets/favicon.svg");

/// Where the documents and Swagger UI are served, as the settings say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocsLayout {
    /// Each edition of the document with its path; empty when the documents are off.
    pub specs: Vec<(SpecVersion, String)>,
    /// Swagger UI's path (the page is this plus `/`); `None` when off, or when the documents are.
    pub docs: Option<String>,
}

impl DocsLayout {
    /// The layout for `--docs-path` and `--openapi-path`: without documents there is no UI.
    pub fn new(docs: &Mount, openapi: &Mount) -> Self {
        let specs: Vec<(SpecVersion, String)> = match openapi.path() {
            Some(primary) => SpecVersion::ALL
                .into_iter()
                .map(|version| (version, version.path_beside(primary.as_str())))
                .collect(),
            None => Vec::new(),
        };
        let docs = docs
            .path()
            .filter(|_| !specs.is_empty())
            .map(|p| p.as_str().to_owned());
        Self { specs, docs }
    }

    /// The route patterns served, all `GET`.
    pub fn patterns(&self) -> Vec<String> {
        let docs = self
            .docs
            .iter()
            .flat_map(|docs| [docs.clone(), files_pattern(docs)]);
        self.specs
            .iter()
            .map(|(_, path)| path.clone())
            .chain(docs)
            .collect()
    }
}

fn files_pattern(docs: &str) -> String {
    format!("{docs}/{{file:.*}}")
}

/// `target` as a URL relative to the page at `{docs}/`, so that a path prefix survives:
/// `/openapi.json` from `/docs/` is `../openapi.json`.
fn relative_to_docs_page(docs: &str, target: &str) -> String {
    let depth = docs.matches('/').count();
    format!("{}{}", "../".repeat(depth), target.trim_start_matches('/'))
}

/// What the docs routes serve, prepared once at start-up.
pub struct Docs {
    layout: DocsLayout,
    specs: Vec<Bytes>,
    index_html: Bytes,
    swagger_config: Arc<Config<'static>>,
}

impl Docs {
    /// Renders each edition of `api` and prepares Swagger UI for `layout`.
    pub fn new(api: &OpenApi, layout: DocsLayout) -> Result<Self, UnsupportedConstruct> {
        let specs = layout
            .specs
            .iter()
            .map(|(version, _)| Ok(Bytes::from(version.render(api)?)))
            .collect::<Result<_, UnsupportedConstruct>>()?;
        let docs = layout.docs.clone().unwrap_or_default();
        let spec_urls: Vec<Url<'static>> = layout
            .specs
            .iter()
            .enumerate()
            .map(|(index, (version, path))| {
                let url = relative_to_docs_page(&docs, path);
                Url::with_primary(version.label(), leak(url), index == 0)
            })
            .collect();
        let swagger_config = Arc::new(
            Config::new(spec_urls)
                // Swagger UI's default validator badge loads an image from validator.swagger.io.
                .validator_url("none")
                .display_operation_id(true)
                .display_request_duration(true)
                .deep_linking(true)
                .filter(true),
        );
        let title = format!("{} - Swagger UI", api.info.title);
        let index_html = swagger_file("index.html", &swagger_config)
            .map(|html| with_favicon(&retitle(&html, &title)))
            .expect("Swagger UI's index.html is compiled into the binary");
        Ok(Self {
            layout,
            specs,
            index_html: Bytes::from(index_html),
            swagger_config,
        })
    }
}

impl Docs {
    /// Where the documents and Swagger UI are served.
    pub fn layout(&self) -> &DocsLayout {
        &self.layout
    }
}

/// Swagger UI's configuration holds `'static` URLs; the few made at start-up live as long as
/// the process anyway.
fn leak(url: String) -> &'static str {
    Box::leak(url.into_boxed_str())
}

/// Registers the documents and Swagger UI where the layout puts them.
pub fn configure(docs: web::Data<Docs>) -> impl FnOnce(&mut web::ServiceConfig) {
    move |config| {
        for (index, (_, path)) in docs.layout.specs.iter().enumerate() {
            config.route(
                path,
                web::get()
                    .to(move |_: NoBody, docs: web::Data<Docs>| async move { spec(&docs, index) }),
            );
        }
        if let Some(path) = docs.layout.docs.clone() {
            let page = format!("{}/", path.rsplit('/').next().unwrap_or_default());
            config
                .route(
                    &path,
                    web::get().to(move |_: NoBody| redirect(page.clone())),
                )
                .route(&files_pattern(&path), web::get().to(docs_file));
        }
        config.app_data(docs);
    }
}

fn spec(docs: &Docs, index: usize) -> HttpResponse {
    HttpResponse::Ok()
        .content_type(ContentType::json())
        .body(docs.specs[index].clone())
}

/// `/docs` → `docs/`: relative, so it resolves under whatever prefix the client sees.
async fn redirect(location: String) -> HttpResponse {
    HttpResponse::TemporaryRedirect()
        .insert_header((header::LOCATION, location))
        .finish()
}

async fn docs_file(_: NoBody, file: web::Path<String>, docs: web::Data<Docs>) -> HttpResponse {
    let file = file.into_inner();
    match file.as_str() {
        "" | "index.html" => {
            return HttpResponse::Ok()
                .content_type(ContentType::html())
                .insert_header((header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY))
                .body(docs.index_html.clone());
        }
        "favicon.svg" => {
            return HttpResponse::Ok()
                .content_type("image/svg+xml")
                .body(FAVICON_SVG);
        }
        _ => {}
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

/// Replaces Swagger UI's icons with greeter's own.
fn with_favicon(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut replaced = false;
    for line in html.split_inclusive('\n') {
        if line.contains("rel=\"icon\"") {
            if !replaced {
                out.push_str(
                    "    <link rel=\"icon\" type=\"image/svg+xml\" href=\"./favicon.svg\" />\n",
                );
                replaced = true;
            }
        } else {
            out.push_str(line);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mount(path: &str) -> Mount {
        path.parse().unwrap()
    }

    #[test]
    fn the_page_finds_each_document_by_a_relative_url() {
        assert_eq!(
            relative_to_docs_page("/docs", "/openapi.json"),
            "../openapi.json"
        );
        assert_eq!(
            relative_to_docs_page("/api/docs", "/openapi-3.0.json"),
            "../../openapi-3.0.json"
        );
        assert_eq!(
            relative_to_docs_page("/docs", "/v1/spec.json"),
            "../v1/spec.json"
        );
    }

    #[test]
    fn the_layout_follows_the_settings() {
        let default = DocsLayout::new(&mount("/docs"), &mount("/openapi.json"));
        assert_eq!(
            default.patterns(),
            [
                "/openapi.json",
                "/openapi-3.0.json",
                "/docs",
                "/docs/{file:.*}"
            ]
        );
        let no_docs = DocsLayout::new(&Mount::Off, &mount("/spec.json"));
        assert_eq!(no_docs.patterns(), ["/spec.json", "/spec-3.0.json"]);
        let nothing = DocsLayout::new(&mount("/docs"), &Mount::Off);
        assert!(nothing.patterns().is_empty(), "no UI without a document");
    }

    #[test]
    fn retitle_replaces_and_escapes_the_title() {
        assert_eq!(
            retitle("<head><title>Swagger UI</title></head>", "a<b> & c"),
            "<head><title>a&lt;b&gt; &amp; c</title></head>"
        );
        assert_eq!(retitle("<p>no title</p>", "x"), "<p>no title</p>");
    }

    #[test]
    fn the_icons_become_greeters_own() {
        let html = "<head>\n<link rel=\"icon\" href=\"./a.png\" />\n<link rel=\"icon\" href=\"./b.png\" />\n</head>\n";
        assert_eq!(
            with_favicon(html),
            "<head>\n    <link rel=\"icon\" type=\"image/svg+xml\" href=\"./favicon.svg\" />\n</head>\n"
        );
    }
}
