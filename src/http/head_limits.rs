//! Limits on the request head, checked before routing: a request target over `--max-uri-length`
//! gets `414`, a head (request line and headers) over `--max-header-size` gets `431`.

use actix_web::dev::RequestHead;

use crate::api::errors::ApiError;

/// The head limits in bytes, from the settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeadLimits {
    /// Longest request target (`--max-uri-length`).
    pub max_uri: usize,
    /// Largest request line plus headers (`--max-header-size`).
    pub max_head: usize,
}

impl HeadLimits {
    /// The first limit `head` breaks, if any.
    pub fn check(&self, head: &RequestHead) -> Result<(), ApiError> {
        let target = target_length(&head.uri);
        if target > self.max_uri {
            return Err(ApiError::UriTooLong {
                limit: self.max_uri,
            });
        }
        if head_size(head, target) > self.max_head {
            return Err(ApiError::HeaderFieldsTooLarge {
                limit: self.max_head,
            });
        }
        Ok(())
    }
}

/// The request target's length as sent, without formatting it: the path and query, plus the
/// scheme and authority of an absolute-form target.
fn target_length(uri: &actix_web::http::Uri) -> usize {
    let path_and_query = uri.path_and_query().map_or(1, |pq| pq.as_str().len());
    let scheme = uri
        .scheme_str()
        .map_or(0, |scheme| scheme.len() + "://".len());
    let authority = uri
        .authority()
        .map_or(0, |authority| authority.as_str().len());
    scheme + authority + path_and_query
}

/// The head's size on the wire: `METHOD target HTTP/1.1\r\n`, each `name: value\r\n`, `\r\n`.
fn head_size(head: &RequestHead, target: usize) -> usize {
    let request_line = head.method.as_str().len() + 1 + target + 1 + "HTTP/1.1\r\n".len();
    let headers: usize = head
        .headers
        .iter()
        .map(|(name, value)| name.as_str().len() + 2 + value.len() + 2)
        .sum();
    request_line + headers + 2
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    const LIMITS: HeadLimits = HeadLimits {
        max_uri: 32,
        max_head: 128,
    };

    fn check(request: TestRequest) -> Result<(), ApiError> {
        LIMITS.check(request.to_http_request().head())
    }

    #[test]
    fn the_head_size_counts_what_the_wire_carries() {
        let request = TestRequest::get()
            .uri("/abc")
            .insert_header(("x-a", "bc"))
            .to_http_request();
        // "GET /abc HTTP/1.1\r\n" + "x-a: bc\r\n" + "\r\n"
        assert_eq!(head_size(request.head(), 4), 19 + 9 + 2);
    }

    #[test]
    fn the_target_length_is_what_was_sent() {
        for target in ["/", "/a/b?c=d", "http://example.com:8080/x?y"] {
            let uri: actix_web::http::Uri = target.parse().unwrap();
            assert_eq!(target_length(&uri), target.len(), "{target}");
        }
    }

    #[test]
    fn each_limit_holds_at_its_edge() {
        let uri = |n: usize| TestRequest::get().uri(&format!("/{}", "a".repeat(n - 1)));
        assert!(check(uri(32)).is_ok());
        assert!(matches!(
            check(uri(33)),
            Err(ApiError::UriTooLong { limit: 32 })
        ));
        // "GET / HTTP/1.1\r\n" is 16 bytes, "x: <value>\r\n" 5 more than the value, "\r\n" 2.
        let header = |n: usize| {
            TestRequest::get()
                .uri("/")
                .insert_header(("x", "v".repeat(n)))
        };
        assert!(check(header(128 - 16 - 5 - 2)).is_ok());
        assert!(matches!(
            check(header(128 - 16 - 5 - 2 + 1)),
            Err(ApiError::HeaderFieldsTooLarge { limit: 128 })
        ));
    }
}
