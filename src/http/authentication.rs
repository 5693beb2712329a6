//! API keys at the door (off by default; [`crate::config::api_keys`] loads them): a request to
//! an operation the OpenAPI document marks with the bearer scheme must carry one of the keys as
//! `Authorization: Bearer <key>`, or it gets `401 {"detail":"Not authenticated"}` with
//! `WWW-Authenticate: Bearer` before its handler runs. Which operations are protected is read
//! from the document itself, so the spec and the server cannot disagree.

use std::collections::HashSet;
use std::sync::Arc;

use actix_web::dev::ServiceRequest;
use actix_web::http::Method;
use actix_web::http::header::AUTHORIZATION;
use utoipa::openapi::OpenApi;

use crate::api::errors::ApiError;
use crate::api::openapi::BEARER_SCHEME;
use crate::config::api_keys::ApiKeys;
use crate::http::route::route_template;

/// The keys, and the operations (method, path template) that require one; clones share them.
#[derive(Clone, Debug)]
pub struct Authentication {
    keys: ApiKeys,
    protected: Arc<HashSet<(Method, String)>>,
}

impl Authentication {
    /// Requires `keys` on every operation of `api` whose `security` names the bearer scheme.
    pub fn new(keys: ApiKeys, api: &OpenApi) -> Self {
        let mut protected = HashSet::new();
        for (path, item) in &api.paths.paths {
            let operations = [
                (Method::GET, &item.get),
                (Method::PUT, &item.put),
                (Method::POST, &item.post),
                (Method::DELETE, &item.delete),
                (Method::PATCH, &item.patch),
            ];
            for (method, operation) in operations {
                let requires_key = operation.as_ref().is_some_and(|operation| {
                    operation.security.iter().flatten().any(|requirement| {
                        serde_json::to_value(requirement)
                            .is_ok_and(|value| value.get(BEARER_SCHEME).is_some())
                    })
                });
                if requires_key {
                    protected.insert((method, path.clone()));
                }
            }
        }
        Self {
            keys,
            protected: Arc::new(protected),
        }
    }

    /// How many keys are accepted.
    pub fn key_count(&self) -> usize {
        self.keys.len()
    }

    /// `Ok` when `req`'s operation is public or `req` carries a key; else the `401`. `HEAD` is
    /// checked as the `GET` it is answered by.
    pub fn check(&self, req: &ServiceRequest) -> Result<(), ApiError> {
        let method = match req.method() {
            &Method::HEAD => Method::GET,
            method => method.clone(),
        };
        if !self.protects(method, req) {
            return Ok(());
        }
        let mut values = req.headers().get_all(AUTHORIZATION);
        let (Some(value), None) = (values.next(), values.next()) else {
            return Err(ApiError::Unauthorized);
        };
        match bearer_token(value.as_bytes()) {
            Some(token) if self.keys.accepts(token) => Ok(()),
            _ => Err(ApiError::Unauthorized),
        }
    }
}

impl Authentication {
    /// Whether the route `req` will reach needs a key. This runs before routing, so it resolves
    /// the route as the router will: on the percent-decoded path (`/%68ello/x` is
    /// `/hello/{name}`), not the raw one `HttpRequest::match_pattern` falls back to there. A
    /// path that resolves to no resource at all (the fallback takes every other one) needs a
    /// key: fail closed.
    fn protects(&self, method: Method, req: &ServiceRequest) -> bool {
        let decoded = req.match_info().as_str();
        let Some(pattern) = req.request().resource_map().match_pattern(decoded) else {
            return true;
        };
        // `/hello/{name:[^/]*}` is the document's `/hello/{name}`.
        let template = route_template(&pattern).into_owned();
        self.protected.contains(&(method, template))
    }
}

/// The credentials of `Bearer <token>` (the scheme in any case, then spaces).
fn bearer_token(value: &[u8]) -> Option<&[u8]> {
    let (scheme, rest) = value.split_at_checked(6)?;
    if !scheme.eq_ignore_ascii_case(b"bearer") || !rest.starts_with(b" ") {
        return None;
    }
    let token = rest.trim_ascii();
    (!token.is_empty()).then_some(token)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_token_follows_the_bearer_scheme_in_any_case() {
        assert_eq!(bearer_token(b"Bearer abc"), Some(&b"abc"[..]));
        assert_eq!(bearer_token(b"bearer   abc "), Some(&b"abc"[..]));
        assert_eq!(bearer_token(b"BEARER abc"), Some(&b"abc"[..]));
        for refused in [
            &b"Bearer"[..],
            b"Bearer ",
            b"Bearerabc",
            b"Basic abc",
            b"",
            b"Bear",
        ] {
            assert_eq!(bearer_token(refused), None, "{refused:?}");
        }
    }

    #[test]
    fn the_protected_operations_are_those_the_document_marks() {
        let keys = ApiKeys::load(
            None,
            Some(&crate::config::api_keys::Secret::new(
                "k3y-0123456789abcdef",
            )),
        )
        .unwrap()
        .unwrap();
        let deployment = crate::api::openapi::Deployment {
            api_keys: true,
            ..Default::default()
        };
        let auth = Authentication::new(keys, &crate::api::document_for(deployment));
        assert!(auth.protected.contains(&(Method::GET, "/".to_owned())));
        assert!(
            auth.protected
                .contains(&(Method::GET, "/hello/{name}".to_owned()))
        );
        assert!(
            auth.protected
                .contains(&(Method::POST, "/greetings".to_owned()))
        );
        assert!(
            !auth
                .protected
                .contains(&(Method::GET, "/healthz".to_owned()))
        );
        assert!(
            !auth
                .protected
                .contains(&(Method::GET, "/readyz".to_owned()))
        );
    }
}
