//! `GET /metrics`: the server's Prometheus metrics ([`crate::telemetry::metrics`]) in Prometheus'
//! text format, at `--metrics-path` (`off` removes it). Like the docs, not an API operation: it
//! stays out of the OpenAPI document (docs/operations.md lists the metrics).

use actix_web::web::{self, ThinData};
use actix_web::{HttpResponse, http::header::ContentType};

use crate::api::body::NoBody;
use crate::telemetry::metrics::{CONTENT_TYPE, Metrics};

/// Registers the metrics route at `path`, if any.
pub fn configure(path: Option<String>) -> impl FnOnce(&mut web::ServiceConfig) {
    move |config| {
        if let Some(path) = path {
            config.route(&path, web::get().to(render));
        }
    }
}

async fn render(_: NoBody, metrics: ThinData<Metrics>) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header(ContentType(
            CONTENT_TYPE.parse().expect("a valid media type"),
        ))
        .body(metrics.0.render())
}
