//! # everruns-server
//!
//! The control plane: the axum router for the contract's REST surface and SSE, the services
//! behind it, configuration read once from the environment ([`ServerConfig::from_env`]), the
//! embedding builder ([`ServerAppBuilder`]) and the stock platform preset
//! ([`oss_platform_definition`]).
//!
//! Layout: `config` (environment), `error` (the one HTTP error mapping), `http` (routes and
//! middleware; handlers only translate), `services` (business rules), `sse` (streams and limits),
//! `seed` (startup seeding), `app` (composition and serving).

mod app;
pub mod auth;
pub mod config;
pub mod dormancy;
pub mod error;
pub mod fabric;
mod front;
pub mod grpc;
pub mod http;
mod idle;
pub mod openapi;
mod platform;
pub mod seed;
pub mod services;
pub mod split;
pub mod sse;
pub mod state;

pub use app::{ServerApp, ServerAppBuilder, migrate_database};
pub use config::ServerConfig;
pub use platform::oss_platform_definition;
