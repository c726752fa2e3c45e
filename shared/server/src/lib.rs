//! # everruns-server
//!
//! The face of the control plane that embedders and the binaries use: [`ServerConfig`] (read once
//! from the environment), [`ServerAppBuilder`] and the stock platform preset
//! ([`oss_platform_definition`]). Below it: `everruns-services` (the application services on the
//! core's ports), `everruns-http` (the REST router, SSE and the connection front) and
//! `everruns-grpc` (the worker gRPC adapter).
//!
//! Layout: `app` (the builder and the served application), `compose` (one composing function per
//! [`DeploymentKind`]), `delivery` (the container deployment's task delivery), `fabric` (NATS or
//! local delivery of live events and wake-ups), `observe` (observers on the bus), `split` (the
//! serverless split's SQS side). `delivery` and `fabric` belong to the long-lived kinds (the
//! `long-lived` feature, on by default; the API function's build turns it off).

mod app;
pub mod compose;
mod database;
#[cfg(feature = "long-lived")]
pub mod delivery;
#[cfg(feature = "long-lived")]
pub mod fabric;
mod observe;
mod platform;
pub mod split;

pub use app::{ServerApp, ServerAppBuilder, shutdown_signal};
pub use compose::DeploymentKind;
pub use database::migrate_database;
pub use everruns_http::state;
pub use everruns_services::config;
pub use everruns_services::{ServerConfig, seed};
pub use platform::oss_platform_definition;
