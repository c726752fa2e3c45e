//! OpenTelemetry for Everruns.
//!
//! - [`TelemetryConfig`] reads the `OTEL_*` variables (endpoint, service name/version,
//!   environment, content capture).
//! - [`init`] installs console logging (`RUST_LOG`) and, with an endpoint, OTLP/gRPC span export;
//!   the [`TelemetryGuard`] flushes and shuts it down.
//! - [`OtelEventListener`] is an `EventEmitter` that builds the Gen-AI span tree of every turn
//!   from the platform's events: `invoke_agent {turn_id}` → `reason` (→ `thinking`, `chat {model}`)
//!   and `act` → `execute_tool {name}`. See [`attributes`] for the keys it records.
//! - [`propagation`] carries a trace across processes as W3C `traceparent`.

pub mod attributes;
mod config;
mod error;
mod init;
mod listener;
pub mod propagation;
#[cfg(feature = "testing")]
pub mod testing;

pub use config::{
    CAPTURE_CONTENT_VAR, ENDPOINT_VAR, ENVIRONMENT_VAR, RECORD_CONTENT_VAR, SERVICE_NAME_VAR, SERVICE_VERSION_VAR,
    TelemetryConfig,
};
pub use error::{ConfigError, TelemetryError};
pub use init::{DEFAULT_FILTER, TRACER_NAME, TelemetryGuard, build_tracer_provider, init, resource};
pub use listener::{ListenerOptions, OtelEventListener};
/// The OpenTelemetry API this crate is built on (for `Context` and span types).
pub use opentelemetry;
/// The OpenTelemetry SDK this crate is built on (for `SdkTracer` / `SdkTracerProvider`).
pub use opentelemetry_sdk;
