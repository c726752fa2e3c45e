//! Test helpers: a driver that counts its calls, a scripted driver, an event store that fails on
//! demand (to simulate a crash mid-iteration), and a runtime builder preset.
#![allow(dead_code, clippy::unwrap_used)]

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use everruns_core::driver::{ChatChunk, ChatDriver, ChatFinish, ChatRequest, ChatStream, DriverError, ToolCall};
use everruns_core::events::{Event, NewEvent};
use everruns_core::ids::{EventId, SessionId};
use everruns_core::llmsim_driver::{LlmSimConfig, LlmSimDriver};
use everruns_core::ports::{EventFilter, EventStore, PortError, PortResult};
use everruns_core::{CapabilityRegistry, DriverId, DriverRegistry, PlatformDefinition, ResolvedModel};
use everruns_runtime::{InProcessRuntime, InProcessRuntimeBuilder, RuntimeBackends};
use everruns_store_memory::MemoryEventStore;

/// Counts driver calls (`chat_stream` invocations) across every driver built by a registry.
#[derive(Clone, Default)]
pub struct CallCounter(Arc<AtomicUsize>);

impl CallCounter {
    pub fn get(&self) -> usize {
        self.0.load(Ordering::SeqCst)
    }
}

struct Counting<D> {
    inner: D,
    calls: CallCounter,
}

#[async_trait::async_trait]
impl<D: ChatDriver> ChatDriver for Counting<D> {
    async fn chat_stream(&self, request: ChatRequest) -> Result<ChatStream, DriverError> {
        self.calls.0.fetch_add(1, Ordering::SeqCst);
        self.inner.chat_stream(request).await
    }
}

/// A model that always calls `tool` (never answers in text).
pub struct AlwaysToolDriver {
    pub tool: String,
}

#[async_trait::async_trait]
impl ChatDriver for AlwaysToolDriver {
    async fn chat_stream(&self, _request: ChatRequest) -> Result<ChatStream, DriverError> {
        let call = ToolCall {
            id: format!("call_{}", uuid_hex()),
            name: self.tool.clone(),
            arguments: serde_json::json!({"timezone": "UTC"}),
        };
        let chunks = vec![Ok(ChatChunk::ToolCall(call)), Ok(ChatChunk::Finished(ChatFinish::default()))];
        Ok(Box::pin(futures::stream::iter(chunks)))
    }
}

fn uuid_hex() -> String {
    everruns_core::ids::TaskId::new().to_string()[5..].to_owned()
}

/// The llmsim model every test uses.
pub fn llmsim_model() -> ResolvedModel {
    ResolvedModel {
        model: "llmsim-model".into(),
        provider_type: DriverId::LlmSim,
        api_key: None,
        base_url: None,
        provider_metadata: None,
    }
}

/// A platform with the built-in capabilities and llmsim serving `config` through a call counter.
pub fn platform_with(config: LlmSimConfig, calls: &CallCounter) -> PlatformDefinition {
    let mut drivers = DriverRegistry::new();
    let calls = calls.clone();
    drivers.register(DriverId::LlmSim, move |c| {
        Box::new(Counting { inner: LlmSimDriver::new(config.clone(), c.model.clone()), calls: calls.clone() })
    });
    PlatformDefinition::new(CapabilityRegistry::with_builtins(), drivers)
}

/// A platform whose model always calls `tool`.
pub fn platform_always_tool(tool: &str, calls: &CallCounter) -> PlatformDefinition {
    let mut drivers = DriverRegistry::new();
    let calls = calls.clone();
    let tool = tool.to_owned();
    drivers.register(DriverId::LlmSim, move |_| {
        Box::new(Counting { inner: AlwaysToolDriver { tool: tool.clone() }, calls: calls.clone() })
    });
    PlatformDefinition::new(CapabilityRegistry::with_builtins(), drivers)
}

/// A runtime over `platform` with the llmsim default model and no delta batching delay.
pub async fn runtime(platform: PlatformDefinition, backends: RuntimeBackends) -> InProcessRuntime {
    InProcessRuntimeBuilder::new()
        .platform_definition(platform)
        .default_model(llmsim_model())
        .backends(backends)
        .build()
        .await
        .unwrap()
}

/// An event store that fails, once, the first append of a given type — a crash at that point.
#[derive(Clone)]
pub struct CrashingEventStore {
    inner: MemoryEventStore,
    crash_on: Arc<Mutex<HashMap<String, bool>>>,
}

impl CrashingEventStore {
    pub fn new(inner: MemoryEventStore) -> Self {
        Self { inner, crash_on: Arc::default() }
    }

    /// Makes the next append of `event_type` fail.
    pub fn crash_next(&self, event_type: &str) {
        self.crash_on.lock().unwrap().insert(event_type.to_owned(), true);
    }
}

#[async_trait::async_trait]
impl EventStore for CrashingEventStore {
    async fn append(&self, event: NewEvent) -> PortResult<Event> {
        let armed = self.crash_on.lock().unwrap().remove(event.event.event_type()).unwrap_or(false);
        if armed {
            return Err(PortError::Unavailable(format!("simulated crash before {}", event.event.event_type())));
        }
        self.inner.append(event).await
    }

    async fn list_events(&self, session: SessionId, filter: &EventFilter) -> PortResult<Vec<Event>> {
        self.inner.list_events(session, filter).await
    }

    async fn get_event(&self, session: SessionId, id: EventId) -> PortResult<Option<Event>> {
        self.inner.get_event(session, id).await
    }

    async fn get_by_key(&self, session: SessionId, key: &str) -> PortResult<Option<Event>> {
        self.inner.get_by_key(session, key).await
    }

    async fn turn_stage(
        &self,
        session: SessionId,
        turn: everruns_core::ids::TurnId,
    ) -> PortResult<everruns_core::events::TurnStage> {
        self.inner.turn_stage(session, turn).await
    }
}

/// The types of a list of events, in order.
pub fn types(events: &[Event]) -> Vec<&'static str> {
    events.iter().map(Event::event_type).collect()
}

/// How many events of a type.
pub fn count(events: &[Event], event_type: &str) -> usize {
    events.iter().filter(|e| e.event_type() == event_type).count()
}
