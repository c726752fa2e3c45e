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

/// The largest message either side sends or accepts (tonic's default is 4 MiB). A turn context
/// carries the session's whole history, which outgrows 4 MiB after a few hundred turns.
pub const MAX_MESSAGE_BYTES: usize = 64 * 1024 * 1024;
