//! Real platform events for a turn, at chosen offsets from a fixed base time.

use std::sync::Arc;

use everruns_core::domain::{ContentPart, Message, MessageRole, TokenUsage};
use everruns_core::driver::ToolCall;
use everruns_core::events::*;
use everruns_core::ids::{AgentId, EventId, HarnessId, MessageId, SessionId, TurnId};
use everruns_core::time::Timestamp;
use serde_json::json;

/// 2025-06-15T14:40:00Z, in milliseconds.
pub const BASE_MS: i64 = 1_750_000_000_000;

/// The events of one turn of one session.
pub struct Script {
    pub session: SessionId,
    pub turn: TurnId,
    pub input: MessageId,
    pub agent: AgentId,
    events: Vec<Arc<Event>>,
}

impl Script {
    pub fn new() -> Self {
        Self {
            session: SessionId::new(),
            turn: TurnId::new(),
            input: MessageId::new(),
            agent: AgentId::new(),
            events: Vec::new(),
        }
    }

    /// Adds an event `offset` ms after [`BASE_MS`].
    pub fn at(&mut self, offset: i64, payload: EventPayload) -> &mut Self {
        let sequence = Some(self.events.len() as i64 + 1);
        self.events.push(Arc::new(Event {
            id: EventId::new(),
            ts: Timestamp::from_millis(BASE_MS + offset),
            session_id: self.session,
            context: EventContext::for_turn(self.turn, Some(self.input)),
            payload,
            sequence,
            metadata: None,
            tags: Vec::new(),
            idempotency_key: None,
        }));
        self
    }

    pub fn events(&self) -> Vec<Arc<Event>> {
        self.events.clone()
    }

    pub fn turn_started(&self) -> EventPayload {
        EventPayload::TurnStarted(TurnStartedData {
            turn_id: self.turn,
            input_message_id: self.input,
            input_content: Some(vec![ContentPart::text("What's the weather in Paris, and what time is it?")]),
        })
    }

    pub fn reason_started(&self, model: &str) -> EventPayload {
        EventPayload::ReasonStarted(ReasonStartedData {
            harness_id: HarnessId::new(),
            agent_id: Some(self.agent),
            metadata: Some(ModelRef { model: model.into(), model_id: None, provider_id: None }),
        })
    }

    pub fn output_started(&self, iteration: u32) -> EventPayload {
        EventPayload::OutputMessageStarted(OutputMessageStartedData {
            turn_id: self.turn,
            message_id: Some(MessageId::new()),
            model: Some("gpt-4o".into()),
            iteration: Some(iteration),
            phase: None,
        })
    }

    pub fn thinking_started(&self) -> EventPayload {
        EventPayload::ReasonThinkingStarted(ReasonThinkingStartedData {
            turn_id: self.turn,
            model: Some("gpt-4o".into()),
        })
    }

    pub fn thinking_delta(&self) -> EventPayload {
        EventPayload::ReasonThinkingDelta(ReasonThinkingDeltaData {
            turn_id: self.turn,
            delta: "Let me".into(),
            accumulated: "Let me".into(),
        })
    }

    pub fn thinking_completed(&self) -> EventPayload {
        EventPayload::ReasonThinkingCompleted(ReasonThinkingCompletedData {
            turn_id: self.turn,
            thinking: "Let me check the weather tool and the clock.".into(),
        })
    }

    pub fn output_completed(&self, text: &str) -> EventPayload {
        EventPayload::OutputMessageCompleted(OutputMessageCompletedData {
            message: Message::new(MessageRole::Agent, vec![ContentPart::text(text)]),
            metadata: None,
            usage: None,
            error_code: None,
            error_fields: None,
            error_disclosure: None,
        })
    }

    pub fn turn_completed(&self, iterations: u32, usage: TokenUsage) -> EventPayload {
        EventPayload::TurnCompleted(TurnCompletedData {
            turn_id: self.turn,
            iterations,
            duration_ms: Some(1600),
            usage: Some(usage),
            status: Some("completed".into()),
            ..TurnCompletedData::default()
        })
    }

    pub fn session_idled(&self) -> EventPayload {
        EventPayload::SessionIdled(SessionIdledData { turn_id: self.turn, iterations: Some(2), usage: None })
    }
}

pub fn usage(input: u64, output: u64, cache_read: Option<u64>, cache_creation: Option<u64>) -> TokenUsage {
    TokenUsage {
        input_tokens: input,
        output_tokens: output,
        cache_read_tokens: cache_read,
        cache_creation_tokens: cache_creation,
    }
}

pub fn call(id: &str, name: &str) -> ToolCall {
    ToolCall { id: id.into(), name: name.into(), arguments: json!({ "city": "Paris" }) }
}

/// A successful generation.
pub fn generation(
    usage: TokenUsage,
    duration_ms: u64,
    finish: &str,
    text: Option<&str>,
    calls: Vec<ToolCall>,
) -> EventPayload {
    EventPayload::LlmGeneration(LlmGenerationData {
        messages: vec![
            Message::new(MessageRole::System, vec![ContentPart::text("You are a helpful agent.")]),
            Message::user_text("What's the weather in Paris, and what time is it?"),
        ]
        .into(),
        output: GenerationOutput { text: text.map(str::to_owned), tool_calls: calls },
        tools: None,
        metadata: GenerationMetadata {
            model: "gpt-4o-2024-08-06".into(),
            success: true,
            provider: Some("openai".into()),
            usage: Some(usage),
            duration_ms: Some(duration_ms),
            time_to_first_token_ms: Some(150),
            error: None,
            finish_reasons: Some(vec![finish.into()]),
            response_id: Some(format!("resp_{duration_ms}")),
        },
    })
}

pub fn reason_completed(success: bool, calls: u32, usage: Option<TokenUsage>, error: Option<&str>) -> EventPayload {
    EventPayload::ReasonCompleted(ReasonCompletedData {
        success,
        has_tool_calls: calls > 0,
        tool_call_count: calls,
        text_preview: None,
        error: error.map(str::to_owned),
        duration_ms: Some(480),
        usage,
    })
}

pub fn act_started(calls: &[ToolCall]) -> EventPayload {
    EventPayload::ActStarted(ActStartedData {
        tool_calls: calls
            .iter()
            .map(|c| ToolCallSummary { id: c.id.clone(), name: c.name.clone(), display_name: None, narration: None })
            .collect(),
        headline: None,
    })
}

pub fn act_completed(success: u32, errors: u32) -> EventPayload {
    EventPayload::ActCompleted(ActCompletedData {
        completed: true,
        success_count: success,
        error_count: errors,
        duration_ms: Some(190),
        headline: None,
    })
}

pub fn tool_started(call: ToolCall) -> EventPayload {
    EventPayload::ToolStarted(ToolStartedData { tool_call: call, display_name: None, narration: None })
}

pub fn tool_completed(id: &str, name: &str, result: Result<&str, &str>, duration_ms: u64) -> EventPayload {
    let success = result.is_ok();
    EventPayload::ToolCompleted(ToolCompletedData {
        tool_call_id: id.into(),
        tool_name: name.into(),
        success,
        status: if success { "success" } else { "error" }.into(),
        result: result.ok().map(|r| vec![ContentPart::text(r)]),
        error: result.err().map(str::to_owned),
        duration_ms: Some(duration_ms),
        capability_id: None,
    })
}
