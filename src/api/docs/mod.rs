//! The OpenAPI documents (3.1 at `/openapi.json`, its 3.0 edition beside it), Swagger UI at
//! `/docs/` and ReDoc at `/redoc`, compiled into the binary. Each is a setting
//! (`--openapi-path`, `--docs-path`, `--redoc-path`), `off` to remove it.
//!
//! Nothing is fetched at build or at run time, and nothing is compressed while answering: the
//! pages' files are compressed at build time ([`assets`]), the documents once after start-up
//! ([`representation`]). The pages link their files by versioned URLs (`name.<hash>.js`), kept
//! a year by browsers; the pages and documents are revalidated by `ETag`. Every URL a page uses
//! is relative, so it also works behind a proxy that mounts the service under a path prefix.
//! These are not API operations and stay out of the document, as in FastAPI.

pub mod assets;
pub mod pages;
pub mod representation;

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use actix_web::http::header::{self, HeaderValue};
use actix_web::web;
use actix_web::{HttpRequest, HttpResponse, ResponseError};
use utoipa::openapi::OpenApi;

use crate::api::body::NoBody;
use crate::api::errors::ApiError;
use crate::api::openapi::SpecVersion;
use crate::api::openapi::v3_0::UnsupportedConstruct;
use crate::config::Mount;
use pages::Linked;
use representation::{Caching, Representation};

/// Where the documents and the docs pages are served, as the settings say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocsLayout {
    /// Each edition of the document with its path; empty when the documents are off.
    pub specs: Vec<(SpecVersion, String)>,
    /// Swagger UI's path (the page is this plus `/`); `None` when off, or when the documents are.
    pub docs: Option<String>,
    /// ReDoc's page; `None` when off, or when the documents are.
    pub redoc: Option<String>,
}

impl DocsLayout {
    /// The layout for `--docs-path`, `--redoc-path` and `--openapi-path`: without documents
    /// there are no pages.
    pub fn new(docs: &Mount, redoc: &Mount, openapi: &Mount) -> Self {
        let specs: Vec<(SpecVersion, String)> = match openapi.path() {
            Some(primary) => SpecVersion::ALL
                .into_iter()
                .map(|version| (version, version.path_beside(primary.as_str())))
                .collect(),
            None => Vec::new(),
        };
        let page = |mount: &Mount| {
            mount
                .path()
                .filter(|_| !specs.is_empty())
                .map(|p| p.as_str().to_owned())
        };
        Self {
            docs: page(docs),
            redoc: page(redoc),
            specs,
        }
    }

    /// The pages' paths: each takes itself and every path under it.
    pub fn pages(&self) -> impl Iterator<Item = &String> {
        self.docs.iter().chain(self.redoc.iter())
    }

    /// The route patterns served, all `GET`.
    pub fn patterns(&self) -> Vec<String> {
        let pages = self
            .pages()
            .flat_map(|page| [page.clone(), files_pattern(page)]);
        self.specs
            .iter()
            .map(|(_, path)| path.clone())
            .chain(pages)
            .collect()
    }
}

fn files_pattern(page: &str) -> String {
    format!("{page}/{{file:.*}}")
}

/// `target` (an absolute path) as a URL relative to a page whose folder is `depth` levels
/// deep: `/openapi.json` from `/docs/` (depth 1) is `../openapi.json`.
fn relative(depth: usize, target: &str) -> String {
    format!("{}{}", "../".repeat(depth), target.trim_start_matches('/'))
}

/// `name.js` as `name.<hash>.js`: a URL that changes whenever the content does.
fn versioned(name: &str, hash: &str) -> String {
    let path = Path::new(name);
    match (path.file_stem(), path.extension()) {
        (Some(stem), Some(ext)) => format!("{}.{hash}.{}", stem.display(), ext.display()),
        _ => format!("{name}.{hash}"),
    }
}

/// The files under one page's path, each by its plain name (revalidated) and its versioned
/// name (immutable).
#[derive(Default)]
struct Files {
    by_name: HashMap<String, (Arc<Representation>, Caching)>,
    /// How the page links each file: `prefix` + versioned name.
    prefix: String,
    versions: HashMap<String, String>,
}

impl Files {
    fn new(prefix: String) -> Self {
        Self {
            prefix,
            ..Self::default()
        }
    }

    fn add(&mut self, name: &str, file: Arc<Representation>) {
        let versioned = versioned(name, file.hash());
        self.versions.insert(name.to_owned(), versioned.clone());
        self.by_name
            .insert(versioned, (file.clone(), Caching::Immutable));
        self.by_name
            .insert(name.to_owned(), (file, Caching::Revalidate));
    }

    fn get(&self, name: &str) -> Option<&(Arc<Representation>, Caching)> {
        self.by_name.get(name)
    }
}

impl Linked for Files {
    fn url(&self, name: &str) -> String {
        let file = self
            .versions
            .get(name)
            .unwrap_or_else(|| panic!("a page links {name}, which greeter does not serve"));
        format!("{}{file}", self.prefix)
    }
}

/// A page with its own Content-Security-Policy.
struct Page {
    html: Representation,
    csp: &'static str,
}

impl Page {
    fn respond(&self, request: &HttpRequest) -> HttpResponse {
        let mut response = self.html.respond(request, Caching::Revalidate);
        response.headers_mut().insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(self.csp),
        );
        response
    }
}

/// What the docs routes serve, prepared once at start-up.
pub struct Docs {
    layout: DocsLayout,
    specs: Vec<Arc<Representation>>,
    swagger_ui: Option<(Page, Files)>,
    redoc: Option<(Page, Files)>,
}

impl Docs {
    /// Renders each edition of `api`, prepares the pages for `layout`, and, unless the documents
    /// are the committed ones (compressed at build time), starts a thread that compresses them
    /// (until it is done, they go uncompressed).
    pub fn new(api: &OpenApi, layout: DocsLayout) -> Result<Self, UnsupportedConstruct> {
        let specs: Vec<Arc<Representation>> = layout
            .specs
            .iter()
            .map(|(version, _)| {
                let json = version.render(api)?;
                // The committed document (the usual case) was compressed at build time.
                let representation =
                    assets::committed_document(version.file_name(), json.as_bytes())
                        .unwrap_or_else(|| Representation::compressible("application/json", json));
                Ok(Arc::new(representation))
            })
            .collect::<Result<_, UnsupportedConstruct>>()?;
        let favicon = Arc::new(assets::built("favicon.svg"));
        let swagger_ui = layout.docs.as_deref().map(|docs| {
            // The page is `{docs}/`: its folder is as deep as the path has slashes.
            let depth = docs.matches('/').count();
            let spec_urls: Vec<(&str, String)> = layout
                .specs
                .iter()
                .map(|(version, path)| (version.label(), relative(depth, path)))
                .collect();
            let mut files = Files::new("./".to_owned());
            for name in pages::SWAGGER_UI_FILES {
                files.add(name, Arc::new(assets::built(name)));
            }
            files.add("favicon.svg", favicon.clone());
            let initializer = pages::swagger_initializer_js(&spec_urls);
            files.add(
                "swagger-initializer.js",
                Arc::new(Representation::plain(
                    "text/javascript; charset=utf-8",
                    initializer,
                )),
            );
            let html = pages::swagger_ui_html(&format!("{} - Swagger UI", api.info.title), &files);
            let page = Page {
                html: Representation::plain("text/html; charset=utf-8", html),
                csp: pages::SWAGGER_UI_CSP,
            };
            (page, files)
        });
        let redoc = layout.redoc.as_deref().map(|redoc| {
            // The page is `{redoc}`: its folder is one level less deep, and its files are under
            // its last segment.
            let depth = redoc.matches('/').count() - 1;
            let last = redoc.rsplit('/').next().unwrap_or_default();
            let mut files = Files::new(format!("{last}/"));
            files.add(
                "redoc.standalone.js",
                Arc::new(assets::built("redoc.standalone.js")),
            );
            files.add("favicon.svg", favicon.clone());
            let spec_url = layout
                .specs
                .first()
                .map(|(_, path)| relative(depth, path))
                .unwrap_or_default();
            let title = format!("{} - ReDoc", api.info.title);
            let page = Page {
                html: Representation::plain(
                    "text/html; charset=utf-8",
                    pages::redoc_html(&title, &spec_url, &files),
                ),
                csp: pages::REDOC_CSP,
            };
            (page, files)
        });
        compress_in_background(specs.clone());
        Ok(Self {
            layout,
            specs,
            swagger_ui,
            redoc,
        })
    }

    /// Where the documents and the docs pages are served.
    pub fn layout(&self) -> &DocsLayout {
        &self.layout
    }
}

/// Compresses the documents on a thread of their own (brotli's best level takes tens of
/// milliseconds per document; start-up does not wait for it). Should the thread not start,
/// the documents go uncompressed.
fn compress_in_background(mut documents: Vec<Arc<Representation>>) {
    documents.retain(|document| document.needs_compression());
    if documents.is_empty() {
        return;
    }
    let started = std::thread::Builder::new()
        .name("compress-docs".to_owned())
        .spawn(move || documents.iter().for_each(|d| d.compress()));
    if let Err(cause) = started {
        log::warn!("cannot start the thread compressing the OpenAPI documents: {cause}");
    }
}

/// Registers the documents and the docs pages where the layout puts them.
pub fn configure(docs: web::Data<Docs>) -> impl FnOnce(&mut web::ServiceConfig) {
    move |config| {
        for (index, (_, path)) in docs.layout.specs.iter().enumerate() {
            config.route(
                path,
                web::get().to(
                    move |_: NoBody, request: HttpRequest, docs: web::Data<Docs>| async move {
                        docs.specs[index].respond(&request, Caching::Revalidate)
                    },
                ),
            );
        }
        if let Some(path) = docs.layout.docs.clone() {
            let page = format!("{}/", last_segment(&path));
            config
                .route(
                    &path,
                    web::get().to(move |_: NoBody| redirect(page.clone())),
                )
                .route(&files_pattern(&path), web::get().to(swagger_ui_file));
        }
        if let Some(path) = docs.layout.redoc.clone() {
            let page = format!("../{}", last_segment(&path));
            config.route(&path, web::get().to(redoc_page)).route(
                &files_pattern(&path),
                web::get().to(
                    move |_: NoBody,
                          file: web::Path<String>,
                          request: HttpRequest,
                          docs: web::Data<Docs>| {
                        let page = page.clone();
                        async move {
                            match file.as_str() {
                                "" => redirect(page).await,
                                name => serve_file(docs.redoc.as_ref(), name, &request),
                            }
                        }
                    },
                ),
            );
        }
        config.app_data(docs);
    }
}

fn last_segment(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or_default()
}

/// `/docs` → `docs/`, `/redoc/` → `../redoc`: relative, so it resolves under whatever prefix
/// the client sees.
async fn redirect(location: String) -> HttpResponse {
    HttpResponse::TemporaryRedirect()
        .insert_header((header::LOCATION, location))
        .finish()
}

async fn swagger_ui_file(
    _: NoBody,
    file: web::Path<String>,
    request: HttpRequest,
    docs: web::Data<Docs>,
) -> HttpResponse {
    match (file.as_str(), &docs.swagger_ui) {
        ("" | "index.html", Some((page, _))) => page.respond(&request),
        (name, found) => serve_file(found.as_ref(), name, &request),
    }
}

async fn redoc_page(_: NoBody, request: HttpRequest, docs: web::Data<Docs>) -> HttpResponse {
    match &docs.redoc {
        Some((page, _)) => page.respond(&request),
        None => ApiError::NotFound.error_response(),
    }
}

fn serve_file(page: Option<&(Page, Files)>, name: &str, request: &HttpRequest) -> HttpResponse {
    match page.and_then(|(_, files)| files.get(name)) {
        Some((file, caching)) => file.respond(request, *caching),
        None => ApiError::NotFound.error_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mount(path: &str) -> Mount {
        path.parse().unwrap()
    }

    #[test]
    fn the_pages_find_each_document_by_a_relative_url() {
        assert_eq!(relative(1, "/openapi.json"), "../openapi.json");
        assert_eq!(relative(2, "/openapi-3.0.json"), "../../openapi-3.0.json");
        assert_eq!(relative(0, "/v1/spec.json"), "v1/spec.json");
    }

    #[test]
    fn a_versioned_name_holds_the_hash_before_the_extension() {
        assert_eq!(
            versioned("swagger-ui-bundle.js", "ab12"),
            "swagger-ui-bundle.ab12.js"
        );
        assert_eq!(
            versioned("redoc.standalone.js", "ab12"),
            "redoc.standalone.ab12.js"
        );
        assert_eq!(versioned("LICENSE", "ab12"), "LICENSE.ab12");
    }

    #[test]
    fn the_layout_follows_the_settings() {
        let default = DocsLayout::new(&mount("/docs"), &mount("/redoc"), &mount("/openapi.json"));
        assert_eq!(
            default.patterns(),
            [
                "/openapi.json",
                "/openapi-3.0.json",
                "/docs",
                "/docs/{file:.*}",
                "/redoc",
                "/redoc/{file:.*}"
            ]
        );
        let no_pages = DocsLayout::new(&Mount::Off, &Mount::Off, &mount("/spec.json"));
        assert_eq!(no_pages.patterns(), ["/spec.json", "/spec-3.0.json"]);
        let nothing = DocsLayout::new(&mount("/docs"), &mount("/redoc"), &Mount::Off);
        assert!(nothing.patterns().is_empty(), "no page without a document");
    }
}
