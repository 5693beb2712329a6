//! One docs file or document as HTTP serves it: its bytes in each encoding it has (as is, gzip,
//! brotli), a strong `ETag` per encoding, the encoding the client's `Accept-Encoding` prefers,
//! `304 Not Modified` on a matching `If-None-Match`, and the caching its URL allows. Nothing is
//! compressed while answering: the variants are made at build time, or once after start-up.

use std::io::{Read as _, Write as _};
use std::sync::OnceLock;

use actix_web::http::header::{
    self, AcceptEncoding, CacheControl, CacheDirective, ContentEncoding, Encoding, EntityTag,
    Header as _, IfNoneMatch,
};
use actix_web::web::Bytes;
use actix_web::{HttpRequest, HttpResponse};
use sha2::{Digest, Sha256};

/// How long a browser may keep what it fetched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Caching {
    /// A URL that names its content's hash: kept a year, never revalidated.
    Immutable,
    /// A URL whose content changes with the server (pages, documents): revalidated on each use,
    /// which the `ETag` makes a `304` when nothing changed.
    Revalidate,
}

/// The compressed variants of a body.
#[derive(Debug, Clone)]
pub struct Compressed {
    /// The gzip variant.
    pub gzip: Bytes,
    /// The brotli variant.
    pub brotli: Bytes,
}

impl Compressed {
    /// Compresses `body` with the best levels of both (a few milliseconds per 10 KB for brotli:
    /// done once, never while answering).
    pub fn best(body: &[u8]) -> Self {
        let mut gzip = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        gzip.write_all(body).expect("gzip into memory");
        let gzip = gzip.finish().expect("gzip into memory");
        let mut brotli = Vec::new();
        // A window no larger than the body: brotli's memory grows with it (22, its largest,
        // left about 8 MB of freed pages resident after compressing the two documents).
        let params = brotli::enc::BrotliEncoderParams {
            quality: 11,
            lgwin: window_bits(body.len()),
            size_hint: body.len(),
            ..Default::default()
        };
        brotli::BrotliCompress(&mut &body[..], &mut brotli, &params).expect("brotli into memory");
        Self {
            gzip: gzip.into(),
            brotli: brotli.into(),
        }
    }
}

/// A body with its content type, content hash and compressed variants.
#[derive(Debug)]
pub struct Representation {
    content_type: &'static str,
    hash: String,
    /// The body as is: set at start-up, or, for a large file compressed at build time (whose
    /// own bytes are not in the binary, to keep it small), inflated from the gzip variant the
    /// first time a client asks for it as is (once; most browsers never do).
    identity: OnceLock<Bytes>,
    /// Set at build time, or by the thread compressing the documents after start-up (until
    /// then the body goes as is); never set for a body too small to gain from it.
    compressed: OnceLock<Compressed>,
    /// Whether the body is compressible at all, hence whether answers vary by encoding.
    compressible: bool,
}

impl Representation {
    /// A body compressed at build time; `hash` names its content, which is `body`, or (when
    /// `None`) what the compressed variants hold.
    pub fn built(
        content_type: &'static str,
        hash: &str,
        body: Option<Bytes>,
        compressed: Compressed,
    ) -> Self {
        let identity = OnceLock::new();
        if let Some(body) = body {
            let _ = identity.set(body);
        }
        Self {
            content_type,
            hash: hash.to_owned(),
            identity,
            compressed: OnceLock::from(compressed),
            compressible: true,
        }
    }

    /// A body made at start-up, sent as is.
    pub fn plain(content_type: &'static str, body: impl Into<Bytes>) -> Self {
        let body = body.into();
        Self {
            content_type,
            hash: content_hash(&body),
            identity: OnceLock::from(body),
            compressed: OnceLock::new(),
            compressible: false,
        }
    }

    /// A body made at start-up whose variants [`Representation::compress`] makes later.
    pub fn compressible(content_type: &'static str, body: impl Into<Bytes>) -> Self {
        Self {
            compressible: true,
            ..Self::plain(content_type, body)
        }
    }

    /// Whether this body takes compressed variants and has none yet.
    pub fn needs_compression(&self) -> bool {
        self.compressible && self.compressed.get().is_none()
    }

    /// Makes the compressed variants, if this body takes them and has none yet.
    pub fn compress(&self) {
        if self.compressible {
            self.compressed
                .get_or_init(|| Compressed::best(self.body()));
        }
    }

    /// The first 16 hex digits of the SHA-256 of the body as is: its version in URLs and ETags.
    pub fn hash(&self) -> &str {
        &self.hash
    }

    /// The body as is.
    pub fn body(&self) -> &Bytes {
        self.identity.get_or_init(|| {
            let compressed = self
                .compressed
                .get()
                .expect("a body without its bytes has its compressed variants");
            let mut body = Vec::new();
            flate2::read::GzDecoder::new(&compressed.gzip[..])
                .read_to_end(&mut body)
                .expect("build.rs's gzip variant inflates");
            body.into()
        })
    }

    /// The answer to a `GET` (or `HEAD`) of this body at a URL cached as `caching` says.
    pub fn respond(&self, request: &HttpRequest, caching: Caching) -> HttpResponse {
        let (encoding, body) = self.negotiate(request);
        let tag = match encoding {
            Some(ContentEncoding::Brotli) => EntityTag::new_strong(format!("{}-br", self.hash)),
            Some(ContentEncoding::Gzip) => EntityTag::new_strong(format!("{}-gz", self.hash)),
            _ => EntityTag::new_strong(self.hash.clone()),
        };
        let unchanged = not_modified(request, &tag);
        let mut response = if unchanged {
            HttpResponse::NotModified()
        } else {
            HttpResponse::Ok()
        };
        response
            .insert_header((header::ETAG, tag.to_string()))
            .insert_header(cache_control(caching));
        if self.compressible {
            response.insert_header((header::VARY, "Accept-Encoding"));
        }
        if unchanged {
            return response.finish();
        }
        if let Some(encoding) = encoding {
            response.insert_header(encoding);
        }
        response.content_type(self.content_type).body(body)
    }

    /// The variant the client prefers among those this body has: brotli, then gzip, then as is
    /// (as is also when the client refuses every coding: a `406` would help no browser).
    fn negotiate(&self, request: &HttpRequest) -> (Option<ContentEncoding>, Bytes) {
        let Some(compressed) = self.compressed.get() else {
            return (None, self.body().clone());
        };
        // No (or an unreadable) `Accept-Encoding`: the body as is.
        let Ok(accepted) = AcceptEncoding::parse(request) else {
            return (None, self.body().clone());
        };
        let supported = [Encoding::brotli(), Encoding::gzip(), Encoding::identity()];
        match accepted.negotiate(supported.iter()) {
            Some(chosen) if chosen == Encoding::brotli() => {
                (Some(ContentEncoding::Brotli), compressed.brotli.clone())
            }
            Some(chosen) if chosen == Encoding::gzip() => {
                (Some(ContentEncoding::Gzip), compressed.gzip.clone())
            }
            _ => (None, self.body().clone()),
        }
    }
}

/// The smallest brotli window (`lgwin`, 16 to 22) that holds `len` bytes.
fn window_bits(len: usize) -> i32 {
    let bits = usize::BITS - len.max(1).leading_zeros();
    i32::try_from(bits).unwrap_or(22).clamp(16, 22)
}

/// The first 16 hex digits of the SHA-256 of `body`.
pub fn content_hash(body: &[u8]) -> String {
    Sha256::digest(body)[..8]
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

/// Whether the request's `If-None-Match` names `tag` (weak comparison, as RFC 9110 asks for
/// this header) or is `*`.
fn not_modified(request: &HttpRequest, tag: &EntityTag) -> bool {
    match IfNoneMatch::parse(request) {
        Ok(IfNoneMatch::Any) => true,
        Ok(IfNoneMatch::Items(tags)) => tags.iter().any(|t| t.weak_eq(tag)),
        Err(_) => false,
    }
}

fn cache_control(caching: Caching) -> CacheControl {
    CacheControl(match caching {
        Caching::Immutable => vec![
            CacheDirective::Public,
            CacheDirective::MaxAge(31_536_000),
            CacheDirective::Extension("immutable".to_owned(), None),
        ],
        Caching::Revalidate => vec![CacheDirective::NoCache],
    })
}
