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
    assert!(html.contains("swagger-ui-bundle.js"), "{html}");
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
