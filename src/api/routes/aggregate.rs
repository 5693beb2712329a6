//! `GET /aggregate`: one request fanning out to several sources at once, the reason
//! asynchronous APIs exist. See [`crate::api::sources`].

use std::time::Instant;

use actix_web::http::header::ContentType;
use actix_web::web::Data;
use actix_web::{HttpMessage, HttpRequest, HttpResponse, get};

use crate::api::body::NoBody;
use crate::api::sources::budget::HeldBody;
use crate::api::sources::{Aggregate, Sources};
use crate::api::validation::HttpValidationError;
use crate::telemetry::trace_context::{TRACEPARENT, TRACESTATE, TraceContext};

/// Call every source at once
///
/// Calls every configured upstream (`--upstream NAME=URL`), or three simulated sources when
/// none is configured, all at the same time, and answers once each has answered, failed or
/// timed out (`--upstream-timeout`, 2 s by default): three 1 s calls take about 1 s, not 3 s.
/// One source's failure never fails, delays or cancels another: each result says `ok`, or its
/// `error` (`timeout`, `connect`, `http_status`, `invalid_body`, `too_large`, `protocol`,
/// `overloaded`, `tls`). The client's `X-Request-Id` is forwarded on every call, and its W3C `traceparent`
/// (each call with a parent id of its own; a new trace when it sent none) and `tracestate`; a
/// client that goes away cancels them. When the server's configuration declares parameters,
/// they are this operation's query parameters (listed here), each checked before any call
/// (`422`) and filling the upstream URLs' placeholders, percent-encoded.
#[utoipa::path(
    tag = "fan-out",
    responses(
        (status = 200, description = "Every source's result, in configured order.",
         body = Aggregate,
         example = json!({"elapsed_ms": 2003, "sources": [
             {"name": "billing", "kind": "http", "ok": true, "elapsed_ms": 12, "status": 200,
              "body": {"balance": 42}},
             {"name": "users", "kind": "http", "ok": false, "elapsed_ms": 2001,
              "error": {"type": "timeout", "detail": "no answer within 2s"}}]})),
    ),
)]
#[get("/aggregate")]
pub async fn get_aggregate(
    _: NoBody,
    req: HttpRequest,
    sources: Data<Sources>,
) -> Result<HttpResponse, HttpValidationError> {
    let started = Instant::now();
    let headers = req.headers();
    let trace = TraceContext::continue_or_start(
        headers.get_all(TRACEPARENT).map(|value| value.as_bytes()),
        headers.get_all(TRACESTATE).map(|value| value.as_bytes()),
    );
    // For the access line.
    req.extensions_mut().insert(trace.trace_id());
    let values = sources.parameter_values(req.query_string())?;
    let (results, held) = sources
        .call_all(&values, req.headers().get("x-request-id"), &trace)
        .await;
    let aggregate = Aggregate {
        elapsed_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
        sources: results,
    };
    // The bodies' bytes stay held against the budget until the answer is sent.
    // Sized once: the bodies and a little for each result's other fields.
    let mut body = Vec::with_capacity(held.bytes() + 256 * (aggregate.sources.len() + 1));
    serde_json::to_writer(&mut body, &aggregate).expect("an aggregate serializes");
    Ok(HttpResponse::Ok()
        .content_type(ContentType::json())
        .body(HeldBody::new(body, held)))
}
