//! `HEAD` on every `GET` route, which FastAPI lacks (its users have asked since 2020).
//!
//! A `HEAD` request is handed to routing as a `GET`. The HTTP layer remembers that the
//! request was a `HEAD` and sends the `GET` answer's status and headers, `Content-Length`
//! included, without its body. The access line, from the request line the per-request layer
//! noted before the rewrite, still shows `HEAD`.

use actix_web::dev::ServiceRequest;
use actix_web::http::Method;

/// Routes a `HEAD` request as the `GET` of the same path.
pub fn route_head_as_get(req: &mut ServiceRequest) {
    if req.method() == Method::HEAD {
        req.head_mut().method = Method::GET;
    }
}
