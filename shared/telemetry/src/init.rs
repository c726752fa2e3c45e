//! Process set-up: the `tracing` subscriber (console logging filtered by `RUST_LOG`) and, when an
//! endpoint is configured, the OTLP/gRPC batch exporter, the global tracer provider and the W3C
//! propagator. The returned [`TelemetryGuard`] flushes and shuts the exporter down.
//!
//! The exporter's gRPC channel lives on the Tokio runtime: call [`init`] inside one, and call
//! [`TelemetryGuard::force_flush`] / [`TelemetryGuard::shutdown`] from a multi-thread runtime
//! (or `spawn_blocking`), as they block until the batch is sent.

use opentelemetry::KeyValue;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::{SpanExporter, WithExportConfig};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::{SdkTracer, SdkTracerProvider};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, fmt};

use crate::config::TelemetryConfig;
use crate::error::TelemetryError;
use crate::listener::{ListenerOptions, OtelEventListener};

/// The instrumentation scope of every span this crate makes.
pub const TRACER_NAME: &str = "everruns";
/// The log filter used when `RUST_LOG` is unset or invalid.
pub const DEFAULT_FILTER: &str = "info";

/// `service.name`, `service.version` and (when set) `deployment.environment`.
pub fn resource(config: &TelemetryConfig) -> Resource {
    let mut attributes = vec![KeyValue::new("service.version", config.service_version.clone())];
    if let Some(environment) = &config.environment {
        attributes.push(KeyValue::new("deployment.environment", environment.clone()));
        attributes.push(KeyValue::new("deployment.environment.name", environment.clone()));
    }
    Resource::builder().with_service_name(config.service_name.clone()).with_attributes(attributes).build()
}

/// The tracer provider exporting to the configured endpoint in batches; `None` without one.
/// Must run inside a Tokio runtime.
pub fn build_tracer_provider(config: &TelemetryConfig) -> Result<Option<SdkTracerProvider>, TelemetryError> {
    let Some(endpoint) = &config.otlp_endpoint else { return Ok(None) };
    tokio::runtime::Handle::try_current().map_err(|e| TelemetryError::NoRuntime(e.to_string()))?;
    let exporter = SpanExporter::builder().with_tonic().with_endpoint(endpoint.clone()).build()?;
    let builder = SdkTracerProvider::builder().with_batch_exporter(exporter).with_resource(resource(config));
    let builder = match config.aws_xray {
        true => builder.with_id_generator(opentelemetry_aws::trace::XrayIdGenerator::default()),
        false => builder,
    };
    Ok(Some(builder.build()))
}

/// Installs logging and, with an endpoint, span export. Fails if a global subscriber exists.
pub fn init(config: &TelemetryConfig) -> Result<TelemetryGuard, TelemetryError> {
    let guard = TelemetryGuard {
        provider: build_tracer_provider(config)?,
        capture_content: config.capture_content,
        shut_down: false,
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(DEFAULT_FILTER));
    let otel = guard.tracer().map(|tracer| tracing_opentelemetry::layer().with_tracer(tracer));
    // On Lambda: no colours, no timestamps (CloudWatch adds them).
    let plain = config.aws_xray.then(|| fmt::layer().with_ansi(false).without_time());
    let rich = (!config.aws_xray).then(fmt::layer);
    tracing_subscriber::registry()
        .with(filter)
        .with(plain)
        .with(rich)
        .with(otel)
        .try_init()
        .map_err(|e| TelemetryError::Subscriber(e.to_string()))?;
    if let Some(provider) = &guard.provider {
        opentelemetry::global::set_tracer_provider(provider.clone());
        if config.aws_xray {
            opentelemetry::global::set_text_map_propagator(
                opentelemetry::propagation::TextMapCompositePropagator::new(vec![
                    Box::new(TraceContextPropagator::new()),
                    Box::new(opentelemetry_aws::trace::XrayPropagator::default()),
                ]),
            );
        } else {
            opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
        }
    }
    Ok(guard)
}

/// Owns the exporter: flushes and shuts it down on [`shutdown`](Self::shutdown) or drop.
#[derive(Debug)]
pub struct TelemetryGuard {
    provider: Option<SdkTracerProvider>,
    capture_content: bool,
    shut_down: bool,
}

impl TelemetryGuard {
    /// A guard over an existing provider (`None`: console only), e.g. one built with
    /// [`build_tracer_provider`] by a process that installs its own subscriber.
    pub fn from_provider(provider: Option<SdkTracerProvider>, capture_content: bool) -> Self {
        Self { provider, capture_content, shut_down: false }
    }

    /// Whether spans are exported.
    pub fn is_exporting(&self) -> bool {
        self.provider.is_some()
    }

    /// The tracer provider, when exporting.
    pub fn tracer_provider(&self) -> Option<&SdkTracerProvider> {
        self.provider.as_ref()
    }

    /// The `everruns` tracer, when exporting.
    pub fn tracer(&self) -> Option<SdkTracer> {
        self.provider.as_ref().map(|p| p.tracer(TRACER_NAME))
    }

    /// The Gen-AI event listener (content capture as configured), when exporting.
    pub fn event_listener(&self) -> Result<Option<OtelEventListener>, TelemetryError> {
        let options = ListenerOptions { capture_content: self.capture_content, ..ListenerOptions::default() };
        self.event_listener_with(options)
    }

    /// The Gen-AI event listener with explicit options, when exporting.
    pub fn event_listener_with(&self, options: ListenerOptions) -> Result<Option<OtelEventListener>, TelemetryError> {
        self.tracer().map(|tracer| OtelEventListener::spawn(tracer, options)).transpose()
    }

    /// Sends every ended span now (Lambda: before the invocation returns). Blocks.
    pub fn force_flush(&self) -> Result<(), TelemetryError> {
        match &self.provider {
            Some(provider) => provider.force_flush().map_err(TelemetryError::Flush),
            None => Ok(()),
        }
    }

    /// Flushes and stops the exporter. Blocks.
    pub fn shutdown(mut self) -> Result<(), TelemetryError> {
        self.shut_down = true;
        match &self.provider {
            Some(provider) => provider.shutdown().map_err(TelemetryError::Shutdown),
            None => Ok(()),
        }
    }
}

impl Drop for TelemetryGuard {
    fn drop(&mut self) {
        if self.shut_down {
            return;
        }
        if let Some(provider) = &self.provider
            && let Err(error) = provider.shutdown()
        {
            eprintln!("telemetry shutdown failed: {error}");
        }
    }
}
