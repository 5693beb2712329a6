//! How the docs pages' files and the documents travel: the encoding `Accept-Encoding` prefers
//! (brotli, gzip, as is), a strong `ETag` per encoding, `304` on `If-None-Match`, versioned URLs
//! kept a year, pages and documents revalidated.

use std::io::Read as _;
use std::time::{Duration, Instant};

use crate::helpers::{Reply, TestApp, spawn_app};

const IMMUTABLE: &str = "public, max-age=31536000, immutable";

/// The versioned URL the Swagger UI page links for `name` (`swagger-ui-bundle.js` →
/// `swagger-ui-bundle.<hash>.js`).
async fn versioned_url(app: &TestApp, name: &str) -> String {
    let html = app.get("/docs/").await.text();
    let (stem, ext) = name.rsplit_once('.').unwrap();
    let start = html
        .find(&format!("./{stem}."))
        .unwrap_or_else(|| panic!("the page links no {name}: {html}"));
    let rest = &html[start + 2..];
    let url = &rest[..rest.find('"').unwrap()];
    assert!(url.ends_with(&format!(".{ext}")), "{url}");
    format!("/docs/{url}")
}

fn decoded(reply: &Reply) -> Vec<u8> {
    let mut out = Vec::new();
    match reply.header("content-encoding") {
        Some("br") => brotli::BrotliDecompress(&mut &reply.body[..], &mut out).unwrap(),
        Some("gzip") => {
            flate2::read::GzDecoder::new(&reply.body[..])
                .read_to_end(&mut out)
                .unwrap();
        }
        None => out.clone_from(&reply.body),
        Some(other) => panic!("unexpected encoding {other}"),
    }
    out
}

#[actix_web::test]
async fn each_file_goes_in_the_encoding_the_client_prefers_with_its_own_etag() {
    let app = spawn_app();
    let url = versioned_url(&app, "swagger-ui-bundle.js").await;

    let plain = app.get(&url).await;
    let cases = [
        ("gzip, deflate, br", Some("br")),
        ("gzip", Some("gzip")),
        ("br;q=0.5, gzip;q=0.9", Some("gzip")),
        ("br;q=0, gzip;q=0", None),
        ("identity", None),
        ("zstd", None),
        // actix-web's negotiation reads `*` as "as is is fine" and picks that.
        ("*", None),
    ];
    let mut tags = vec![plain.header("etag").unwrap().to_owned()];
    for (accept, expected) in cases {
        let reply = app.get_with(&url, &[("accept-encoding", accept)]).await;
        assert_eq!(reply.status, 200, "{accept}");
        assert_eq!(reply.header("content-encoding"), expected, "{accept}");
        assert_eq!(reply.header("vary"), Some("Accept-Encoding"), "{accept}");
        assert_eq!(
            reply.header("content-type"),
            Some("text/javascript; charset=utf-8")
        );
        assert_eq!(decoded(&reply), plain.body, "{accept}: the same file");
        tags.push(reply.header("etag").unwrap().to_owned());
    }
    assert_eq!(plain.header("content-encoding"), None);
    assert_eq!(plain.body.len(), 1_526_593, "Swagger UI 5.32.6's bundle");
    tags.sort();
    tags.dedup();
    assert_eq!(tags.len(), 3, "one strong ETag per encoding: {tags:?}");
    assert!(tags.iter().all(|t| t.starts_with('"')), "{tags:?}");
}

#[actix_web::test]
async fn a_versioned_url_is_kept_a_year_and_a_plain_one_revalidated() {
    let app = spawn_app();

    for name in [
        "swagger-ui-bundle.js",
        "swagger-ui-standalone-preset.js",
        "swagger-ui.css",
        "index.css",
        "swagger-initializer.js",
        "favicon.svg",
    ] {
        let versioned = app.get(&versioned_url(&app, name).await).await;
        assert_eq!(versioned.status, 200, "{name}");
        assert_eq!(versioned.header("cache-control"), Some(IMMUTABLE), "{name}");
        let plain = app.get(&format!("/docs/{name}")).await;
        assert_eq!(plain.header("cache-control"), Some("no-cache"), "{name}");
        assert_eq!(plain.body, versioned.body, "{name}");
        assert!(plain.header("etag").is_some(), "{name}");
    }
}

#[actix_web::test]
async fn a_matching_if_none_match_is_304_and_another_is_the_file() {
    let app = spawn_app();
    let url = versioned_url(&app, "swagger-ui.css").await;
    let first = app.get_with(&url, &[("accept-encoding", "br")]).await;
    let tag = first.header("etag").unwrap().to_owned();

    for (accept, if_none_match) in [
        ("br", tag.clone()),
        ("br", format!("W/{tag}")),
        ("br", format!("\"other\", {tag}")),
        ("br", "*".to_owned()),
    ] {
        let reply = app
            .get_with(
                &url,
                &[
                    ("accept-encoding", accept),
                    ("if-none-match", &if_none_match),
                ],
            )
            .await;
        assert_eq!(reply.status, 304, "{if_none_match}");
        assert!(reply.body.is_empty());
        assert_eq!(reply.header("etag"), Some(tag.as_str()));
        assert_eq!(reply.header("cache-control"), Some(IMMUTABLE));
        assert_eq!(reply.header("vary"), Some("Accept-Encoding"));
    }
    // The brotli variant's tag does not match the gzip variant, nor a changed file.
    for (accept, if_none_match) in [("gzip", tag.as_str()), ("br", "\"0123456789abcdef-br\"")] {
        let reply = app
            .get_with(
                &url,
                &[
                    ("accept-encoding", accept),
                    ("if-none-match", if_none_match),
                ],
            )
            .await;
        assert_eq!(reply.status, 200, "{accept} {if_none_match}");
        assert!(!reply.body.is_empty());
    }
}

#[actix_web::test]
async fn the_pages_are_revalidated_and_answer_304_when_unchanged() {
    let app = spawn_app();

    for page in ["/docs/", "/redoc"] {
        let first = app.get(page).await;
        assert_eq!(first.header("cache-control"), Some("no-cache"), "{page}");
        let tag = first.header("etag").unwrap().to_owned();
        let again = app.get_with(page, &[("if-none-match", &tag)]).await;
        assert_eq!(again.status, 304, "{page}");
        assert!(again.header("content-security-policy").is_some(), "{page}");
    }
}

/// The committed documents are compressed at build time; another (here: with a root path in
/// its `servers`) is compressed once, on a thread of its own after start-up: until then it goes
/// as is; afterwards in the encoding the client prefers.
#[actix_web::test]
async fn the_documents_go_compressed_once_ready_and_are_revalidated() {
    let committed = spawn_app();
    let moved = crate::helpers::spawn_app_with(greeter::config::ServeSettings {
        root_path: Some("/api/v1".parse().unwrap()),
        ..crate::helpers::test_settings()
    });
    let first = committed
        .get_with("/openapi.json", &[("accept-encoding", "br")])
        .await;
    assert_eq!(first.header("content-encoding"), Some("br"), "at once");

    for (app, path) in [
        (&committed, "/openapi.json"),
        (&committed, "/openapi-3.0.json"),
        (&moved, "/openapi.json"),
        (&moved, "/openapi-3.0.json"),
    ] {
        let plain = app.get(path).await;
        assert_eq!(plain.header("cache-control"), Some("no-cache"), "{path}");
        assert_eq!(plain.header("vary"), Some("Accept-Encoding"), "{path}");
        let deadline = Instant::now() + Duration::from_secs(10);
        let compressed = loop {
            let reply = app.get_with(path, &[("accept-encoding", "br")]).await;
            if reply.header("content-encoding") == Some("br") || Instant::now() > deadline {
                break reply;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        assert_eq!(compressed.header("content-encoding"), Some("br"), "{path}");
        assert_eq!(decoded(&compressed), plain.body, "{path}");
        assert!(
            compressed.body.len() * 8 < plain.body.len(),
            "{path}: {} of {} bytes",
            compressed.body.len(),
            plain.body.len()
        );
        let gzip = app.get_with(path, &[("accept-encoding", "gzip")]).await;
        assert_eq!(decoded(&gzip), plain.body, "{path}");
        let tag = compressed.header("etag").unwrap();
        let again = app
            .get_with(path, &[("accept-encoding", "br"), ("if-none-match", tag)])
            .await;
        assert_eq!(again.status, 304, "{path}");
    }
}

#[actix_web::test]
async fn head_of_a_file_answers_its_headers_without_the_body() {
    let app = spawn_app();
    let url = versioned_url(&app, "swagger-ui-bundle.js").await;

    let reply = app
        .client
        .head(app.url(&url))
        .insert_header(("accept-encoding", "br"))
        .send()
        .await
        .unwrap();
    let reply = Reply::from(reply).await;

    assert_eq!(reply.status, 200);
    assert!(reply.body.is_empty());
    assert_eq!(reply.header("content-encoding"), Some("br"));
    assert!(reply.header("etag").unwrap().ends_with("-br\""));
}

#[actix_web::test]
async fn an_unknown_file_under_a_page_is_a_json_404() {
    let app = spawn_app();

    for path in [
        "/docs/nope.js",
        "/docs/swagger-ui-bundle.0000000000000000.js",
        "/redoc/swagger-ui-bundle.js",
        "/redoc/nope",
    ] {
        let reply = app.get(path).await;
        assert_eq!(reply.status, 404, "{path}");
        assert_eq!(reply.json(), serde_json::json!({"detail": "Not Found"}));
    }
}
