//! The answer for a request that no route takes: `405` with an `Allow` header when some route has
//! the path under another method, `404` otherwise. actix-web's router decides which, so the
//! answer always agrees with routing (percent-encoded paths included).
//!
//! Every route registered with a method (`#[get]`, `web::get()`, ...) records its method in the
//! request while the router tries it, and an actix-web resource with no route of its own
//! answers `405` with those recorded methods as `Allow`. The fallback is such a resource, matching
//! every path, registered after all the others: when its answer names no method, no route has
//! the path, and it is a `404`. `HEAD` is routed as `GET` ([`crate::http::head_as_get`]), so a
//! path that allows `GET` allows `HEAD` too.
//!
//! That the methods recorded by earlier resources reach this resource's `Allow` is how
//! actix-web 4.18 behaves rather than a documented promise; the tests of 405 with `Allow`
//! (`tests/api/routing.rs`, `tests/api/errors.rs`) fail if it changes.

use actix_web::body::BoxBody;
use actix_web::dev::{HttpServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::http::Method;
use actix_web::http::header::ALLOW;
use actix_web::middleware::{Next, from_fn};
use actix_web::{Error, ResponseError, web};

use crate::api::errors::ApiError;

/// The pattern of [`resource`]: every path.
pub const PATTERN: &str = "/{path:.*}";

/// The resource that takes every request no other route takes; register it last.
pub fn resource() -> impl HttpServiceFactory {
    web::resource(PATTERN).wrap(from_fn(not_routed))
}

/// Turns actix-web's bodiless `405` into [`ApiError::MethodNotAllowed`], or into
/// [`ApiError::NotFound`] when no route has the path.
async fn not_routed(
    req: ServiceRequest,
    next: Next<BoxBody>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    let res = next.call(req).await?;
    let error = match allowed_methods(&res) {
        Some(allow) => ApiError::MethodNotAllowed { allow },
        None => ApiError::NotFound,
    };
    Ok(res.into_response(error.error_response()))
}

/// The methods named by the answer's `Allow` header, `HEAD` added after `GET`.
fn allowed_methods(res: &ServiceResponse) -> Option<Vec<Method>> {
    let allow = res.headers().get(ALLOW)?.to_str().ok()?;
    let mut methods: Vec<Method> = Vec::new();
    for method in allow
        .split(',')
        .filter_map(|m| m.trim().parse::<Method>().ok())
    {
        if !methods.contains(&method) {
            methods.push(method);
        }
    }
    if methods.contains(&Method::GET) && !methods.contains(&Method::HEAD) {
        methods.push(Method::HEAD);
    }
    (!methods.is_empty()).then_some(methods)
}
