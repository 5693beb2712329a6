//! The answer for a request that no route takes: `405` with an `Allow` header when some route has
//! the path under another method, `404` otherwise.
//!
//! actix-web's route macros guard each resource by method, so a request with the wrong method
//! falls through to the app's default service like an unknown path would. The table below knows
//! every path and its methods, read from the OpenAPI document the routes generate, so the two
//! cases can be told apart without a second list of routes.

use actix_web::dev::ResourceDef;
use actix_web::http::Method;
use actix_web::{HttpRequest, HttpResponse, ResponseError, web};
use utoipa::openapi::OpenApi;
use utoipa::openapi::path::HttpMethod;

use crate::errors::ApiError;

/// Every known path pattern with the methods it accepts.
#[derive(Debug, Default)]
pub struct RouteTable {
    routes: Vec<(ResourceDef, Vec<Method>)>,
}

impl RouteTable {
    /// The paths and methods of every operation in `api`.
    pub fn from_openapi(api: &OpenApi) -> Self {
        let mut table = Self::default();
        for (path, item) in &api.paths.paths {
            let methods = [
                (HttpMethod::Get, &item.get),
                (HttpMethod::Put, &item.put),
                (HttpMethod::Post, &item.post),
                (HttpMethod::Delete, &item.delete),
                (HttpMethod::Options, &item.options),
                (HttpMethod::Head, &item.head),
                (HttpMethod::Patch, &item.patch),
                (HttpMethod::Trace, &item.trace),
            ]
            .into_iter()
            .filter(|(_, operation)| operation.is_some())
            .map(|(method, _)| to_method(method));
            table = table.with(path, methods);
        }
        table
    }

    /// Adds `pattern` (actix-web's path syntax, e.g. `/hello/{name}`) with `methods`; a `GET`
    /// route also takes `HEAD`.
    pub fn with(mut self, pattern: &str, methods: impl IntoIterator<Item = Method>) -> Self {
        let mut methods: Vec<Method> = methods.into_iter().collect();
        if methods.contains(&Method::GET) && !methods.contains(&Method::HEAD) {
            methods.push(Method::HEAD);
        }
        self.routes.push((ResourceDef::new(pattern), methods));
        self
    }

    /// The methods that `path` accepts, or `None` when no route has that path.
    pub fn allowed_methods(&self, path: &str) -> Option<Vec<Method>> {
        let mut allowed: Vec<Method> = Vec::new();
        for (def, methods) in &self.routes {
            if !def.is_match(path) {
                continue;
            }
            for method in methods {
                if !allowed.contains(method) {
                    allowed.push(method.clone());
                }
            }
        }
        (!allowed.is_empty()).then_some(allowed)
    }
}

fn to_method(method: HttpMethod) -> Method {
    match method {
        HttpMethod::Get => Method::GET,
        HttpMethod::Put => Method::PUT,
        HttpMethod::Post => Method::POST,
        HttpMethod::Delete => Method::DELETE,
        HttpMethod::Options => Method::OPTIONS,
        HttpMethod::Head => Method::HEAD,
        HttpMethod::Patch => Method::PATCH,
        HttpMethod::Trace => Method::TRACE,
    }
}

/// The app's default service: `405` with `Allow` for a known path, `404` for any other.
pub async fn not_routed(req: HttpRequest, table: web::Data<RouteTable>) -> HttpResponse {
    let error = match table.allowed_methods(req.path()) {
        Some(allow) => ApiError::MethodNotAllowed { allow },
        None => ApiError::NotFound,
    };
    error.error_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table() -> RouteTable {
        RouteTable::default()
            .with("/", [Method::GET])
            .with("/items/{id}", [Method::PUT])
            .with("/items/{id}", [Method::DELETE])
    }

    #[test]
    fn get_routes_also_allow_head() {
        assert_eq!(
            table().allowed_methods("/"),
            Some(vec![Method::GET, Method::HEAD])
        );
    }

    #[test]
    fn methods_of_every_matching_pattern_are_merged() {
        assert_eq!(
            table().allowed_methods("/items/7"),
            Some(vec![Method::PUT, Method::DELETE])
        );
    }

    #[test]
    fn unknown_paths_have_no_methods() {
        assert_eq!(table().allowed_methods("/nope"), None);
        assert_eq!(table().allowed_methods("/items/7/extra"), None);
    }
}
