//! `GET /healthz`: liveness for load balancers and orchestrators.

use actix_web::get;
use actix_web::web::Json;
use serde::Serialize;
use utoipa::ToSchema;

use crate::api::body::NoBody;

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
