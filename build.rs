//! Prepares the docs pages' files at build time, so that serving them costs no compression:
//! Swagger UI's from the Swagger UI release that utoipa-swagger-ui-vendored packages, ReDoc's
//! standalone bundle from `src/api/assets/redoc/` (vendored from npm `redoc`), and greeter's
//! icon. Each file is written to `OUT_DIR` as is, gzip'd (level 9) and brotli'd (quality 11),
//! with a content hash for its `ETag` and its versioned URL; `docs_assets.rs` lists them for
//! `src/api/docs/assets.rs` to include. Nothing is downloaded.

use std::env;
use std::fmt::Write as _;
use std::fs;
use std::io::{Cursor, Read, Write};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

/// The Swagger UI files the page loads, from the release's `dist/` folder (the page and its
/// initializer are greeter's own, made at start-up from the settings).
const SWAGGER_UI_FILES: [&str; 4] = [
    "swagger-ui.css",
    "index.css",
    "swagger-ui-bundle.js",
    "swagger-ui-standalone-preset.js",
];

/// The largest file whose bytes as is go into the binary beside its compressed variants.
const MAX_EMBEDDED_AS_IS: usize = 32 * 1024;

/// greeter's own files: (name, path in the repository). The committed OpenAPI documents too:
/// a server whose document is the committed one (no `--root-path`) serves these variants and
/// compresses nothing at start-up.
const OWN_FILES: [(&str, &str); 4] = [
    (
        "redoc.standalone.js",
        "src/api/assets/redoc/redoc.standalone.js",
    ),
    ("favicon.svg", "src/api/assets/favicon.svg"),
    ("openapi.json", "openapi/openapi.json"),
    ("openapi-3.0.json", "openapi/openapi-3.0.json"),
];

fn main() {
    let out = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    let mut files: Vec<(String, Vec<u8>)> = swagger_ui_files();
    for (name, path) in OWN_FILES {
        println!("cargo::rerun-if-changed={path}");
        let bytes = fs::read(path).unwrap_or_else(|e| panic!("cannot read {path}: {e}"));
        let bytes = if name == "redoc.standalone.js" {
            without_remote_logo(bytes)
        } else {
            bytes
        };
        files.push((name.to_owned(), bytes));
    }
    let mut table = String::from("&[\n");
    for (name, bytes) in &files {
        let hash = hex(&Sha256::digest(bytes)[..8]);
        let stored = |suffix: &str, content: &[u8]| -> String {
            let path = out.join(format!("docs-{name}{suffix}"));
            write_if_changed(&path, content);
            format!("include_bytes!({:?})", path.display().to_string())
        };
        writeln!(
            table,
            "    BuiltFile {{ name: {name:?}, content_type: {content_type:?}, hash: {hash:?}, \
             identity: {identity}, gzip: {gzip}, brotli: {brotli} }},",
            content_type = content_type(name),
            identity = if bytes.len() > MAX_EMBEDDED_AS_IS {
                // Compressed only: the server inflates it the first time a client asks for it
                // as is. 3 MB less to ship, in every container image.
                "None".to_owned()
            } else {
                format!("Some({})", stored("", bytes))
            },
            gzip = stored(".gz", &gzip(bytes)),
            brotli = stored(".br", &brotli(bytes)),
        )
        .expect("writing to a String");
    }
    table.push_str("]\n");
    write_if_changed(&out.join("docs_assets.rs"), table.as_bytes());
    println!("cargo::rerun-if-changed=build.rs");
}

/// Swagger UI's files, read from the zip archive compiled into utoipa-swagger-ui-vendored.
fn swagger_ui_files() -> Vec<(String, Vec<u8>)> {
    let zip = Cursor::new(utoipa_swagger_ui_vendored::SWAGGER_UI_VENDORED);
    let mut archive = zip::ZipArchive::new(zip).expect("the vendored Swagger UI is a zip archive");
    let mut found: Vec<(String, Vec<u8>)> = Vec::new();
    for index in 0..archive.len() {
        let mut file = archive.by_index(index).expect("a readable zip entry");
        let name = file.name().expect("a zip entry name").into_owned();
        // Entries are `swagger-ui-<version>/dist/<file>`.
        let mut parts = name.split('/').skip(1);
        let (Some("dist"), Some(wanted), None) = (parts.next(), parts.next(), parts.next()) else {
            continue;
        };
        if SWAGGER_UI_FILES.contains(&wanted) {
            let mut bytes = Vec::new();
            file.read_to_end(&mut bytes)
                .unwrap_or_else(|e| panic!("cannot read {name}: {e}"));
            found.push((wanted.to_owned(), bytes));
        }
    }
    for wanted in SWAGGER_UI_FILES {
        assert!(
            found.iter().any(|(name, _)| name == wanted),
            "no dist/{wanted} in the vendored Swagger UI"
        );
    }
    found
}

/// ReDoc's sidebar always shows Redocly's logo from its CDN (an `<img>` that hides itself when
/// it fails to load): under the page's CSP that is a blocked request and a console error, and
/// offline a request that cannot succeed. The one URL becomes an empty inline SVG; the
/// "API docs by Redocly" link stays. A ReDoc release without exactly one such URL fails the
/// build, so an upgrade is looked at.
fn without_remote_logo(bundle: Vec<u8>) -> Vec<u8> {
    const LOGO: &str = "https://cdn.redoc.ly/redoc/logo-mini.svg";
    const EMPTY_SVG: &str = "data:image/svg+xml,%3Csvg%20xmlns=%27http://www.w3.org/2000/svg%27%20width=%270%27%20height=%270%27/%3E";
    let text = String::from_utf8(bundle).expect("ReDoc's bundle is UTF-8");
    assert_eq!(
        text.matches(LOGO).count(),
        1,
        "ReDoc's bundle should name its logo's CDN URL exactly once"
    );
    text.replace(LOGO, EMPTY_SVG).into_bytes()
}

fn content_type(name: &str) -> &'static str {
    match Path::new(name).extension().and_then(|e| e.to_str()) {
        Some("js") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("svg") => "image/svg+xml",
        Some("json") => "application/json",
        other => panic!("no content type known for {name} ({other:?})"),
    }
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    encoder.write_all(bytes).expect("gzip into memory");
    encoder.finish().expect("gzip into memory")
}

fn brotli(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let params = brotli::enc::BrotliEncoderParams {
        quality: 11,
        lgwin: 22,
        ..Default::default()
    };
    brotli::BrotliCompress(&mut &bytes[..], &mut out, &params).expect("brotli into memory");
    out
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().fold(String::new(), |mut s, b| {
        write!(s, "{b:02x}").expect("writing to a String");
        s
    })
}

/// Writes `content` unless the file already holds it, so that an unchanged file does not
/// recompile the crate.
fn write_if_changed(path: &Path, content: &[u8]) {
    if fs::read(path).is_ok_and(|old| old == content) {
        return;
    }
    fs::write(path, content).unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
}
