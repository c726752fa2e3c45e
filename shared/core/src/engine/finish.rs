//! How a turn ends: completed, completed at the iteration cap, failed (friendly message first),
//! or cancelled. Each path ends the turn on the session and emits `session.idled`.

use super::reason::{ReasonOutput, preview};
use super::{EngineError, IterationOutcome, IterationRun, TurnEnd};
use crate::domain::{ContentPart, Message, MessagePhase, MessageRole, TokenUsage};
use crate::driver::DriverError;
use crate::events::*;
use crate::time::Timestamp;

/// The widest error disclosure of this deployment: raw driver text (`detailed`) may name internal
/// hosts and upstream bodies, so it is never shown unless a layer above the request allows it.
pub const DISCLOSURE_CEILING: &str = "standard";

/// The disclosure modes, narrowest first.
pub const DISCLOSURE_MODES: [&str; 3] = ["generic", "standard", "detailed"];

/// `ceiling`, or the requested mode when it is narrower: a request can only narrow.
pub fn narrowed(ceiling: &'static str, requested: Option<&str>) -> &'static str {
    let rank = |mode: &str| DISCLOSURE_MODES.iter().position(|m| *m == mode);
    match (requested.and_then(|r| rank(r).map(|i| (i, DISCLOSURE_MODES[i]))), rank(ceiling)) {
        (Some((asked, mode)), Some(limit)) if asked < limit => mode,
        _ => ceiling,
    }
}

/// The agent message shown when a turn is cancelled.
pub const CANCELLED_MESSAGE: &str = "Work was cancelled by user.";

/// The agent message that ends a cancelled turn (`output.message.completed`, stored under
/// `{turn}/output.message.cancelled`).
pub fn cancellation_message() -> EventPayload {
    let mut message = Message::new(MessageRole::Agent, vec![ContentPart::text(CANCELLED_MESSAGE)]);
    message.phase = Some(MessagePhase::FinalAnswer);
    EventPayload::OutputMessageCompleted(OutputMessageCompletedData {
        message,
        metadata: None,
        usage: None,
        error_code: None,
        error_fields: None,
        error_disclosure: None,
    })
}

impl IterationRun<'_> {
    pub(super) async fn finish_completed(&self, output: &ReasonOutput) -> Result<IterationOutcome, EngineError> {
        let text = output.message.text();
        let usage = self.turn_usage(output.usage);
        self.emit_keyed(
            self.turn_key("turn.completed"),
            EventPayload::TurnCompleted(TurnCompletedData {
                turn_id: self.task.turn_id,
                iterations: self.task.iteration,
                duration_ms: self.turn_duration_ms(),
                usage: Some(usage),
                final_message_id: Some(output.message.id),
                final_answer_preview: (!text.is_empty()).then(|| preview(&text, 200)),
                time_to_first_token_ms: None,
                tool_call_count: Some(self.tool_call_count()),
                llm_call_count: Some(self.task.iteration),
                status: Some("completed".into()),
            }),
        )
        .await?;
        self.end(self.task.iteration, usage, (!text.is_empty()).then(|| preview(&text, 200))).await?;
        Ok(IterationOutcome::Completed)
    }

    pub(super) async fn finish_at_cap(&self) -> Result<IterationOutcome, EngineError> {
        let iterations = self.context.runtime_agent.max_iterations;
        let usage = self.turn_usage(None);
        self.emit_keyed(
            self.turn_key("turn.completed"),
            EventPayload::TurnCompleted(TurnCompletedData {
                turn_id: self.task.turn_id,
                iterations,
                duration_ms: self.turn_duration_ms(),
                usage: Some(usage),
                tool_call_count: Some(self.tool_call_count()),
                llm_call_count: Some(iterations),
                status: Some("max_iterations".into()),
                ..TurnCompletedData::default()
            }),
        )
        .await?;
        self.end(iterations, usage, None).await?;
        Ok(IterationOutcome::Completed)
    }

    pub(super) async fn finish_failed(&self, error: &DriverError) -> Result<IterationOutcome, EngineError> {
        tracing::warn!(turn = %self.task.turn_id, kind = ?error.kind, "LLM call failed: {}", error.message);
        let model = self.context.model.as_ref().map(|m| m.model.clone()).unwrap_or_default();
        self.emit_keyed(
            self.step_key("reason.completed"),
            EventPayload::ReasonCompleted(ReasonCompletedData {
                success: false,
                has_tool_calls: false,
                tool_call_count: 0,
                text_preview: None,
                error: Some(error.message.clone()),
                duration_ms: None,
                usage: None,
            }),
        )
        .await?;
        self.emit_keyed(
            self.step_key("llm.generation"),
            EventPayload::LlmGeneration(LlmGenerationData {
                messages: SentMessages::default(),
                output: GenerationOutput::default(),
                tools: None,
                metadata: GenerationMetadata {
                    model: model.clone(),
                    success: false,
                    provider: self.context.model.as_ref().map(|m| m.provider_type.to_string()),
                    error: Some(error.message.clone()),
                    ..GenerationMetadata::default()
                },
            }),
        )
        .await?;
        let disclosure = self.disclosure();
        let (code, text) = match disclosure {
            "generic" => ("processing_error", crate::driver::GENERIC_ERROR_MESSAGE),
            _ => (error.error_code(), error.friendly_message()),
        };
        let mut fields = serde_json::Map::new();
        if disclosure == "detailed" {
            fields.insert("detail".into(), serde_json::Value::String(preview(&error.message, 500)));
        }
        let error_fields = (!fields.is_empty()).then_some(fields);
        let mut message = Message::new(MessageRole::Agent, vec![ContentPart::text(text)]);
        message.phase = Some(MessagePhase::FinalAnswer);
        message.metadata = Some(serde_json::json!({ "error_code": code, "error_fields": error_fields }));
        self.emit_keyed(
            self.step_key("output.message.error"),
            EventPayload::OutputMessageCompleted(OutputMessageCompletedData {
                message,
                metadata: Some(ModelRef { model, model_id: None, provider_id: None }),
                usage: None,
                error_code: Some(code.into()),
                error_fields: error_fields.clone(),
                error_disclosure: Some(disclosure.into()),
            }),
        )
        .await?;
        self.emit_keyed(
            self.turn_key("turn.failed"),
            EventPayload::TurnFailed(TurnFailedData {
                turn_id: self.task.turn_id,
                error: text.into(),
                error_code: Some(code.into()),
                error_fields,
                error_disclosure: Some(disclosure.into()),
            }),
        )
        .await?;
        self.end(self.task.iteration, self.turn_usage(None), Some(preview(text, 200))).await?;
        Ok(IterationOutcome::Failed)
    }

    pub(super) async fn finish_cancelled(&self) -> Result<IterationOutcome, EngineError> {
        self.emit_keyed(self.turn_key(CANCELLATION_MESSAGE_STEP), cancellation_message()).await?;
        self.end(self.task.iteration, self.turn_usage(None), Some(CANCELLED_MESSAGE.into())).await?;
        Ok(IterationOutcome::Cancelled)
    }

    /// `session.idled`, then the session back to idle (the host does both).
    async fn end(&self, iterations: u32, usage: TokenUsage, output_preview: Option<String>) -> Result<(), EngineError> {
        let end = TurnEnd {
            session: self.task.session_id,
            turn: self.task.turn_id,
            input_message_id: self.task.input_message_id,
            iterations,
            usage,
            output_preview,
        };
        self.host.end_turn(end).await?;
        Ok(())
    }

    /// Usage of every saved model output of the turn, plus the current one if not yet saved.
    fn turn_usage(&self, current: Option<TokenUsage>) -> TokenUsage {
        let current_key = self.step_key("output.message.completed");
        let mut total = TokenUsage::default();
        for event in self.turn_events {
            if let EventPayload::OutputMessageCompleted(data) = &event.payload
                && event.idempotency_key.as_deref() != Some(current_key.as_str())
                && let Some(usage) = &data.usage
            {
                total.add(usage);
            }
        }
        if let Some(usage) = &current {
            total.add(usage);
        }
        total
    }

    fn tool_call_count(&self) -> u32 {
        self.turn_events.iter().filter(|e| matches!(e.payload, EventPayload::ToolCompleted(_))).count() as u32
    }

    fn turn_duration_ms(&self) -> Option<u64> {
        self.turn_events.iter().find(|e| matches!(e.payload, EventPayload::TurnStarted(_))).map(|e| {
            let now = Timestamp::now().millis();
            u64::try_from(now - e.ts.millis()).unwrap_or(0)
        })
    }

    /// The error disclosure mode: the deployment's ceiling (`standard`; no layer here raises it),
    /// narrowed — never raised — by the message's `controls.error_disclosure`.
    fn disclosure(&self) -> &'static str {
        let requested = self
            .context
            .messages
            .iter()
            .rev()
            .find(|m| m.role == MessageRole::User)
            .and_then(|m| m.controls.as_ref())
            .and_then(|c| c.error_disclosure.as_deref());
        narrowed(DISCLOSURE_CEILING, requested)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_can_only_narrow_the_disclosure() {
        assert_eq!(narrowed("standard", None), "standard");
        assert_eq!(narrowed("standard", Some("generic")), "generic");
        assert_eq!(narrowed("standard", Some("detailed")), "standard", "never raised by a request");
        assert_eq!(narrowed("standard", Some("everything")), "standard");
        assert_eq!(narrowed("detailed", Some("standard")), "standard");
        assert_eq!(narrowed("generic", Some("detailed")), "generic");
    }
}
