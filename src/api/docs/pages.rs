//! The two docs pages greeter writes at start-up from the settings: Swagger UI's (its HTML and
//! its initializer script) and ReDoc's. Neither holds an inline script, so both are served
//! under a CSP with `script-src 'self'`; every URL in them is relative, so a path prefix added
//! by a proxy survives.

use serde_json::json;

/// What the Swagger UI page may load: only its own files (styles inline, images also as `data:`
/// URIs, as Swagger UI draws them), and nothing may frame it.
pub const SWAGGER_UI_CSP: &str = "default-src 'self'; script-src 'self'; \
    style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; \
    frame-ancestors 'none'; base-uri 'self'; form-action 'self'";

/// What the ReDoc page may load: the same, plus the search worker ReDoc starts from a `blob:`
/// URL it makes itself.
pub const REDOC_CSP: &str = "default-src 'self'; script-src 'self'; \
    style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; \
    worker-src 'self' blob:; frame-ancestors 'none'; base-uri 'self'; form-action 'self'";

/// The Swagger UI files the page loads, as `build.rs` prepares them (the page and its
/// initializer are made here).
pub const SWAGGER_UI_FILES: [&str; 4] = [
    "swagger-ui.css",
    "index.css",
    "swagger-ui-bundle.js",
    "swagger-ui-standalone-preset.js",
];

/// A file the pages link, by its versioned URL relative to the page.
pub trait Linked {
    /// The URL of the built file `name`.
    fn url(&self, name: &str) -> String;
}

/// Swagger UI's page, titled `title`.
pub fn swagger_ui_html(title: &str, files: &impl Linked) -> String {
    format!(
        r#"<!DOCTYPE html>
<html lang="en">
  <head>
    <meta charset="UTF-8">
    <title>{title}</title>
    <link rel="stylesheet" type="text/css" href="{css}" />
    <link rel="stylesheet" type="text/css" href="{index_css}" />
    <link rel="icon" type="image/svg+xml" href="{icon}" />
  </head>
  <body>
    <div id="swagger-ui"></div>
    <script src="{bundle}" charset="UTF-8"></script>
    <script src="{preset}" charset="UTF-8"></script>
    <script src="{initializer}" charset="UTF-8"></script>
  </body>
</html>
"#,
        title = escape_html(title),
        css = files.url("swagger-ui.css"),
        index_css = files.url("index.css"),
        icon = files.url("favicon.svg"),
        bundle = files.url("swagger-ui-bundle.js"),
        preset = files.url("swagger-ui-standalone-preset.js"),
        initializer = files.url("swagger-initializer.js"),
    )
}

/// Swagger UI's initializer: one entry per document `(label, relative URL)`, the first shown.
pub fn swagger_initializer_js(specs: &[(&str, String)]) -> String {
    let urls: Vec<_> = specs
        .iter()
        .map(|(name, url)| json!({ "name": name, "url": url }))
        .collect();
    let config = json!({
        "dom_id": "#swagger-ui",
        "urls": urls,
        "urls.primaryName": specs.first().map(|(name, _)| *name),
        "deepLinking": true,
        "displayOperationId": true,
        "displayRequestDuration": true,
        "filter": true,
        // Keeps what "Authorize" was given across reloads (in the browser's local storage).
        "persistAuthorization": true,
        // Swagger UI's default badge loads an image from validator.swagger.io.
        "validatorUrl": "none",
        "layout": "StandaloneLayout",
    });
    format!(
        "// greeter's Swagger UI set-up, written at start-up from its settings.\n\
         window.onload = function () {{\n  \
           var config = {config};\n  \
           config.presets = [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset];\n  \
           config.plugins = [SwaggerUIBundle.plugins.DownloadUrl];\n  \
           window.ui = SwaggerUIBundle(config);\n\
         }};\n",
        config = serde_json::to_string_pretty(&config).expect("JSON values serialise"),
    )
}

/// ReDoc's page for the document at `spec_url`, titled `title`: the standalone bundle renders
/// the `<redoc>` element by itself, so the page needs no script of its own.
pub fn redoc_html(title: &str, spec_url: &str, files: &impl Linked) -> String {
    format!(
        r#"<!DOCTYPE html>
<html lang="en">
  <head>
    <meta charset="UTF-8">
    <meta name="viewport" content="width=device-width, initial-scale=1">
    <title>{title}</title>
    <link rel="icon" type="image/svg+xml" href="{icon}" />
    <style>body {{ margin: 0; padding: 0; }}</style>
  </head>
  <body>
    <redoc spec-url="{spec_url}"></redoc>
    <script src="{bundle}" charset="UTF-8"></script>
  </body>
</html>
"#,
        title = escape_html(title),
        spec_url = escape_html(spec_url),
        icon = files.url("favicon.svg"),
        bundle = files.url("redoc.standalone.js"),
    )
}

/// `text` safe inside an HTML element or a double-quoted attribute.
fn escape_html(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Plain;
    impl Linked for Plain {
        fn url(&self, name: &str) -> String {
            format!("./{name}")
        }
    }

    #[test]
    fn titles_and_urls_are_escaped() {
        let html = redoc_html("a<b> & \"c\"", "x\".json", &Plain);
        assert!(html.contains("<title>a&lt;b&gt; &amp; &quot;c&quot;</title>"));
        assert!(html.contains(r#"spec-url="x&quot;.json""#));
    }

    #[test]
    fn no_page_holds_an_inline_script() {
        for html in [swagger_ui_html("t", &Plain), redoc_html("t", "s", &Plain)] {
            for script in html.split("<script").skip(1) {
                let (open, rest) = script.split_once('>').unwrap();
                assert!(open.contains("src="), "{html}");
                assert!(rest.starts_with("</script>"), "{html}");
            }
        }
    }

    #[test]
    fn the_initializer_lists_each_document_and_shows_the_first() {
        let js = swagger_initializer_js(&[
            ("OpenAPI 3.1", "../openapi.json".to_owned()),
            ("OpenAPI 3.0", "../openapi-3.0.json".to_owned()),
        ]);
        assert!(js.contains(r#""urls.primaryName": "OpenAPI 3.1""#), "{js}");
        assert!(js.contains(r#""url": "../openapi-3.0.json""#), "{js}");
        assert!(js.contains(r#""persistAuthorization": true"#), "{js}");
    }
}
