//! `GET /`: the greeting of FastAPI's first example.

use actix_web::get;
use actix_web::web::{Json, ThinData};
use serde::Serialize;
use utoipa::ToSchema;

use crate::simulated_io::SimulatedIo;

/// The greeting, `{"Hello": "World"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Greeting {
    /// Who is greeted.
    #[serde(rename = "Hello")]
    #[schema(example = "World")]
    pub hello: String,
}

impl Greeting {
    /// `{"Hello": "World"}`.
    pub fn world() -> Self {
        Self {
            hello: "World".to_owned(),
        }
    }
}

/// Say hello to the world
///
/// Answers `{"Hello": "World"}` after a simulated, non-blocking I/O wait (1 s by default, set by
/// `--io-delay`), as FastAPI's first example does with `await asyncio.sleep(1)`. Thousands of
/// concurrent requests wait together, not one after another.
#[utoipa::path(
    tag = "greeting",
    responses(
        (status = 200, description = "The greeting.", body = Greeting,
         example = json!({"Hello": "World"})),
    ),
)]
#[get("/")]
pub async fn get_greeting(io: ThinData<SimulatedIo>) -> Json<Greeting> {
    io.wait().await;
    Json(Greeting::world())
}
