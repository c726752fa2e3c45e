//! An open span with its start time, and the helpers that turn event fields into attributes
//! and event timestamps into span times.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use everruns_core::domain::TokenUsage;
use everruns_core::time::Timestamp;
use opentelemetry::trace::{Span as _, SpanBuilder, SpanKind, Status, TraceContextExt, Tracer as _};
use opentelemetry::{Context, KeyValue};
use opentelemetry_sdk::trace::{SdkTracer, Span};

use crate::attributes as key;

/// The span time of an event timestamp (millisecond precision, as stored).
pub(super) fn time_of(ts: Timestamp) -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(u64::try_from(ts.millis()).unwrap_or(0))
}

/// `at` moved back by `ms` (for spans whose start the closing event reports as a duration).
pub(super) fn minus_ms(at: SystemTime, ms: Option<u64>) -> SystemTime {
    ms.and_then(|ms| at.checked_sub(Duration::from_millis(ms))).unwrap_or(at)
}

/// An integer attribute (saturating at `i64::MAX`).
pub(super) fn int(name: &'static str, value: u64) -> KeyValue {
    KeyValue::new(name, i64::try_from(value).unwrap_or(i64::MAX))
}

/// The `gen_ai.usage.*` attributes; the cache counts only where `with_cache`.
pub(super) fn usage_attributes(usage: &TokenUsage, with_cache: bool) -> Vec<KeyValue> {
    let mut out =
        vec![int(key::USAGE_INPUT_TOKENS, usage.input_tokens), int(key::USAGE_OUTPUT_TOKENS, usage.output_tokens)];
    if with_cache {
        out.extend(usage.cache_read_tokens.map(|n| int(key::USAGE_CACHE_READ_TOKENS, n)));
        out.extend(usage.cache_creation_tokens.map(|n| int(key::USAGE_CACHE_CREATION_TOKENS, n)));
    }
    out
}

/// Adds `other` to an optional running total.
pub(super) fn add_usage(total: &mut Option<TokenUsage>, other: Option<&TokenUsage>) {
    if let Some(other) = other {
        total.get_or_insert_with(TokenUsage::default).add(other);
    }
}

/// What a new span needs besides its parent.
pub(super) struct SpanStart {
    /// Span name.
    pub name: String,
    /// `gen_ai.operation.name`.
    pub operation: &'static str,
    /// Span kind.
    pub kind: SpanKind,
    /// Start time.
    pub at: SystemTime,
    /// Further attributes.
    pub attributes: Vec<KeyValue>,
}

/// A started, not yet ended span.
pub(super) struct OpenSpan {
    span: Span,
    start: SystemTime,
}

impl OpenSpan {
    /// Starts a span under `parent` with the attributes every span carries.
    pub(super) fn start(tracer: &SdkTracer, parent: &Context, conversation_id: &str, start: SpanStart) -> Self {
        let mut attributes = Vec::with_capacity(start.attributes.len() + 2);
        attributes.push(KeyValue::new(key::OPERATION_NAME, start.operation));
        attributes.push(KeyValue::new(key::CONVERSATION_ID, conversation_id.to_owned()));
        attributes.extend(start.attributes);
        let builder = SpanBuilder::from_name(start.name)
            .with_kind(start.kind)
            .with_start_time(start.at)
            .with_attributes(attributes);
        Self { span: tracer.build_with_context(builder, parent), start: start.at }
    }

    /// A context whose active span is this one, to start children under.
    pub(super) fn context(&self) -> Context {
        Context::new().with_remote_span_context(self.span.span_context().clone())
    }

    /// When the span started.
    pub(super) fn started_at(&self) -> SystemTime {
        self.start
    }

    /// Sets attributes.
    pub(super) fn set(&mut self, attributes: impl IntoIterator<Item = KeyValue>) {
        self.span.set_attributes(attributes);
    }

    /// Marks the span failed: `error.type` and status ERROR with the description.
    pub(super) fn fail(&mut self, error_type: &str, description: &str) {
        self.span.set_attribute(KeyValue::new(key::ERROR_TYPE, error_type.to_owned()));
        self.span.set_status(Status::error(description.to_owned()));
    }

    /// Ends the span at `at` (never before its start), recording its length as `duration_ms`.
    pub(super) fn end(mut self, at: SystemTime) {
        let at = at.max(self.start);
        let ms = at.duration_since(self.start).unwrap_or_default().as_millis();
        self.span.set_attribute(int(key::DURATION_MS, u64::try_from(ms).unwrap_or(u64::MAX)));
        self.span.end_with_timestamp(at);
    }
}
