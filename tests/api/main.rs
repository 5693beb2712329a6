//! Integration tests: the app on a real socket, spoken to over real HTTP, and the `greeter` binary
//! run as a real process. One test binary, so everything compiles and links once.

mod cli;
mod concurrency;
mod docs;
mod errors;
mod greeting;
mod health;
mod helpers;
mod openapi;
mod shutdown;
