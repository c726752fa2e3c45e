//! # everruns-toolbox
//!
//! The agent's built-in toolbox, by the contract's capability ids: `session_file_system` (the
//! session's files under `/workspace`), `session_storage` (`kv_store`, `secret_store`),
//! `stateless_todo_list` (`write_todos`) and the dev-grade `test_weather`, added to a registry by
//! [`register_own`] (`everruns-platform` adds `virtual_bash` and `web_fetch` from their crates). Every tool works through
//! the session workspace port, so it is durable and behaves the same in-process and in a remote
//! worker. Bad arguments are tool errors the model reads, never failed turns.

mod args;
pub mod files;
pub mod storage;
pub mod todos;
pub mod weather;

use everruns_core::CapabilityRegistry;

pub use files::FileSystemCapability;
pub use storage::SessionStorageCapability;
pub use todos::TodoListCapability;
pub use weather::TestWeatherCapability;

/// Registers the toolbox's own capabilities (those of this crate).
pub fn register_own(registry: &mut CapabilityRegistry) {
    registry.register(FileSystemCapability);
    registry.register(SessionStorageCapability);
    registry.register(TodoListCapability);
    registry.register(TestWeatherCapability);
}
