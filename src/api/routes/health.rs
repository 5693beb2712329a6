//! `GET /healthz` and `GET /readyz`: liveness and readiness for load balancers and
//! orchestrators.

use actix_web::web::{Json, ThinData};
use actix_web::{HttpResponse, get};
use serde::Serialize;
use utoipa::ToSchema;

use crate::api::body::NoBody;
use crate::lifecycle::serving::ServingState;

/// The service's health.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Health {
    /// Always `ok` while the service answers.
    pub status: HealthStatus,
}

/// The states a health answer can report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum HealthStatus {
    /// The service is up and serving.
    Ok,
}

/// Check that the service is up
///
/// Answers `{"status": "ok"}` at once, without the simulated I/O wait, so probes stay cheap.
#[utoipa::path(
    tag = "health",
    responses(
        (status = 200, description = "The service is up.", body = Health,
         example = json!({"status": "ok"})),
    ),
)]
#[get("/healthz")]
pub async fn get_health(_: NoBody) -> Json<Health> {
    Json(Health {
        status: HealthStatus::Ok,
    })
}

/// Whether the service takes new work.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Readiness {
    /// `ready` while serving; `draining` once a shutdown began.
    pub status: ReadinessStatus,
}

/// The states a readiness answer can report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ReadinessStatus {
    /// Serving: send requests here.
    Ready,
    /// A shutdown began: send new requests elsewhere (those in flight still finish).
    Draining,
}

/// Check that the service takes new work
///
/// Answers `{"status": "ready"}` while serving, and `503` with `{"status": "draining"}` from the
/// moment a shutdown begins (SIGTERM or SIGINT), for the whole `--drain-delay` and after it, so
/// that load balancers send new requests elsewhere. `/healthz` stays the liveness probe.
#[utoipa::path(
    tag = "health",
    responses(
        (status = 200, description = "Serving: send requests here.", body = Readiness,
         example = json!({"status": "ready"})),
        (status = 503, description = "Draining for a shutdown: send requests elsewhere.",
         body = Readiness, example = json!({"status": "draining"})),
    ),
)]
#[get("/readyz")]
pub async fn get_readiness(_: NoBody, serving: ThinData<ServingState>) -> HttpResponse {
    if serving.0.is_draining() {
        HttpResponse::ServiceUnavailable().json(Readiness {
            status: ReadinessStatus::Draining,
        })
    } else {
        HttpResponse::Ok().json(Readiness {
            status: ReadinessStatus::Ready,
        })
    }
}
