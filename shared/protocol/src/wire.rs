//! Conversions between domain values and the JSON the service carries. Fields the REST shapes
//! leave out but the worker needs (an event's idempotency key, a model's decrypted key) travel in
//! the wrappers defined here.

use everruns_core::context::TurnInputs;
use everruns_core::domain::{Agent, Controls, Harness, Message, Session, TokenUsage};
use everruns_core::driver_registry::ProviderMetadata;
use everruns_core::events::Event;
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

/// Turn inputs → the context response.
pub fn context_response(inputs: &TurnInputs) -> v1::GetTurnContextResponse {
    let turn_events: Vec<KeyedEvent> = inputs.turn_events.iter().map(KeyedEvent::of).collect();
    v1::GetTurnContextResponse {
        session_json: to_json(&inputs.session),
        harness_chain_json: to_json(&inputs.harness_chain),
        agent_json: inputs.agent.as_ref().map(to_json).unwrap_or_default(),
        history_json: to_json(&inputs.history),
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
    }
}

/// The context response → turn inputs.
pub fn parse_context(response: &v1::GetTurnContextResponse) -> Result<TurnInputs, WireError> {
    let session: Session = from_json("session", &response.session_json)?;
    let harness_chain: Vec<Harness> = from_json("harness chain", &response.harness_chain_json)?;
    let agent: Option<Agent> = optional(&response.agent_json).map(|j| from_json("agent", j)).transpose()?;
    let history: Vec<Message> = from_json("history", &response.history_json)?;
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
