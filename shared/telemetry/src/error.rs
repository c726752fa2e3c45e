//! The errors of this crate: configuration, exporter and subscriber setup, flush and shutdown.

use opentelemetry_sdk::error::OTelSdkError;

/// An `OTEL_*` variable holds a value that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// The OTLP endpoint is not an `http://` or `https://` URL with a host.
    #[error("{variable}: invalid OTLP endpoint '{value}': {reason}")]
    InvalidEndpoint {
        /// The variable that held it.
        variable: &'static str,
        /// The rejected value (first 200 characters).
        value: String,
        /// What is wrong with it.
        reason: String,
    },
}

/// Telemetry could not be set up, flushed or shut down.
#[derive(Debug, thiserror::Error)]
pub enum TelemetryError {
    /// The configuration is invalid.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The OTLP/gRPC exporter could not be built.
    #[error("OTLP exporter: {0}")]
    Exporter(#[from] opentelemetry_otlp::ExporterBuildError),
    /// The exporter and the event listener need a Tokio runtime, and none is running.
    #[error("telemetry must be set up inside a Tokio runtime: {0}")]
    NoRuntime(String),
    /// A global `tracing` subscriber is already installed.
    #[error("cannot install the tracing subscriber: {0}")]
    Subscriber(String),
    /// Flushing the exporter failed.
    #[error("flushing spans failed: {0}")]
    Flush(OTelSdkError),
    /// Shutting the tracer provider down failed.
    #[error("shutting the tracer provider down failed: {0}")]
    Shutdown(OTelSdkError),
    /// The event listener's task has stopped.
    #[error("the telemetry event listener has stopped")]
    ListenerClosed,
}
