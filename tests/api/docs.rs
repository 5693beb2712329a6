use crate::helpers::spawn_app;

/// The `src` and `href` attribute values of an HTML page.
fn linked_urls(html: &str) -> Vec<String> {
    let mut urls = Vec::new();
    for attribute in ["src=\"", "href=\""] {
        for (start, _) in html.match_indices(attribute) {
            let rest = &html[start + attribute.len()..];
            urls.push(rest[..rest.find('"').unwrap()].to_owned());
        }
    }
    urls
}

#[actix_web::test]
async fn docs_redirects_to_the_page_with_a_relative_location() {
    let app = spawn_app();

    let reply = app.get("/docs").await;

    assert_eq!(reply.status, 307);
    assert_eq!(reply.header("location"), Some("docs/"));
}

#[actix_web::test]
async fn the_docs_page_is_swagger_ui_titled_with_the_api_name() {
    let app = spawn_app();

    let reply = app.get("/docs/").await;

    assert_eq!(reply.status, 200);
    assert_eq!(
        reply.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    let html = reply.text();
    assert!(
        html.contains("<title>greeter - Swagger UI</title>"),
        "{html}"
    );
    assert!(html.contains("./swagger-ui-bundle."), "{html}");
}

#[actix_web::test]
async fn every_file_the_page_links_is_served_from_the_binary() {
    let app = spawn_app();
    let html = app.get("/docs/").await.text();

    let urls = linked_urls(&html);
    assert!(
        urls.len() >= 4,
        "expected CSS, scripts and icons, found {urls:?}"
    );
    for url in urls {
        assert!(!url.contains("//"), "the page links another host: {url}");
        let reply = app
            .get(&format!("/docs/{}", url.trim_start_matches("./")))
            .await;
        assert_eq!(reply.status, 200, "{url}");
        assert!(!reply.body.is_empty(), "{url}");
    }
}

#[actix_web::test]
async fn swagger_ui_loads_the_spec_by_a_relative_url_and_calls_no_validator() {
    let app = spawn_app();

    let reply = app.get("/docs/swagger-initializer.js").await;

    assert_eq!(reply.status, 200);
    let script = reply.text();
    // Relative to the page at /docs/, "../openapi.json" is /openapi.json, and stays under any
    // path prefix a proxy adds.
    assert!(script.contains(r#""url": "../openapi.json""#), "{script}");
    assert!(
        script.contains(r#""url": "../openapi-3.0.json""#),
        "{script}"
    );
    assert!(script.contains(r#""validatorUrl": "none""#), "{script}");
    assert!(
        !script.contains("http://") && !script.contains("https://"),
        "{script}"
    );
}

fn with_paths(docs: &str, openapi: &str) -> greeter::config::ServeSettings {
    with_pages(docs, "/redoc", openapi)
}

fn with_pages(docs: &str, redoc: &str, openapi: &str) -> greeter::config::ServeSettings {
    greeter::config::ServeSettings {
        docs_path: docs.parse().unwrap(),
        redoc_path: redoc.parse().unwrap(),
        openapi_path: openapi.parse().unwrap(),
        ..crate::helpers::test_settings()
    }
}

async fn assert_not_found(app: &crate::helpers::TestApp, path: &str) {
    let reply = app.get(path).await;
    assert_eq!(reply.status, 404, "{path}");
    assert_eq!(
        reply.json(),
        serde_json::json!({"detail": "Not Found"}),
        "{path}"
    );
}

#[actix_web::test]
async fn the_docs_can_move() {
    let app = crate::helpers::spawn_app_with(with_paths("/api/reference", "/openapi.json"));

    let reply = app.get("/api/reference").await;
    assert_eq!(reply.status, 307);
    assert_eq!(reply.header("location"), Some("reference/"));
    assert_eq!(app.get("/api/reference/").await.status, 200);
    let script = app
        .get("/api/reference/swagger-initializer.js")
        .await
        .text();
    assert!(
        script.contains(r#""url": "../../openapi.json""#),
        "{script}"
    );
    assert_not_found(&app, "/docs").await;
    assert_not_found(&app, "/docs/").await;
}

#[actix_web::test]
async fn docs_off_removes_the_ui_but_keeps_the_spec() {
    let app = crate::helpers::spawn_app_with(with_paths("off", "/openapi.json"));

    assert_not_found(&app, "/docs").await;
    assert_not_found(&app, "/docs/").await;
    assert_not_found(&app, "/docs/swagger-ui.css").await;
    assert_eq!(app.get("/openapi.json").await.status, 200);
    assert_eq!(app.get("/openapi-3.0.json").await.status, 200);
}

#[actix_web::test]
async fn the_spec_can_move_and_its_3_0_edition_follows() {
    let app = crate::helpers::spawn_app_with(with_paths("/docs", "/v1/spec.json"));

    assert_eq!(app.get("/v1/spec.json").await.json()["openapi"], "3.1.0");
    assert_eq!(
        app.get("/v1/spec-3.0.json").await.json()["openapi"],
        "3.0.3"
    );
    assert_not_found(&app, "/openapi.json").await;
    let script = app.get("/docs/swagger-initializer.js").await.text();
    assert!(script.contains(r#""url": "../v1/spec.json""#), "{script}");
    assert!(
        script.contains(r#""url": "../v1/spec-3.0.json""#),
        "{script}"
    );
}

#[actix_web::test]
async fn openapi_off_removes_both_documents_and_the_ui() {
    let app = crate::helpers::spawn_app_with(with_paths("/docs", "off"));

    for path in [
        "/openapi.json",
        "/openapi-3.0.json",
        "/docs",
        "/docs/",
        "/redoc",
    ] {
        assert_not_found(&app, path).await;
    }
    assert_eq!(app.get("/healthz").await.status, 200);
}

#[actix_web::test]
async fn a_root_path_is_named_in_both_editions_servers() {
    let app = crate::helpers::spawn_app_with(greeter::config::ServeSettings {
        root_path: Some("/api/v1".parse().unwrap()),
        ..crate::helpers::test_settings()
    });

    for path in ["/openapi.json", "/openapi-3.0.json"] {
        let spec = app.get(path).await.json();
        assert_eq!(
            spec["servers"],
            serde_json::json!([{"url": "/api/v1"}]),
            "{path}"
        );
    }
    // The routes themselves stay at the root: the proxy strips the prefix.
    assert_eq!(app.get("/healthz").await.status, 200);
}

#[actix_web::test]
async fn the_page_has_greeters_own_icon() {
    let app = spawn_app();

    let html = app.get("/docs/").await.text();
    let icon = regex::Regex::new(
        r#"<link rel="icon" type="image/svg\+xml" href="\./favicon\.[0-9a-f]{16}\.svg" />"#,
    )
    .unwrap();
    assert!(icon.is_match(&html), "{html}");
    assert!(!html.contains("favicon-32x32.png"), "{html}");
    let icon = app.get("/docs/favicon.svg").await;
    assert_eq!(icon.status, 200);
    assert_eq!(icon.header("content-type"), Some("image/svg+xml"));
    assert!(icon.text().starts_with("<svg"));
}

#[actix_web::test]
async fn redoc_is_served_offline_under_its_csp_and_links_only_its_own_files() {
    let app = spawn_app();

    let reply = app.get("/redoc").await;

    assert_eq!(reply.status, 200);
    assert_eq!(
        reply.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    let csp = reply.header("content-security-policy").unwrap();
    assert!(csp.contains("script-src 'self';"), "{csp}");
    assert!(csp.contains("worker-src 'self' blob:"), "{csp}");
    let html = reply.text();
    assert!(html.contains("<title>greeter - ReDoc</title>"), "{html}");
    assert!(
        html.contains(r#"<redoc spec-url="openapi.json">"#),
        "{html}"
    );
    let urls = linked_urls(&html);
    assert_eq!(urls.len(), 2, "{urls:?}");
    for url in urls {
        assert!(url.starts_with("redoc/"), "{url}");
        let file = app.get(&format!("/{url}")).await;
        assert_eq!(file.status, 200, "{url}");
        if url.ends_with(".js") {
            let script = file.text();
            assert!(script.contains("Redoc"), "{url}");
            // The one remote URL of ReDoc's bundle (Redocly's logo) is replaced at build time.
            assert!(!script.contains("cdn.redoc.ly"), "{url}");
        }
    }
    let slash = app.get("/redoc/").await;
    assert_eq!(slash.status, 307);
    assert_eq!(slash.header("location"), Some("../redoc"));
}

#[actix_web::test]
async fn redoc_can_move_and_finds_the_spec_by_a_relative_url() {
    let app =
        crate::helpers::spawn_app_with(with_pages("/docs", "/api/reference", "/v1/spec.json"));

    let html = app.get("/api/reference").await.text();

    assert!(html.contains(r#"spec-url="../v1/spec.json""#), "{html}");
    for url in linked_urls(&html) {
        assert!(url.starts_with("reference/"), "{url}");
        assert_eq!(app.get(&format!("/api/{url}")).await.status, 200, "{url}");
    }
    assert_not_found(&app, "/redoc").await;
}

#[actix_web::test]
async fn redoc_off_removes_it_and_keeps_the_rest() {
    let app = crate::helpers::spawn_app_with(with_pages("/docs", "off", "/openapi.json"));

    assert_not_found(&app, "/redoc").await;
    assert_not_found(&app, "/redoc/").await;
    assert_eq!(app.get("/docs/").await.status, 200);
    assert_eq!(app.get("/openapi.json").await.status, 200);
}

#[test]
fn a_redoc_path_that_is_an_api_route_or_the_docs_is_refused_at_start() {
    for (docs, redoc) in [
        ("/docs", "/healthz"),
        ("/docs", "/hello"),
        ("/docs", "/docs"),
    ] {
        let error =
            greeter::startup::AppState::new(&with_pages(docs, redoc, "/openapi.json")).err();
        let message = error.map(|e| e.to_string()).unwrap_or_default();
        assert!(
            message.contains("--redoc-path"),
            "{docs} {redoc}: {message:?}"
        );
    }
}

#[test]
fn a_docs_path_that_is_an_api_route_is_refused_at_start() {
    for (docs, openapi) in [
        ("/healthz", "/openapi.json"),
        ("/docs", "/hello/spec.json"),
        // `/hello/{name}` takes `/hello/` (an empty name) and `/hello/index.html`.
        ("/hello", "/openapi.json"),
    ] {
        let error = greeter::startup::AppState::new(&with_paths(docs, openapi)).err();
        let message = error.map(|e| e.to_string()).unwrap_or_default();
        assert!(
            message.contains("is taken by an API route"),
            "{docs} {openapi}: {message:?}"
        );
    }
    for (docs, openapi) in [("/hi", "/openapi.json"), ("/hello-docs", "/hello.json")] {
        assert!(
            greeter::startup::AppState::new(&with_paths(docs, openapi)).is_ok(),
            "{docs} {openapi} collide with nothing"
        );
    }
}
