//! # everruns-http
//!
//! The control plane's HTTP adapter: the axum router of the contract's REST surface (handlers
//! only translate between HTTP and the application services of `everruns-services`), the one
//! mapping of errors to problem+json responses ([`ApiError`]), server-sent events and the
//! connection front that serves them lean, the OpenAPI document, OAuth 2.1 sign-in for MCP
//! clients (`/oauth/*`, `/.well-known/*`) and, with the `mcp` feature, the MCP server (`/mcp`).

mod body;
pub mod error;
mod front;
mod hub;
#[cfg(feature = "mcp")]
mod mcp;
mod origin;
pub mod routes;
pub(crate) mod schemas;
pub mod sse;
pub mod state;

pub use error::{ApiError, ApiResult};
pub use front::{ClientAddr, front};
pub use routes::router;
pub use state::AppState;
