//! # everruns-worker
//!
//! The durable worker: it holds no database credentials and no encryption key. It claims
//! iteration tasks from the control plane over gRPC (bearer token, optional mTLS), loads the turn
//! context in one call, runs the iteration with the core engine — the same engine DEV_MODE runs
//! in-process — while a heartbeat keeps its lease and relays cancellation, and completes or fails
//! the task.
//!
//! - [`DurableWorkerConfig::from_env`]: the worker's environment;
//! - [`WorkerAppBuilder`]: the long-running poller (push wake-ups, polling fallback);
//! - [`TaskRunner`]: one task, usable by other hosts (the SQS Lambda handler);
//! - [`KnownConversations`]: what the worker keeps of each session's conversation, so a context
//!   carries only the messages it does not hold.

mod app;
pub mod client;
mod coalesce;
mod config;
pub mod host;
pub mod known;
mod runner;
pub mod workspace;

pub use app::WorkerAppBuilder;
pub use config::DurableWorkerConfig;
pub use known::KnownConversations;
pub use runner::{AbortOnDrop, RunResult, TaskRunner};
