//! The values the API accepts. Each type declares its rules once: the same constants drive the
//! runtime check and the OpenAPI schema, so the spec cannot promise what the server refuses.

mod language;
mod name;

pub use language::Language;
pub use name::Name;
