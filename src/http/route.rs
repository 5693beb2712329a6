//! A route's template as the OpenAPI document writes it, from the pattern actix-web matched: what
//! the metrics label a request with, and what the API-key check looks up in the document.

/// The route template of an actix-web resource pattern, as the OpenAPI document writes it:
/// each segment's pattern left out (`/hello/{name:[^/]*}` is `/hello/{name}`).
pub fn route_template(pattern: &str) -> std::borrow::Cow<'_, str> {
    if !pattern.contains(':') {
        return pattern.into();
    }
    let mut template = String::with_capacity(pattern.len());
    let mut depth = 0; // inside a `{...}`, and inside braces of its pattern
    let mut in_pattern = false;
    for c in pattern.chars() {
        match c {
            '{' => {
                depth += 1;
                if !in_pattern {
                    template.push(c);
                }
            }
            '}' => {
                depth -= 1;
                if depth == 0 {
                    in_pattern = false;
                    template.push(c);
                } else if !in_pattern {
                    template.push(c);
                }
            }
            ':' if depth == 1 => in_pattern = true,
            _ if !in_pattern => template.push(c),
            _ => {}
        }
    }
    template.into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_leave_segment_patterns_out() {
        assert_eq!(route_template("/hello/{name:[^/]*}"), "/hello/{name}");
        assert_eq!(route_template(r"/a/{id:\d{3}}/b/{x}"), "/a/{id}/b/{x}");
        assert_eq!(route_template("/healthz"), "/healthz");
        assert_eq!(route_template("/docs/{tail:.*}"), "/docs/{tail}");
    }
}
