//! The component schemas and parameters of the OpenAPI document: the wire shapes of the REST
//! surface, declared as Rust types so utoipa derives their schemas. The domain types live in
//! `everruns-core`, which names no technology; these mirror what the handlers send and accept.
//!
//! Conventions: in a response schema a field with `#[serde(default)]` may be absent but is never
//! null, and an `Option<T>` field is one the server sends as null. In a request schema every
//! `Option<T>` field may be omitted or null. Nothing here is constructed: the types exist for
//! their derived schemas only.
#![allow(dead_code)]

pub mod agents;
pub mod auth;
pub mod common;
pub mod harnesses;
pub mod models;
pub mod params;
pub mod sessions;
