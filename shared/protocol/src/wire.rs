//! Conversions between domain values and the JSON the service carries. Fields the REST shapes
//! leave out but the worker needs (an event's idempotency key, a model's decrypted key) travel in
//! the wrappers defined here.

use everruns_core::context::TurnInputs;
use everruns_core::domain::{Agent, Controls, Conversation, Harness, Session, TokenUsage};
use everruns_core::driver_registry::ProviderMetadata;
use everruns_core::events::{Event, EventPayload, LlmGenerationData, SentMessages};
use everruns_core::ports::IterationTask;
use everruns_core::{DriverId, ResolvedModel};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::v1;

/// A malformed payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WireError(pub String);

impl std::fmt::Display for WireError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "malformed payload: {}", self.0)
    }
}

impl std::error::Error for WireError {}

/// Serializes a value (domain types always serialize).
pub fn to_json<T: Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_default()
}

/// Parses a value.
pub fn from_json<T: DeserializeOwned>(what: &str, json: &str) -> Result<T, WireError> {
    serde_json::from_str(json).map_err(|e| WireError(format!("{what}: {e}")))
}

/// A task on the wire.
pub fn task(task: &IterationTask) -> v1::Task {
    v1::Task { task_json: to_json(task) }
}

/// A task from the wire.
pub fn parse_task(task: Option<&v1::Task>) -> Result<IterationTask, WireError> {
    from_json("task", &task.ok_or_else(|| WireError("task missing".into()))?.task_json)
}

/// An event with the idempotency key it was stored under.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct KeyedEvent {
    /// The event.
    pub event: Event,
    /// Its key.
    pub key: Option<String>,
}

impl KeyedEvent {
    /// Wraps an event, keeping its key.
    pub fn of(event: &Event) -> Self {
        Self { event: event.clone(), key: event.idempotency_key.clone() }
    }

    /// The event with its key restored.
    pub fn into_event(self) -> Event {
        let mut event = self.event;
        event.idempotency_key = self.key;
        event
    }
}

/// A resolved model on the wire (the key included: the worker needs it to call the provider).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ModelWire {
    /// Wire model id.
    pub model: String,
    /// Driver.
    pub provider_type: DriverId,
    /// Decrypted key.
    pub api_key: Option<String>,
    /// Endpoint override.
    pub base_url: Option<String>,
    /// Non-key auth material.
    pub provider_metadata: Option<ProviderMetadata>,
}

/// The most conversation JSON one part of a streamed context carries (a single larger message
/// goes alone).
pub const CONTEXT_PART_BYTES: usize = 1024 * 1024;

/// How many leading messages of `history` a context may leave out for a worker that holds the
/// first `known_messages` messages of the session's fold through `known_through` (a request's
/// fields): all of them when `history` is a fold through that sequence or a later one — the
/// session's events are append-only, so that fold's stable messages begin this one — capped by
/// what `history` itself calls stable; none otherwise.
pub fn known_offset(known_through: i64, known_messages: u64, history: &Conversation) -> usize {
    match history.through() {
        Some(through) if known_through > 0 && known_through <= through => {
            usize::try_from(known_messages).unwrap_or(usize::MAX).min(history.stable())
        }
        _ => 0,
    }
}

/// Turn inputs → the context in parts ([`CONTEXT_PART_BYTES`] of conversation each), the
/// conversation from message `from` on: the first part has every field, the later ones the next
/// messages only. [`join_context`] undoes it.
pub fn context_parts(inputs: &TurnInputs, from: usize) -> Vec<v1::GetTurnContextResponse> {
    let mut slices: Vec<String> = Vec::new();
    let mut current: Vec<&str> = Vec::new();
    let mut size = 0;
    let from = from.min(inputs.history.len());
    for json in inputs.history.messages_json().skip(from) {
        // A message always serializes; were one not to, the worker's read would refuse the null.
        let json = json.unwrap_or("null");
        if size + json.len() > CONTEXT_PART_BYTES && !current.is_empty() {
            slices.push(format!("[{}]", current.join(",")));
            current.clear();
            size = 0;
        }
        size += json.len() + 1;
        current.push(json);
    }
    slices.push(format!("[{}]", current.join(",")));
    let mut parts = Vec::with_capacity(slices.len());
    let mut slices = slices.into_iter();
    let mut first = context_fields(inputs);
    first.history_json = slices.next().unwrap_or_else(|| "[]".into());
    first.history_offset = from as u64;
    parts.push(first);
    parts.extend(slices.map(|history_json| v1::GetTurnContextResponse { history_json, ..Default::default() }));
    parts
}

/// Parts of a streamed context → one response (the conversation slices concatenated in order).
pub fn join_context(parts: Vec<v1::GetTurnContextResponse>) -> Result<v1::GetTurnContextResponse, WireError> {
    let mut parts = parts.into_iter();
    let Some(mut joined) = parts.next() else { return Err(WireError("context: no part".into())) };
    for part in parts {
        let (Some(head), Some(tail)) = (joined.history_json.strip_suffix(']'), part.history_json.strip_prefix('['))
        else {
            return Err(WireError("context: a history slice is not a JSON array".into()));
        };
        let mut history = String::with_capacity(head.len() + tail.len() + 1);
        history.push_str(head);
        if !head.ends_with('[') && !tail.starts_with(']') {
            history.push(',');
        }
        history.push_str(tail);
        joined.history_json = history;
    }
    Ok(joined)
}

/// Turn inputs → the context response, the conversation from message `from` on.
pub fn context_response(inputs: &TurnInputs, from: usize) -> v1::GetTurnContextResponse {
    let from = from.min(inputs.history.len());
    let history_json = to_json(&inputs.history.skip(from));
    v1::GetTurnContextResponse { history_json, history_offset: from as u64, ..context_fields(inputs) }
}

/// Every field of the context response but the conversation.
fn context_fields(inputs: &TurnInputs) -> v1::GetTurnContextResponse {
    // What was sent to the model is never read back by the engine: without it the turn's events
    // stay small however long the conversation and however many iterations the turn has had.
    let turn_events: Vec<KeyedEvent> = inputs
        .turn_events
        .iter()
        .map(|event| match &event.payload {
            EventPayload::LlmGeneration(data) => KeyedEvent::of(&Event {
                id: event.id,
                ts: event.ts,
                session_id: event.session_id,
                context: event.context.clone(),
                payload: EventPayload::LlmGeneration(LlmGenerationData {
                    messages: SentMessages::default(),
                    output: data.output.clone(),
                    tools: data.tools.clone(),
                    metadata: data.metadata.clone(),
                }),
                sequence: event.sequence,
                metadata: event.metadata.clone(),
                tags: event.tags.clone(),
                idempotency_key: event.idempotency_key.clone(),
            }),
            _ => KeyedEvent::of(event),
        })
        .collect();
    v1::GetTurnContextResponse {
        session_json: to_json(&inputs.session),
        harness_chain_json: to_json(&inputs.harness_chain),
        agent_json: inputs.agent.as_ref().map(to_json).unwrap_or_default(),
        history_json: String::new(),
        history_through: inputs.history.through().unwrap_or(0),
        turn_events_json: to_json(&turn_events),
        controls_json: inputs.controls.as_ref().map(to_json).unwrap_or_default(),
        model_json: inputs
            .model
            .as_ref()
            .map(|m| {
                to_json(&ModelWire {
                    model: m.model.clone(),
                    provider_type: m.provider_type.clone(),
                    api_key: m.api_key.clone(),
                    base_url: m.base_url.clone(),
                    provider_metadata: m.provider_metadata.clone(),
                })
            })
            .unwrap_or_default(),
        last_part: false,
        signal: None,
        conversation_by_reference: true,
        history_offset: 0,
        history_stable: inputs.history.stable() as u64,
    }
}

/// The context response → turn inputs. `known` is the conversation the request said it holds:
/// the response's first `history_offset` messages are taken from it.
pub fn parse_context(response: &v1::GetTurnContextResponse, known: &Conversation) -> Result<TurnInputs, WireError> {
    let session: Session = from_json("session", &response.session_json)?;
    let harness_chain: Vec<Harness> = from_json("harness chain", &response.harness_chain_json)?;
    let agent: Option<Agent> = optional(&response.agent_json).map(|j| from_json("agent", j)).transpose()?;
    let mut history =
        Conversation::from_json(&response.history_json).map_err(|e| WireError(format!("history: {e}")))?;
    let offset = usize::try_from(response.history_offset).unwrap_or(usize::MAX);
    if offset > 0 {
        if offset > known.len() {
            return Err(WireError(format!(
                "history: begins at message {offset}, past the {} the request held",
                known.len()
            )));
        }
        history = known.spliced(offset, &history);
    }
    let stable = usize::try_from(response.history_stable).unwrap_or(usize::MAX);
    let history = history.folded_through(response.history_through).with_stable(stable);
    let turn_events: Vec<KeyedEvent> = from_json("turn events", &response.turn_events_json)?;
    let controls: Option<Controls> = optional(&response.controls_json).map(|j| from_json("controls", j)).transpose()?;
    let model: Option<ModelWire> = optional(&response.model_json).map(|j| from_json("model", j)).transpose()?;
    Ok(TurnInputs {
        harness_chain,
        agent,
        session,
        history,
        turn_events: turn_events.into_iter().map(KeyedEvent::into_event).collect(),
        controls,
        model: model.map(|m| ResolvedModel {
            model: m.model,
            provider_type: m.provider_type,
            api_key: m.api_key,
            base_url: m.base_url,
            provider_metadata: m.provider_metadata,
        }),
    })
}

fn optional(json: &str) -> Option<&str> {
    (!json.is_empty()).then_some(json)
}

/// Usage to the wire.
pub fn usage(usage: &TokenUsage) -> String {
    to_json(usage)
}

/// A workspace file on the wire.
pub fn file(file: &everruns_core::ports::SessionFile) -> v1::WorkspaceFile {
    v1::WorkspaceFile {
        path: file.path.clone(),
        content: file.content.clone(),
        is_readonly: file.is_readonly,
        updated_at_ms: file.updated_at.millis(),
    }
}

/// A workspace file from the wire.
pub fn parse_file(file: v1::WorkspaceFile) -> everruns_core::ports::SessionFile {
    everruns_core::ports::SessionFile {
        path: file.path,
        content: file.content,
        is_readonly: file.is_readonly,
        updated_at: everruns_core::time::Timestamp::from_millis(file.updated_at_ms),
    }
}

/// The value space a flag names.
pub fn space(secret: bool) -> everruns_core::ports::ValueSpace {
    if secret { everruns_core::ports::ValueSpace::Secrets } else { everruns_core::ports::ValueSpace::Values }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use everruns_core::domain::{Harness, Message, Session};
    use everruns_core::events::{
        EventContext, EventPayload, GenerationMetadata, GenerationOutput, LlmGenerationData, NewEvent,
    };
    use everruns_core::ids::{OrgId, TurnId};

    use super::*;

    fn inputs(history: Vec<Message>) -> TurnInputs {
        let harness = Harness::new("h", None);
        let session = Session::new(OrgId::DEFAULT, harness.id);
        TurnInputs {
            harness_chain: vec![harness],
            agent: None,
            session,
            history: history.into(),
            turn_events: Vec::new(),
            controls: None,
            model: None,
        }
    }

    #[test]
    fn a_long_conversation_streams_in_bounded_parts_and_joins_back() {
        // ~6 MiB of conversation, one message larger than a part on its own.
        let mut history: Vec<Message> =
            (0..3000).map(|i| Message::user_text(format!("{i} {}", "x".repeat(2000)))).collect();
        history.insert(1500, Message::user_text("y".repeat(CONTEXT_PART_BYTES + 10)));
        let mut inputs = inputs(history.clone());
        inputs.history = inputs.history.folded_through(9001);
        let parts = context_parts(&inputs, 0);
        assert!(parts.len() >= 6, "{} parts", parts.len());
        for part in &parts {
            let (bytes, messages) =
                (part.history_json.len(), from_json::<Vec<Message>>("part", &part.history_json).unwrap().len());
            assert!(
                bytes <= CONTEXT_PART_BYTES + 2 || messages == 1,
                "a part of {bytes} bytes and {messages} messages"
            );
        }
        assert!(parts[1..].iter().all(|p| p.session_json.is_empty()), "only the first part has the other fields");
        let joined = parse_context(&join_context(parts).unwrap(), &Conversation::default()).unwrap();
        assert_eq!(joined.history.to_vec(), history);
        assert_eq!(joined.history.through(), Some(9001), "the fold's sequence crosses with it");
        assert_eq!(joined.session, inputs.session);
    }

    #[test]
    fn an_empty_or_short_conversation_is_one_part() {
        for history in [Vec::new(), vec![Message::user_text("hi")]] {
            let parts = context_parts(&inputs(history.clone()), 0);
            assert_eq!(parts.len(), 1);
            let joined = parse_context(&join_context(parts).unwrap(), &Conversation::default()).unwrap();
            assert_eq!(joined.history.to_vec(), history);
            assert_eq!(joined.history.through(), None, "a list that is not a fold says so");
        }
        assert!(join_context(Vec::new()).is_err(), "no part is an error, not an empty context");
    }

    #[test]
    fn a_worker_that_holds_the_stable_messages_is_sent_the_rest() {
        let texts: Vec<Message> = (0..6).map(|i| Message::user_text(format!("m{i}"))).collect();
        // The worker's earlier context: the fold through 10, its first 3 messages stable.
        let mut earlier = inputs(texts[..4].to_vec());
        earlier.history = earlier.history.folded_through(10).with_stable(3);
        let first = parse_context(&context_response(&earlier, 0), &Conversation::default()).unwrap();
        assert_eq!((first.history.through(), first.history.stable()), (Some(10), 3));
        let held = first.history.take(first.history.stable());

        // Now the fold through 14 (its last message changed since: only the stable part is held).
        let mut now = inputs(texts.clone());
        now.history = now.history.folded_through(14).with_stable(5);
        let from = known_offset(10, held.len() as u64, &now.history);
        assert_eq!(from, 3);
        for response in [context_response(&now, from), join_context(context_parts(&now, from)).unwrap()] {
            assert_eq!(response.history_offset, 3);
            assert_eq!(from_json::<Vec<Message>>("rest", &response.history_json).unwrap(), texts[3..].to_vec());
            let parsed = parse_context(&response, &held).unwrap();
            assert_eq!(parsed.history.to_vec(), texts);
            assert_eq!((parsed.history.through(), parsed.history.stable()), (Some(14), 5));
            // Holding fewer than the offset is an error, never a shorter conversation.
            let error = parse_context(&response, &held.take(2)).unwrap_err();
            assert!(error.0.contains("past the 2"), "{error}");
        }

        // Nothing is left out for a fold the worker has not seen yet, a list that is no fold, or
        // a request that names none; and never more than the fold calls stable.
        assert_eq!(known_offset(15, 3, &now.history), 0);
        assert_eq!(known_offset(10, 3, &inputs(texts.clone()).history), 0);
        assert_eq!(known_offset(0, 3, &now.history), 0);
        assert_eq!(known_offset(10, 99, &now.history), 5);
    }

    #[test]
    fn the_turns_generations_travel_without_their_messages() {
        let mut inputs = inputs(vec![Message::user_text("hi")]);
        let turn = TurnId::new();
        let generation = LlmGenerationData {
            messages: vec![Message::user_text("a long conversation")].into(),
            output: GenerationOutput { text: Some("answer".into()), ..GenerationOutput::default() },
            tools: None,
            metadata: GenerationMetadata { model: "m".into(), success: true, ..GenerationMetadata::default() },
        };
        let event = NewEvent::new(
            inputs.session.id,
            EventContext::for_turn(turn, None),
            EventPayload::LlmGeneration(generation),
        )
        .with_key("k/llm.generation")
        .event;
        inputs.turn_events = vec![event];
        let parsed = parse_context(&context_response(&inputs, 0), &Conversation::default()).unwrap();
        let EventPayload::LlmGeneration(data) = &parsed.turn_events[0].payload else { panic!("kept its type") };
        assert!(data.messages.is_empty());
        assert_eq!(data.output.text.as_deref(), Some("answer"));
        assert_eq!(parsed.turn_events[0].idempotency_key.as_deref(), Some("k/llm.generation"));
    }
}
