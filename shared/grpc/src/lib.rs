//! # everruns-grpc
//!
//! The control plane's worker gRPC adapter, hosted on `WORKER_GRPC_ADDR`: task claims,
//! heartbeats, completion and failure, tasks handed to workers with room as they are committed, the turn context in one call, event emission, and push
//! wake-ups, the turn watch (cancel and steering pushed to a running worker), and the tools' session workspace. Bearer-token auth (`WORKER_GRPC_AUTH_TOKEN`) and optional (mutual) TLS.

mod auth;
mod handoff;
mod serve;
mod service;
mod watch;
mod workspace;

pub use auth::BearerAuth;
pub use handoff::{Handed, MAX_CAPACITY, WorkerSlots};
pub use serve::{GrpcSettings, serve_grpc};
pub use service::WorkerGrpcService;
