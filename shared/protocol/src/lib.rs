//! # everruns-internal-protocol
//!
//! The worker ⇄ control-plane gRPC service (`everruns.worker.v1.WorkerService`), generated from
//! `proto/everruns/worker/v1/worker.proto`. Domain values travel as JSON strings in the same serde
//! shapes as the REST API; conversions live with the client (worker) and the service (server).

/// Generated types and the client/server of `everruns.worker.v1`.
#[allow(missing_docs, clippy::all, clippy::pedantic)]
pub mod v1 {
    tonic::include_proto!("everruns.worker.v1");
}

pub mod wire;
