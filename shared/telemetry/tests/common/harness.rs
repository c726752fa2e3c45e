//! A listener wired to a real OTLP/gRPC exporter pointed at a local receiver.

use std::sync::Arc;

use everruns_core::events::Event;
use everruns_core::ports::EventEmitter;
use everruns_telemetry::opentelemetry::trace::TracerProvider as _;
use everruns_telemetry::opentelemetry_sdk::trace::SdkTracerProvider;
use everruns_telemetry::{ListenerOptions, OtelEventListener, TRACER_NAME, TelemetryConfig, build_tracer_provider};

use super::{Received, Receiver};

pub struct Harness {
    pub receiver: Receiver,
    pub provider: SdkTracerProvider,
    pub listener: OtelEventListener,
}

pub async fn harness(options: ListenerOptions) -> Harness {
    let receiver = Receiver::start().await;
    let config = TelemetryConfig::new("everruns-test")
        .with_environment("test")
        .with_endpoint(receiver.endpoint())
        .unwrap_or_else(|e| panic!("{e}"));
    let provider = build_tracer_provider(&config).ok().flatten().unwrap_or_else(|| panic!("no provider"));
    let listener = OtelEventListener::spawn(provider.tracer(TRACER_NAME), options).unwrap_or_else(|e| panic!("{e}"));
    Harness { receiver, provider, listener }
}

impl Harness {
    /// Emits the events, waits for the listener, flushes the exporter, returns what arrived.
    pub async fn export(&self, events: Vec<Arc<Event>>) -> Vec<Received> {
        for event in events {
            self.listener.emit(event);
        }
        self.listener.flush().await.unwrap_or_else(|e| panic!("{e}"));
        force_flush(&self.provider).await;
        self.receiver.spans()
    }
}

/// Flushes the exporter from a blocking thread (it blocks until the batch is sent).
pub async fn force_flush(provider: &SdkTracerProvider) {
    let provider = provider.clone();
    let flushed = tokio::task::spawn_blocking(move || provider.force_flush()).await;
    assert!(matches!(flushed, Ok(Ok(()))), "flush: {flushed:?}");
}
