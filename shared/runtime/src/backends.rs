//! Pluggable storage for the runtime. Defaults are the in-memory adapters; each `with_*` swaps one.

use std::sync::Arc;

use everruns_core::ports::Stores;
pub use everruns_core::ports::{
    AgentStore as RuntimeAgentStore, EventBus, EventStore as RuntimeMessageStore, FileStore as RuntimeFileStore,
    HarnessStore as RuntimeHarnessStore, ProviderStore as RuntimeProviderStore, SessionStore as RuntimeSessionStore,
};
use everruns_store_memory::{MemoryEventBus, memory_stores};

/// The stores and event bus a runtime uses.
///
/// The message store is the session event log: messages are rebuilt from its events.
#[derive(Clone)]
pub struct RuntimeBackends {
    pub(crate) stores: Stores,
    pub(crate) bus: Arc<dyn EventBus>,
}

impl RuntimeBackends {
    /// In-memory stores and an in-memory bus that retains emitted events for
    /// [`crate::InProcessRuntime::events`].
    pub fn in_memory() -> Self {
        Self { stores: memory_stores(), bus: Arc::new(MemoryEventBus::collecting()) }
    }

    /// Replaces the harness store.
    pub fn with_harness_store(mut self, store: impl RuntimeHarnessStore + 'static) -> Self {
        self.stores.harnesses = Arc::new(store);
        self
    }

    /// Replaces the agent store.
    pub fn with_agent_store(mut self, store: impl RuntimeAgentStore + 'static) -> Self {
        self.stores.agents = Arc::new(store);
        self
    }

    /// Replaces the session store.
    pub fn with_session_store(mut self, store: impl RuntimeSessionStore + 'static) -> Self {
        self.stores.sessions = Arc::new(store);
        self
    }

    /// Replaces the message store (the session event log).
    pub fn with_message_store(mut self, store: impl RuntimeMessageStore + 'static) -> Self {
        self.stores.events = Arc::new(store);
        self
    }

    /// Replaces the file store.
    pub fn with_file_store(mut self, store: impl RuntimeFileStore + 'static) -> Self {
        self.stores.files = Arc::new(store);
        self
    }

    /// Replaces the provider store.
    pub fn with_provider_store(mut self, store: impl RuntimeProviderStore + 'static) -> Self {
        self.stores.providers = Arc::new(store);
        self
    }

    /// Replaces the event bus.
    pub fn with_event_bus(mut self, bus: impl EventBus + 'static) -> Self {
        self.bus = Arc::new(bus);
        self
    }
}

impl Default for RuntimeBackends {
    fn default() -> Self {
        Self::in_memory()
    }
}
