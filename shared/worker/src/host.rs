//! `GrpcIterationHost`: the engine's effects sent to the control plane.

use everruns_core::domain::TokenUsage;
use everruns_core::engine::IterationHost;
use everruns_core::events::{Event, NewEvent};
use everruns_core::ids::{OrgId, SessionId, TurnId};
use everruns_core::ports::{PortError, PortResult};
use everruns_internal_protocol::v1::{EmitEventRequest, EndTurnRequest, TurnRef};
use everruns_internal_protocol::wire::{self, KeyedEvent};

use crate::client::WorkerClient;

/// Maps a gRPC failure to a port error (retryable unless the request was refused).
pub fn status(status: tonic::Status) -> PortError {
    match status.code() {
        tonic::Code::NotFound => PortError::NotFound { kind: "row", id: status.message().to_owned() },
        tonic::Code::InvalidArgument => PortError::Invalid(status.message().to_owned()),
        tonic::Code::FailedPrecondition => PortError::Conflict(status.message().to_owned()),
        tonic::Code::Internal => PortError::Internal(status.message().to_owned()),
        _ => PortError::Unavailable(format!("control plane: {}", status.message())),
    }
}

/// The host of one task's iteration.
#[derive(Clone)]
pub struct GrpcIterationHost {
    client: WorkerClient,
    org: OrgId,
}

impl GrpcIterationHost {
    /// A host acting for `org`.
    pub fn new(client: WorkerClient, org: OrgId) -> Self {
        Self { client, org }
    }

    fn turn(&self, session: SessionId, turn: TurnId) -> TurnRef {
        TurnRef { org_id: self.org.to_string(), session_id: session.to_string(), turn_id: turn.to_string() }
    }
}

#[async_trait::async_trait]
impl IterationHost for GrpcIterationHost {
    async fn emit(&self, event: NewEvent) -> PortResult<Option<Event>> {
        let request = EmitEventRequest {
            event_json: wire::to_json(&event.event),
            idempotency_key: event.idempotency_key.unwrap_or_default(),
        };
        let response = self.client.clone().emit_event(request).await.map_err(status)?.into_inner();
        if response.event_json.is_empty() {
            return Ok(None);
        }
        let stored: KeyedEvent =
            wire::from_json("event", &response.event_json).map_err(|e| PortError::Internal(e.to_string()))?;
        Ok(Some(stored.into_event()))
    }

    async fn await_tool_results(&self, session: SessionId, turn: TurnId) -> PortResult<()> {
        self.client.clone().await_tool_results(self.turn(session, turn)).await.map_err(status)?;
        Ok(())
    }

    async fn end_turn(
        &self,
        session: SessionId,
        turn: TurnId,
        usage: TokenUsage,
        output_preview: Option<String>,
    ) -> PortResult<Option<TokenUsage>> {
        let request = EndTurnRequest {
            turn: Some(self.turn(session, turn)),
            usage_json: wire::usage(&usage),
            output_preview: output_preview.unwrap_or_default(),
        };
        let response = self.client.clone().end_turn(request).await.map_err(status)?.into_inner();
        if response.session_usage_json.is_empty() {
            return Ok(None);
        }
        wire::from_json("usage", &response.session_usage_json).map(Some).map_err(|e| PortError::Internal(e.to_string()))
    }
}
