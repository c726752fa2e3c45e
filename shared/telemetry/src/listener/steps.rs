//! The step spans of a turn, event by event: `reason` (with `thinking` and `chat {model}` under
//! it) and `act` (with one `execute_tool {name}` per call). Times come from the events.

use std::time::SystemTime;

use everruns_core::events::*;
use opentelemetry::trace::SpanKind;
use opentelemetry::{Array, Context, KeyValue, StringValue, Value};

use super::content;
use super::span::{OpenSpan, SpanStart, add_usage, int, minus_ms, usage_attributes};
use super::turn::{ReasonStep, Recorder, TurnTrace};
use crate::attributes::{self as key, op};

/// Longest `error.type` kept, in characters.
const MAX_ERROR_TYPE_CHARS: usize = 256;

fn short(text: &str) -> String {
    text.chars().take(MAX_ERROR_TYPE_CHARS).collect()
}

fn step(name: String, operation: &'static str, kind: SpanKind, at: SystemTime, attributes: Vec<KeyValue>) -> SpanStart {
    SpanStart { name, operation, kind, at, attributes }
}

impl TurnTrace {
    /// Applies an event of this turn that neither starts nor ends it.
    pub(super) fn apply(&mut self, rec: &Recorder<'_>, event: &Event, at: SystemTime) {
        match &event.payload {
            EventPayload::ReasonStarted(d) => self.reason_started(rec, d, at),
            EventPayload::ReasonThinkingStarted(d) => self.thinking_started(rec, d, at),
            EventPayload::ReasonThinkingCompleted(d) => self.thinking_completed(rec, d, at),
            EventPayload::LlmGeneration(d) => self.generation(rec, d, at),
            EventPayload::ReasonCompleted(d) => self.reason_completed(d, at),
            EventPayload::ActStarted(_) => self.act_started(rec, at),
            EventPayload::ToolStarted(d) => self.tool_started(rec, d, at),
            EventPayload::ToolCompleted(d) => self.tool_completed(rec, d, at),
            EventPayload::ActCompleted(_) => self.act_completed(at),
            _ => {}
        }
    }

    fn root_context(&mut self, rec: &Recorder<'_>) -> Context {
        self.root(rec).context()
    }

    fn reason_context(&mut self, rec: &Recorder<'_>) -> (Context, SystemTime) {
        match &self.reason {
            Some(step) => (step.span.context(), step.span.started_at()),
            None => (self.root_context(rec), self.root_started_at()),
        }
    }

    fn reason_started(&mut self, rec: &Recorder<'_>, data: &ReasonStartedData, at: SystemTime) {
        self.close_thinking(at);
        self.close_reason(at);
        if let Some(act) = self.act.take() {
            act.end(at);
        }
        self.iterations += 1;
        if let Some(model) = &data.metadata {
            self.requested_model = Some(model.model.clone());
        }
        if let Some(agent_id) = data.agent_id {
            self.root(rec).set([KeyValue::new(key::AGENT_ID, agent_id.to_string())]);
        }
        let start = step(op::REASON.into(), op::REASON, SpanKind::Internal, at, Vec::new());
        let parent = self.root_context(rec);
        let span = self.open(rec, &parent, start);
        self.reason = Some(ReasonStep { span, chats: 0, usage: None, closing: None });
    }

    fn thinking_started(&mut self, rec: &Recorder<'_>, data: &ReasonThinkingStartedData, at: SystemTime) {
        if self.thinking.is_some() {
            return;
        }
        let model = data.model.clone().or_else(|| self.requested_model.clone());
        let attributes = model.map(|m| KeyValue::new(key::REQUEST_MODEL, m)).into_iter().collect();
        let start = step(op::THINKING.into(), op::THINKING, SpanKind::Internal, at, attributes);
        let parent = self.reason_context(rec).0;
        self.thinking = Some(self.open(rec, &parent, start));
    }

    fn thinking_completed(&mut self, rec: &Recorder<'_>, data: &ReasonThinkingCompletedData, at: SystemTime) {
        if let Some(span) = self.thinking.as_mut()
            && rec.capture
        {
            span.set([KeyValue::new(key::THINKING_CONTENT, content::bounded(data.thinking.clone()))]);
        }
        self.close_thinking(at);
    }

    fn generation(&mut self, rec: &Recorder<'_>, data: &LlmGenerationData, at: SystemTime) {
        self.close_thinking(at);
        let meta = &data.metadata;
        let (parent, parent_start) = self.reason_context(rec);
        let mut attributes = vec![
            KeyValue::new(key::REQUEST_MODEL, self.requested_model.clone().unwrap_or_else(|| meta.model.clone())),
            KeyValue::new(key::RESPONSE_MODEL, meta.model.clone()),
        ];
        if let Some(provider) = &meta.provider {
            attributes.push(KeyValue::new(key::SYSTEM, provider.clone()));
            attributes.push(KeyValue::new(key::PROVIDER_NAME, provider.clone()));
        }
        attributes.extend(meta.response_id.clone().map(|id| KeyValue::new(key::RESPONSE_ID, id)));
        if let Some(reasons) = &meta.finish_reasons {
            let values = reasons.iter().cloned().map(StringValue::from).collect();
            attributes.push(KeyValue::new(key::FINISH_REASONS, Value::Array(Array::String(values))));
        }
        if let Some(usage) = &meta.usage {
            attributes.extend(usage_attributes(usage, true));
        }
        let output_type = if data.output.tool_calls.is_empty() { "text" } else { "tool_calls" };
        attributes.push(KeyValue::new(key::OUTPUT_TYPE, output_type));
        attributes.extend(meta.time_to_first_token_ms.map(|ms| int(key::TIME_TO_FIRST_TOKEN_MS, ms)));
        if rec.capture {
            if !data.messages.is_empty() {
                attributes.push(KeyValue::new(key::INPUT_MESSAGES, content::input_messages(data.messages.iter())));
            }
            if meta.success {
                let finish = meta.finish_reasons.as_ref().and_then(|r| r.first()).map(String::as_str);
                attributes.push(KeyValue::new(key::OUTPUT_MESSAGES, content::output_messages(&data.output, finish)));
            }
        }
        let name = if meta.model.is_empty() { op::CHAT.to_owned() } else { format!("{} {}", op::CHAT, meta.model) };
        let started = minus_ms(at, meta.duration_ms).max(parent_start);
        let mut span = self.open(rec, &parent, step(name, op::CHAT, SpanKind::Client, started, attributes));
        if !meta.success {
            let error = meta.error.as_deref().unwrap_or("llm call failed");
            span.fail(&short(error), &content::bounded(error.to_owned()));
        }
        span.end(at);
        add_usage(&mut self.usage, meta.usage.as_ref());
        if let Some(step) = self.reason.as_mut() {
            step.chats += 1;
            add_usage(&mut step.usage, meta.usage.as_ref());
            if let Some(closing) = step.closing {
                step.closing = Some(closing.max(at));
                self.close_reason(at);
            }
        }
    }

    fn reason_completed(&mut self, data: &ReasonCompletedData, at: SystemTime) {
        self.close_thinking(at);
        let Some(step) = self.reason.as_mut() else { return };
        if let Some(usage) = data.usage.or(step.usage) {
            step.span.set(usage_attributes(&usage, false));
        }
        if !data.success {
            let error = data.error.as_deref().unwrap_or("reason step failed");
            step.span.fail(&short(error), &content::bounded(error.to_owned()));
        }
        step.closing = Some(at);
        if step.chats > 0 {
            self.close_reason(at);
        }
    }

    fn act_started(&mut self, rec: &Recorder<'_>, at: SystemTime) {
        self.close_thinking(at);
        self.close_reason(at);
        if let Some(act) = self.act.take() {
            act.end(at);
        }
        let start = step(op::ACT.into(), op::ACT, SpanKind::Internal, at, Vec::new());
        let parent = self.root_context(rec);
        self.act = Some(self.open(rec, &parent, start));
    }

    fn tool_span(
        &mut self,
        rec: &Recorder<'_>,
        id: &str,
        name: &str,
        at: SystemTime,
        mut attributes: Vec<KeyValue>,
    ) -> OpenSpan {
        let (parent, parent_start) = match &self.act {
            Some(act) => (act.context(), act.started_at()),
            None => (self.root_context(rec), self.root_started_at()),
        };
        attributes.push(KeyValue::new(key::TOOL_NAME, name.to_owned()));
        attributes.push(KeyValue::new(key::TOOL_CALL_ID, id.to_owned()));
        let span_name =
            if name.is_empty() { op::EXECUTE_TOOL.to_owned() } else { format!("{} {name}", op::EXECUTE_TOOL) };
        self.open(rec, &parent, step(span_name, op::EXECUTE_TOOL, SpanKind::Internal, at.max(parent_start), attributes))
    }

    fn tool_started(&mut self, rec: &Recorder<'_>, data: &ToolStartedData, at: SystemTime) {
        let call = &data.tool_call;
        let mut attributes = Vec::new();
        if rec.capture {
            attributes.push(KeyValue::new(key::TOOL_CALL_ARGUMENTS, content::bounded(call.arguments.to_string())));
        }
        let span = self.tool_span(rec, &call.id, &call.name, at, attributes);
        if let Some(previous) = self.tools.insert(call.id.clone(), span) {
            previous.end(at);
        }
    }

    /// Ends the call's span; a result without a `tool.started` (client-side tools) gets a span
    /// reaching back over its reported duration.
    fn tool_completed(&mut self, rec: &Recorder<'_>, data: &ToolCompletedData, at: SystemTime) {
        let mut span = match self.tools.remove(&data.tool_call_id) {
            Some(span) => span,
            None => {
                self.tool_span(rec, &data.tool_call_id, &data.tool_name, minus_ms(at, data.duration_ms), Vec::new())
            }
        };
        span.set([KeyValue::new(key::TOOL_SUCCESS, data.success)]);
        if rec.capture
            && let Some(result) = content::tool_result(data)
        {
            span.set([KeyValue::new(key::TOOL_CALL_RESULT, result)]);
        }
        if !data.success {
            let error = data.error.as_deref().unwrap_or(&data.status);
            span.fail(&short(error), &content::bounded(error.to_owned()));
        }
        span.end(at);
    }

    fn act_completed(&mut self, at: SystemTime) {
        for (_, tool) in self.tools.drain() {
            tool.end(at);
        }
        if let Some(act) = self.act.take() {
            act.end(at);
        }
    }
}
