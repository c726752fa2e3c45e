//! # everruns-services
//!
//! The application services of the control plane, on the core's ports: the business rules of
//! agents, harnesses, providers and models, organization settings, sessions and API keys, startup seeding, and the
//! configuration every process reads once ([`ServerConfig::from_env`]). They answer
//! [`ServiceError`], which each transport maps once (HTTP in `everruns-http`, gRPC in
//! `everruns-grpc`). Nothing here names a transport or a storage technology; [`App`] carries the
//! ports a service works with.
//!
//! Also here because both transports need them: [`dormancy`] (an instance that lets its
//! database sleep) and [`idle`] (connections that end when silent).

pub mod agents;
mod app;
pub mod auth;
pub mod config;
pub mod dormancy;
mod error;
pub mod harnesses;
pub mod idle;
mod input;
pub mod models;
pub mod oauth;
pub mod seed;
pub mod sessions;
pub mod settings;
pub mod validate;

pub use app::App;
pub use config::ServerConfig;
pub use error::{ServiceError, ServiceResult};
pub use input::{is_name, page_bounds, validate_name};
