//! The docs pages' files, compressed at build time by `build.rs`: Swagger UI's (Apache-2.0, from
//! the release utoipa-swagger-ui-vendored packages), ReDoc's standalone bundle (MIT, vendored
//! with its licences in `src/api/assets/redoc/`), greeter's icon, and the committed OpenAPI
//! documents.

use actix_web::web::Bytes;

use super::representation::{Compressed, Representation};

/// One file as `build.rs` prepared it.
struct BuiltFile {
    name: &'static str,
    content_type: &'static str,
    hash: &'static str,
    /// `None` for a large file: only its compressed variants are in the binary.
    identity: Option<&'static [u8]>,
    gzip: &'static [u8],
    brotli: &'static [u8],
}

/// Every file, as `build.rs` listed them.
const BUILT: &[BuiltFile] = include!(concat!(env!("OUT_DIR"), "/docs_assets.rs"));

/// The built file called `name` (such as `swagger-ui-bundle.js`), ready to serve.
///
/// # Panics
/// When `build.rs` made no such file: a mistake in greeter's own code.
pub fn built(name: &str) -> Representation {
    let file = BUILT
        .iter()
        .find(|file| file.name == name)
        .unwrap_or_else(|| panic!("build.rs prepares no docs file called {name}"));
    representation(file)
}

/// The committed OpenAPI document `name` (`openapi.json`, `openapi-3.0.json`) compressed at
/// build time, when `rendered` is that document (the same SHA-256).
pub fn committed_document(name: &str, rendered: &[u8]) -> Option<Representation> {
    let hash = super::representation::content_hash(rendered);
    BUILT
        .iter()
        .find(|file| file.name == name && file.hash == hash)
        .map(representation)
}

fn representation(file: &BuiltFile) -> Representation {
    Representation::built(
        file.content_type,
        file.hash,
        file.identity.map(Bytes::from_static),
        Compressed {
            gzip: Bytes::from_static(file.gzip),
            brotli: Bytes::from_static(file.brotli),
        },
    )
}

#[cfg(test)]
mod tests {
    use std::io::Read as _;

    use super::*;

    #[test]
    fn each_variant_holds_the_same_bytes_and_the_hash_names_them() {
        for file in BUILT {
            let mut from_gzip = Vec::new();
            flate2::read::GzDecoder::new(file.gzip)
                .read_to_end(&mut from_gzip)
                .unwrap();
            let mut from_brotli = Vec::new();
            brotli::BrotliDecompress(&mut &file.brotli[..], &mut from_brotli).unwrap();
            assert_eq!(from_brotli, from_gzip, "{}: brotli", file.name);
            if let Some(identity) = file.identity {
                assert_eq!(from_gzip, identity, "{}: gzip", file.name);
            }
            assert!(file.brotli.len() < file.gzip.len(), "{}", file.name);
            assert_eq!(
                super::super::representation::content_hash(&from_gzip),
                file.hash,
                "{}",
                file.name
            );
        }
    }
}
