//! `HEAD` on every `GET` route, which FastAPI lacks (its users have asked since 2020).
//!
//! The middleware hands a `HEAD` request to routing as a `GET`. The HTTP layer remembers that the
//! request was a `HEAD` and sends the `GET` answer's status and headers, `Content-Length`
//! included, without its body. Access logs, placed outside this middleware, still show `HEAD`.

use actix_web::Error;
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::Method;
use actix_web::middleware::Next;

/// Routes a `HEAD` request as the `GET` of the same path.
pub async fn head_as_get(
    mut req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    if req.method() == Method::HEAD {
        req.head_mut().method = Method::GET;
    }
    next.call(req).await
}
