//! The API's routes, one file per concern. [`register`] is the single list of them: the app
//! serves exactly what it registers, and the OpenAPI document describes exactly the same.

pub mod aggregate;
pub mod greeting;
pub mod health;
pub mod metrics;

use utoipa_actix_web::service_config::ServiceConfig;

/// Registers every API route, collecting each one's OpenAPI path and schemas as it goes.
pub fn register(config: &mut ServiceConfig) {
    config
        .service(greeting::get_greeting)
        .service(greeting::get_named_greeting)
        .service(greeting::post_greeting)
        .service(greeting::get_greetings)
        .service(aggregate::get_aggregate)
        .service(health::get_health)
        .service(health::get_readiness);
}
