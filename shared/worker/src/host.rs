//! `GrpcIterationHost`: the engine's effects sent to the control plane. Events are pipelined:
//! each is written to one open `EmitEventStream` call without waiting for the one before (the
//! control plane stores them in order), and `flush` closes the call and checks that every event
//! was stored. Events are held a moment on their way ([`crate::coalesce`]), so those emitted
//! close together (and a turn's last ones with its end) are stored as one write. The engine
//! flushes before running tools and at the end of the iteration; turn-state calls flush first, so
//! they never overtake an event.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use everruns_core::engine::{IterationHost, TurnEnd};
use everruns_core::events::{Event, EventPayload, NewEvent};
use everruns_core::ids::{OrgId, SessionId, TurnId};
use everruns_core::ports::{PortError, PortResult, SessionWorkspace};
use everruns_internal_protocol::v1::{EmitEventRequest, EmitEventStreamResponse, EndTurnRequest, TurnRef};
use everruns_internal_protocol::wire;
use futures::channel::mpsc;
use tokio::sync::Mutex;
use tokio::task::JoinHandle;

use crate::client::WorkerClient;
use crate::coalesce::{Coalesced, Outgoing};
use crate::workspace::GrpcSessionWorkspace;

/// Maps a gRPC failure to a port error (retryable unless the request was refused).
pub fn status(status: tonic::Status) -> PortError {
    match status.code() {
        tonic::Code::NotFound => PortError::NotFound { kind: "row", id: status.message().to_owned() },
        tonic::Code::InvalidArgument => PortError::Invalid(status.message().to_owned()),
        tonic::Code::FailedPrecondition => PortError::Conflict(status.message().to_owned()),
        tonic::Code::Aborted => PortError::TurnEnded(status.message().to_owned()),
        tonic::Code::Internal => PortError::Internal(status.message().to_owned()),
        _ => PortError::Unavailable(format!("control plane: {}", status.message())),
    }
}

/// The host of one task's iteration.
pub struct GrpcIterationHost {
    client: WorkerClient,
    org: OrgId,
    pipeline: Mutex<Option<Pipeline>>,
    workspace: GrpcSessionWorkspace,
    /// The claimed task and its lease's owner, named with the turn's end.
    task: Option<(String, String)>,
    /// Set when the control plane completed the task with the turn's end.
    task_completed: Arc<AtomicBool>,
    /// The control plane puts a generation's fold back itself: it is not sent.
    conversation_by_reference: bool,
}

/// An open `EmitEventStream` call and how many events were written to it.
struct Pipeline {
    events: mpsc::UnboundedSender<Outgoing<EmitEventRequest>>,
    call: JoinHandle<Result<tonic::Response<EmitEventStreamResponse>, tonic::Status>>,
    sent: u64,
}

impl Pipeline {
    fn open(client: &WorkerClient) -> Self {
        let (events, stream) = mpsc::unbounded();
        let mut client = client.clone();
        let call = tokio::spawn(async move { client.emit_event_stream(Coalesced::new(stream)).await });
        Self { events, call, sent: 0 }
    }

    /// Ends the call: Ok once the control plane has stored every event written to it; `true` when
    /// a turn's end on it completed the task it named.
    async fn finish(self) -> PortResult<bool> {
        let Self { events, call, sent } = self;
        drop(events);
        let response = call.await.map_err(|e| PortError::Internal(format!("event stream: {e}")))?.map_err(status)?;
        let EmitEventStreamResponse { accepted, task_completed } = response.into_inner();
        if accepted != sent {
            return Err(PortError::Unavailable(format!("control plane: stored {accepted} of {sent} events")));
        }
        Ok(task_completed)
    }
}

impl GrpcIterationHost {
    /// A host acting for `org`.
    pub fn new(client: WorkerClient, org: OrgId) -> Self {
        let workspace = GrpcSessionWorkspace::new(client.clone());
        Self {
            client,
            org,
            pipeline: Mutex::new(None),
            workspace,
            task: None,
            task_completed: Arc::new(AtomicBool::new(false)),
            conversation_by_reference: false,
        }
    }

    /// Leaves a generation's conversation out when it is the session's fold (the context said
    /// the control plane puts it back): what crosses per iteration then stays the same size
    /// however long the session.
    pub fn with_conversation_by_reference(mut self, by_reference: bool) -> Self {
        self.conversation_by_reference = by_reference;
        self
    }

    /// Names the claimed task (and its lease's owner) with the turn's end, so the control plane
    /// can complete it then; `completed` is set if it did (the worker then sends no
    /// `CompleteTask`).
    pub fn with_task(mut self, task_id: String, owner: String, completed: Arc<AtomicBool>) -> Self {
        self.task = Some((task_id, owner));
        self.task_completed = completed;
        self
    }

    fn turn(&self, session: SessionId, turn: TurnId) -> TurnRef {
        TurnRef { org_id: self.org.to_string(), session_id: session.to_string(), turn_id: turn.to_string() }
    }
}

#[async_trait::async_trait]
impl IterationHost for GrpcIterationHost {
    /// Writes the event to the open stream and returns it as sent (`None` when ephemeral). A
    /// replayed key is answered with the earlier event by the store; the engine has already
    /// skipped the keys stored before this run.
    async fn emit(&self, event: NewEvent) -> PortResult<Option<Event>> {
        let NewEvent { mut event, idempotency_key } = event;
        let (conversation_through, conversation_messages) = match &event.payload {
            EventPayload::LlmGeneration(data) => {
                data.messages.reference().map_or((0, 0), |(through, count, _)| (through, count as u64))
            }
            _ => (0, 0),
        };
        let conversation_omitted = self.conversation_by_reference && conversation_through > 0;
        let event_json = match &mut event.payload {
            EventPayload::LlmGeneration(data) if conversation_omitted => {
                let head = data.messages.head_only();
                let sent = std::mem::replace(&mut data.messages, head);
                let json = wire::to_json(&event);
                if let EventPayload::LlmGeneration(data) = &mut event.payload {
                    data.messages = sent;
                }
                json
            }
            _ => wire::to_json(&event),
        };
        let request = EmitEventRequest {
            event_json,
            idempotency_key: idempotency_key.clone().unwrap_or_default(),
            conversation_through,
            conversation_messages,
            end_turn: None,
            conversation_omitted,
        };
        let mut pipeline = self.pipeline.lock().await;
        let open = pipeline.get_or_insert_with(|| Pipeline::open(&self.client));
        if open.events.unbounded_send(Outgoing { message: request, urgent: false }).is_err() {
            // The call already ended (refused, or the control plane went away): say why.
            let reason = match pipeline.take() {
                Some(ended) => ended.finish().await.err(),
                None => None,
            };
            return Err(reason.unwrap_or_else(|| PortError::Unavailable("control plane: event stream closed".into())));
        }
        open.sent += 1;
        if event.is_ephemeral() {
            return Ok(None);
        }
        event.idempotency_key = idempotency_key.or(event.idempotency_key);
        Ok(Some(event))
    }

    fn workspace(&self) -> &dyn SessionWorkspace {
        &self.workspace
    }

    async fn flush(&self) -> PortResult<()> {
        let open = self.pipeline.lock().await.take();
        match open {
            Some(pipeline) => pipeline.finish().await.map(|_| ()),
            None => Ok(()),
        }
    }

    async fn await_tool_results(&self, session: SessionId, turn: TurnId) -> PortResult<()> {
        self.flush().await?;
        self.client.clone().await_tool_results(self.turn(session, turn)).await.map_err(status)?;
        Ok(())
    }

    /// Ends the turn on the open event stream when there is one (its last events and the end
    /// travel together, and the control plane publishes them once the session is idle); otherwise
    /// with `EndTurn`.
    async fn end_turn(&self, end: TurnEnd) -> PortResult<()> {
        let (task_id, owner) = self.task.clone().unwrap_or_default();
        let request = EndTurnRequest {
            turn: Some(self.turn(end.session, end.turn)),
            usage_json: wire::usage(&end.usage),
            output_preview: end.output_preview.unwrap_or_default(),
            input_message_id: end.input_message_id.to_string(),
            iterations: end.iterations,
            task_id,
            owner,
        };
        let open = self.pipeline.lock().await.take();
        if let Some(pipeline) = open {
            let on_stream = EmitEventRequest { end_turn: Some(request.clone()), ..EmitEventRequest::default() };
            if pipeline.events.unbounded_send(Outgoing { message: on_stream, urgent: true }).is_ok() {
                let completed = pipeline.finish().await?;
                self.task_completed.store(completed, Ordering::Release);
                return Ok(());
            }
            pipeline.finish().await?;
        }
        let completed = self.client.clone().end_turn(request).await.map_err(status)?.into_inner().task_completed;
        self.task_completed.store(completed, Ordering::Release);
        Ok(())
    }
}
