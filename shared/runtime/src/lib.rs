//! # everruns-runtime
//!
//! Runs Everruns harnesses entirely inside the embedding process: no PostgreSQL, no control
//! plane, no worker boundary. Storage defaults to the in-memory adapters and every store (and the
//! event bus) can be replaced through [`RuntimeBackends`]. The runtime uses the same turn services
//! and engine as the durable deployment, so behaviour stays aligned.
//!
//! - [`InProcessRuntimeBuilder`] composes a [`PlatformDefinition`], the llmsim driver, a default
//!   model, capabilities, backends, and an initial harness and session;
//! - [`InProcessRuntime`] sends messages and runs turns to completion, inspects the merged turn
//!   context with [`InProcessRuntime::load_context`] and exposes emitted events.

mod backends;
mod builder;
mod runtime;

pub use backends::{
    EventBus, RuntimeAgentStore, RuntimeBackends, RuntimeFileStore, RuntimeHarnessStore, RuntimeMessageStore,
    RuntimeProviderStore, RuntimeSessionStore,
};
pub use builder::InProcessRuntimeBuilder;
pub use everruns_core::PlatformDefinition;
pub use runtime::{InProcessRuntime, RuntimeError, TurnReport};
