//! The per-request layer: the steps every request goes through, in one middleware. One layer
//! rather than one per concern (as actix-web's `Logger`, `DefaultHeaders`, `ErrorHandlers` and
//! `from_fn` layers once were here), because every layer costs each in-flight request a future
//! of its own (memory that 10,000 waiting connections multiply) and CPU time.
//!
//! The steps, in their order, and why it is this order:
//! 1. `identify`: the client (behind trusted proxies), the request id, the access line, the
//!    in-flight count. First, so that every answer, a refusal or a CORS preflight included, has
//!    an id, an access line and a count.
//! 2. `admit`: the head limits (cheapest, and before anything reads the head's contents), the
//!    rate limit (before the API keys, so that a flood without keys is limited too), the API
//!    keys.
//! 3. `prepare`: `HEAD` routed as `GET`, a client's request id that is not sane replaced.
//! 4. The handler, a panic or an error contained as a JSON answer.
//! 5. `finish`: a JSON body for any error answer, the common headers (id, `nosniff`), the
//!    rate-limit headers, `Connection: close` while draining, the metrics, and the access line
//!    once the answer is sent.
//!
//! With CORS on, the CORS layer sits between steps 3 and 4, and step 2 (with the containment of
//! a panic) runs inside it, in a layer of its own ([`admission_inside_cors`]), so that its
//! refusals carry the CORS headers a browser needs to read them; a preflight, which the CORS
//! layer answers itself, has its head limits checked here. With CORS off, step 2 runs here,
//! saving that layer.
//!
//! What the steps read is one [`PerRequest`] in each worker's app data: one look-up and one
//! (non-atomic) reference count per request (two of each with CORS on).

use std::net::IpAddr;
use std::panic::AssertUnwindSafe;
use std::rc::Rc;

use actix_web::body::{BoxBody, EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::ConnectionType;
use actix_web::http::header::HeaderValue;
use actix_web::middleware::Next;
use actix_web::{Error, ResponseError};
use futures_util::FutureExt;

use actix_web::HttpMessage;

use crate::api::errors::ApiError;
use crate::api::errors::as_json_error;
use crate::http::access_log::{AccessLine, LoggedBody};
use crate::http::authentication::Authentication;
use crate::http::client_ip::Forwarding;
use crate::http::head_as_get::route_head_as_get;
use crate::http::head_limits::HeadLimits;
use crate::http::panics::Unanswered;
use crate::http::rate_limit::{Decision, RATELIMIT, RATELIMIT_POLICY, RateLimits};
use crate::http::request_id::{self, with_common_headers};
use crate::http::route::route_template;
use crate::lifecycle::serving::ServingState;
use crate::telemetry::metrics::{InFlight, Metrics, UNMATCHED};
use crate::telemetry::trace_context::TraceId;

/// What the per-request steps need, from the settings; one per worker, in its app data as an
/// `Rc<PerRequest>`.
#[derive(Clone)]
pub struct PerRequest {
    /// How the client is found behind proxies.
    pub forwarding: Forwarding,
    /// The head limits.
    pub head_limits: HeadLimits,
    /// The rate limiter, when `--rate-limit` is set.
    pub rate_limits: Option<RateLimits>,
    /// The API keys, when set.
    pub authentication: Option<Authentication>,
    /// The metrics, unless `--metrics-path off`.
    pub metrics: Option<Metrics>,
    /// Serving or draining.
    pub serving: ServingState,
    /// Whether admission runs inside the CORS layer ([`admission_inside_cors`]) rather than here.
    pub admission_inside_cors: bool,
}

/// The steps' settings, which startup registers with the layer.
fn steps_of(req: &ServiceRequest) -> Rc<PerRequest> {
    req.app_data::<Rc<PerRequest>>()
        .cloned()
        .expect("startup registers PerRequest with the per-request layer")
}

/// What [`identify`] notes of a request.
struct Identity {
    client: Option<IpAddr>,
    line: AccessLine,
    in_flight: Option<InFlight>,
}

/// What [`admit`] decided: a refusal, and the rate-limit headers `(policy, state)` for the
/// answer when the route is limited.
#[derive(Default)]
struct Admission {
    refusal: Option<ApiError>,
    rate_headers: Option<(HeaderValue, HeaderValue)>,
}

/// The middleware: the steps above, in order.
pub async fn per_request<B: MessageBody + 'static>(
    mut req: ServiceRequest,
    next: Next<B>,
) -> Result<ServiceResponse<LoggedBody<EitherBody<EitherBody<B, BoxBody>>>>, Error> {
    let steps = steps_of(&req);
    let Identity {
        client,
        line,
        in_flight,
    } = identify(&steps, &req);
    let admission = if !steps.admission_inside_cors {
        admit(&steps, &req, client)
    } else if is_preflight(&req) {
        // The CORS layer answers a preflight itself, before admission inside it: the head
        // limits are checked here (a preflight is neither rate limited nor keyed).
        Admission {
            refusal: steps.head_limits.check(req.head()).err(),
            rate_headers: None,
        }
    } else {
        Admission::default()
    };
    let res = match admission.refusal {
        Some(refusal) => req
            .into_response(refusal.error_response())
            .map_into_right_body(),
        None => {
            prepare(&mut req, &line);
            // An error or a panic leaves no request to ask: it closes the connection if the
            // drain had begun when the request came.
            let draining = steps.serving.is_draining();
            match AssertUnwindSafe(next.call(req)).catch_unwind().await {
                Ok(Ok(answer)) => answer.map_into_left_body(),
                Ok(Err(error)) => {
                    let status = error.as_response_error().status_code();
                    count_unanswered(in_flight.as_ref(), &line, status);
                    return Err(Unanswered::failed(error, line).closing(draining).into());
                }
                Err(_) => {
                    let status = actix_web::http::StatusCode::INTERNAL_SERVER_ERROR;
                    count_unanswered(in_flight.as_ref(), &line, status);
                    return Err(Unanswered::panicked(line).closing(draining).into());
                }
            }
        }
    };
    Ok(finish(&steps, res, line, in_flight, admission.rate_headers))
}

/// Step 1: the client, the request id and access line, the in-flight count.
fn identify(steps: &PerRequest, req: &ServiceRequest) -> Identity {
    let peer = req.peer_addr().map(|peer| peer.ip());
    let client = steps.forwarding.client(peer, req.headers());
    let line = AccessLine::start(req, request_id::for_request(req.headers()), client);
    let in_flight = steps.metrics.as_ref().map(Metrics::request_started);
    Identity {
        client,
        line,
        in_flight,
    }
}

/// Step 2: the head limits, the rate limit, the API keys; the first that refuses decides.
fn admit(steps: &PerRequest, req: &ServiceRequest, client: Option<IpAddr>) -> Admission {
    if let Err(refusal) = steps.head_limits.check(req.head()) {
        return Admission {
            refusal: Some(refusal),
            rate_headers: None,
        };
    }
    let mut rate_headers = None;
    if let Some(limits) = &steps.rate_limits {
        match limits.check(req.method(), req.path(), client) {
            Decision::Exempt => {}
            Decision::Allowed(state) => rate_headers = Some((limits.policy(), state)),
            Decision::Refused {
                retry_after_secs,
                state,
            } => {
                if let Some(metrics) = &steps.metrics {
                    metrics.request_rate_limited();
                }
                return Admission {
                    refusal: Some(ApiError::TooManyRequests { retry_after_secs }),
                    rate_headers: Some((limits.policy(), state)),
                };
            }
        }
    }
    let refusal = match &steps.authentication {
        Some(authentication) => authentication.check(req).err(),
        None => None,
    };
    Admission {
        refusal,
        rate_headers,
    }
}

/// Step 3: `HEAD` routed as `GET`; the client's request id passed on to handlers (upstream calls)
/// only when sane, else replaced by the answer's. (Inserting every fresh id into the request cost
/// about 10% of the throughput of `make bench`'s overhead scenario, so an id the client did not
/// send is not passed on.)
fn prepare(req: &mut ServiceRequest, line: &AccessLine) {
    route_head_as_get(req);
    if let Some(sent) = req.headers().get(&request_id::REQUEST_ID)
        && !request_id::is_sane(sent.as_bytes())
    {
        req.headers_mut().insert(request_id::REQUEST_ID, line.id());
    }
}

/// Step 5: the JSON error body, the common and rate-limit headers, `Connection: close` while
/// draining, the metrics, and the access line written once the body is sent.
fn finish<B: MessageBody + 'static>(
    steps: &PerRequest,
    res: ServiceResponse<B>,
    mut line: AccessLine,
    in_flight: Option<InFlight>,
    rate_headers: Option<(HeaderValue, HeaderValue)>,
) -> ServiceResponse<LoggedBody<EitherBody<B>>> {
    if let Some(trace_id) = res.request().extensions().get::<TraceId>() {
        line.set_trace_id(*trace_id);
    }
    let mut res = as_json_error(res);
    with_common_headers(res.headers_mut(), line.id());
    insert_rate_headers(res.headers_mut(), rate_headers);
    if steps.serving.is_draining() {
        // The client should take its next request to another replica.
        res.response_mut()
            .head_mut()
            .set_connection_type(ConnectionType::Close);
    }
    let status = res.status();
    if let Some(in_flight) = &in_flight {
        let pattern = res.request().match_pattern();
        let template = pattern.as_deref().map(route_template);
        let route = match (pattern.as_deref(), template.as_deref()) {
            (Some(FALLBACK_PATTERN), _) | (_, None) => UNMATCHED,
            (_, Some(template)) => template,
        };
        let (method, took) = line.method_and_elapsed();
        in_flight
            .metrics()
            .request_answered(method, route, status.as_str(), took);
    }
    res.map_body(|_, body| line.sending(body, status))
}

/// Admission (step 2) as a layer of its own, inside the CORS layer when CORS is on: its
/// refusals, and the 500 of a panic it contains, then pass through CORS on their way out and
/// carry its headers.
pub async fn admission_inside_cors<B: MessageBody + 'static>(
    req: ServiceRequest,
    next: Next<B>,
) -> Result<ServiceResponse<EitherBody<B>>, Error> {
    let steps = steps_of(&req);
    let peer = req.peer_addr().map(|peer| peer.ip());
    let client = steps.forwarding.client(peer, req.headers());
    let admission = admit(&steps, &req, client);
    let mut res = match admission.refusal {
        Some(refusal) => req
            .into_response(refusal.error_response())
            .map_into_right_body(),
        // A panic is contained here too, so that its 500 passes through CORS (which turns an
        // error into an answer with its headers) rather than unwinding past it.
        None => match AssertUnwindSafe(next.call(req)).catch_unwind().await {
            Ok(answer) => answer?.map_into_left_body(),
            Err(_) => return Err(ApiError::Internal("a handler panicked".to_owned()).into()),
        },
    };
    insert_rate_headers(res.headers_mut(), admission.rate_headers);
    Ok(res)
}

/// Adds the rate-limit headers `(policy, state)` of a limited route's answer.
fn insert_rate_headers(
    headers: &mut actix_web::http::header::HeaderMap,
    rate_headers: Option<(HeaderValue, HeaderValue)>,
) {
    if let Some((policy, state)) = rate_headers {
        headers.insert(RATELIMIT_POLICY, policy);
        headers.insert(RATELIMIT, state);
    }
}

/// Whether `req` is a CORS preflight: `OPTIONS` with `Access-Control-Request-Method`.
fn is_preflight(req: &ServiceRequest) -> bool {
    req.method() == actix_web::http::Method::OPTIONS
        && req
            .headers()
            .contains_key(actix_web::http::header::ACCESS_CONTROL_REQUEST_METHOD)
}

/// The pattern of the resource that takes what no route takes ([`crate::http::fallback`]).
const FALLBACK_PATTERN: &str = crate::http::fallback::PATTERN;

/// Counts a request that failed or panicked before it had an answer. Its route cannot be asked
/// of a request that is gone: it counts under `route="unknown"`.
fn count_unanswered(
    in_flight: Option<&InFlight>,
    line: &AccessLine,
    status: actix_web::http::StatusCode,
) {
    if let Some(in_flight) = in_flight {
        let (method, took) = line.method_and_elapsed();
        in_flight
            .metrics()
            .request_answered(method, "unknown", status.as_str(), took);
    }
}
