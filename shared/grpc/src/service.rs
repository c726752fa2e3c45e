//! `WorkerGrpcService`: the worker boundary over the turn services and the task store. Handlers
//! translate protobuf to calls; the rules live in `TurnService` and the `TaskStore`.

use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use everruns_core::context::TurnInputs;
use everruns_core::engine::{IterationHost, TurnEnd};
use everruns_core::events::{EventPayload, NewEvent, SentMessages, TurnStage};
use everruns_core::ids::{MessageId, OrgId, SessionId, TaskId, TurnId};
use everruns_core::ports::{ClaimOutcome, FailOutcome, TaskDelivery, TaskLease, TaskStore};
use everruns_core::turns::{TurnService, record_event, record_in_order};
use everruns_internal_protocol::v1::worker_service_server::WorkerService;
use everruns_internal_protocol::v1::*;
use everruns_internal_protocol::wire::{self, KeyedEvent, WireError};
use everruns_services::ServiceError;
use futures::{FutureExt, Stream, StreamExt};
use tokio::sync::broadcast;
use tonic::{Request, Response, Status, Streaming};

use crate::handoff::{Handed, WorkerSlots};

/// The default lease when a worker does not ask for one.
const DEFAULT_LEASE: Duration = Duration::from_secs(30);

/// The worker service.
#[derive(Clone)]
pub struct WorkerGrpcService {
    /// Shared: every call that must outlive its connection takes a clone of the service.
    turns: Arc<TurnService>,
    tasks: Arc<dyn TaskStore>,
    notify: broadcast::Sender<TaskId>,
    delivery: Arc<dyn TaskDelivery>,
    traces: Option<Arc<dyn everruns_core::trace_context::TraceSink>>,
    /// Subscribed workers' room for tasks handed to them as they are committed.
    slots: Option<Arc<WorkerSlots>>,
}

impl WorkerGrpcService {
    /// The service over the turn services and the task store; `notify` carries task wake-ups to
    /// subscribed workers and `delivery` settles completions (the next iteration's task committed, then
    /// delivered).
    pub fn new(
        turns: TurnService,
        tasks: Arc<dyn TaskStore>,
        notify: broadcast::Sender<TaskId>,
        delivery: Arc<dyn TaskDelivery>,
    ) -> Self {
        Self { turns: Arc::new(turns), tasks, notify, delivery, traces: None, slots: None }
    }

    /// Workers that subscribe with a capacity get tasks handed to them through `slots` (the
    /// same ones the delivery reserves from).
    pub fn with_slots(mut self, slots: Option<Arc<WorkerSlots>>) -> Self {
        self.slots = slots;
        self
    }

    /// A worker reported on `task`: its handed place, if it had one, is free.
    fn reported(&self, task: TaskId) {
        if let Some(slots) = &self.slots {
            slots.finished(task);
        }
    }

    /// Continues each turn's trace from the context its worker brings (`traceparent` /
    /// `X-Amzn-Trace-Id` metadata on `GetTurnContext`).
    pub fn with_traces(mut self, traces: Option<Arc<dyn everruns_core::trace_context::TraceSink>>) -> Self {
        self.traces = traces;
        self
    }
}

fn invalid(error: impl std::fmt::Display) -> Status {
    Status::invalid_argument(error.to_string())
}

/// The one mapping of a service's answer to a gRPC status (the worker reads the code back: see
/// its `host::status`).
fn status(error: impl Into<ServiceError>) -> Status {
    match error.into() {
        error @ ServiceError::NotFound { .. } => Status::not_found(error.to_string()),
        error @ ServiceError::BadRequest { .. } => Status::invalid_argument(error.to_string()),
        ServiceError::Conflict(message) => Status::failed_precondition(message),
        ServiceError::TurnEnded(turn) => Status::aborted(turn),
        ServiceError::Unauthorized(message) => Status::unauthenticated(message),
        ServiceError::Forbidden(message) => Status::permission_denied(message),
        ServiceError::TooManyRequests { message, .. } => Status::resource_exhausted(message),
        ServiceError::Unavailable(message) => Status::unavailable(message),
        ServiceError::Internal(detail) => {
            tracing::error!("worker service: {detail}");
            Status::internal("internal error")
        }
    }
}

fn wire_err(error: WireError) -> Status {
    invalid(error)
}

fn lease(ms: u32) -> Duration {
    if ms == 0 { DEFAULT_LEASE } else { Duration::from_millis(u64::from(ms)) }
}

fn owner(owner: &str) -> Result<&str, Status> {
    if owner.trim().is_empty() || owner.len() > 200 {
        return Err(invalid("owner must be a non-empty worker id (at most 200 characters)"));
    }
    Ok(owner)
}

fn to_lease(lease: &TaskLease) -> Lease {
    Lease {
        task: Some(wire::task(&lease.task)),
        attempt: lease.attempt,
        max_attempts: lease.max_attempts,
        owner: lease.owner.clone(),
    }
}

type NotificationStream = Pin<Box<dyn Stream<Item = Result<TaskNotification, Status>> + Send>>;
type SignalStream = Pin<Box<dyn Stream<Item = Result<TurnSignal, Status>> + Send>>;
type ContextStream = Pin<Box<dyn Stream<Item = Result<GetTurnContextResponse, Status>> + Send>>;

#[tonic::async_trait]
impl WorkerService for WorkerGrpcService {
    async fn claim_task(&self, request: Request<ClaimTaskRequest>) -> Result<Response<ClaimTaskResponse>, Status> {
        let r = request.into_inner();
        let id = TaskId::parse(&r.task_id).map_err(invalid)?;
        let outcome = self.tasks.claim(id, owner(&r.owner)?, lease(r.lease_ms)).await.map_err(status)?;
        use claim_task_response::Outcome;
        let (outcome, lease) = match outcome {
            ClaimOutcome::Claimed(l) => (Outcome::Claimed, Some(to_lease(&l))),
            ClaimOutcome::Finished => (Outcome::Finished, None),
            ClaimOutcome::LeasedElsewhere => (Outcome::LeasedElsewhere, None),
            ClaimOutcome::NotFound => (Outcome::NotFound, None),
            ClaimOutcome::Exhausted(task) => {
                self.turns.terminalise(&task).await.map_err(status)?;
                (Outcome::Exhausted, None)
            }
        };
        Ok(Response::new(ClaimTaskResponse { outcome: outcome as i32, lease }))
    }

    async fn claim_next_tasks(
        &self,
        request: Request<ClaimNextTasksRequest>,
    ) -> Result<Response<ClaimNextTasksResponse>, Status> {
        let r = request.into_inner();
        let max = r.max.clamp(1, 100) as usize;
        let leases = self.tasks.claim_next(owner(&r.owner)?, lease(r.lease_ms), max).await.map_err(status)?;
        Ok(Response::new(ClaimNextTasksResponse { leases: leases.iter().map(to_lease).collect() }))
    }

    async fn heartbeat_task(
        &self,
        request: Request<HeartbeatTaskRequest>,
    ) -> Result<Response<HeartbeatTaskResponse>, Status> {
        let r = request.into_inner();
        let id = TaskId::parse(&r.task_id).map_err(invalid)?;
        let acknowledged = self.tasks.heartbeat(id, owner(&r.owner)?, lease(r.lease_ms)).await.map_err(status)?;
        if let Some(slots) = self.slots.as_ref().filter(|_| acknowledged) {
            slots.renewed(id, lease(r.lease_ms));
        }
        let cancelled = match (SessionId::parse(&r.session_id), TurnId::parse(&r.turn_id)) {
            (Ok(session), Ok(turn_id)) => self.turns.is_cancelled(session, turn_id).await.map_err(status)?,
            _ => false,
        };
        Ok(Response::new(HeartbeatTaskResponse { acknowledged, should_cancel: !acknowledged || cancelled }))
    }

    async fn complete_task(
        &self,
        request: Request<CompleteTaskRequest>,
    ) -> Result<Response<CompleteTaskResponse>, Status> {
        let r = request.into_inner();
        let id = TaskId::parse(&r.task_id).map_err(invalid)?;
        let next = match r.outcome.as_str() {
            "continue" => Some(wire::parse_task(r.task.as_ref()).map_err(wire_err)?.next()),
            "waiting_for_tool_results" | "completed" | "failed" | "cancelled" => None,
            other => return Err(invalid(format!("unknown outcome '{other}'"))),
        };
        let (delivery, owner) = (self.delivery.clone(), owner(&r.owner)?.to_owned());
        let task = next.clone();
        let success =
            detached(async move { delivery.complete(id, &owner, task.as_ref()).await.map_err(status) }).await?;
        self.reported(id);
        Ok(Response::new(CompleteTaskResponse { success, next: next.filter(|_| success).as_ref().map(wire::task) }))
    }

    async fn fail_task(&self, request: Request<FailTaskRequest>) -> Result<Response<FailTaskResponse>, Status> {
        let r = request.into_inner();
        let id = TaskId::parse(&r.task_id).map_err(invalid)?;
        let retry = Duration::from_millis(u64::from(r.retry_after_ms));
        let task = wire::parse_task(r.task.as_ref());
        let (this, owner) = (self.clone(), owner(&r.owner)?.to_owned());
        let outcome = detached(async move {
            let outcome = this.tasks.fail(id, &owner, &r.error, retry).await.map_err(status)?;
            if outcome == FailOutcome::Terminal {
                this.turns.terminalise(&task.map_err(wire_err)?).await.map_err(status)?;
            } else if outcome == FailOutcome::WillRetry {
                this.delivery.retry_later(id, retry);
            }
            Ok(outcome)
        })
        .await?;
        self.reported(id);
        Ok(Response::new(FailTaskResponse {
            will_retry: outcome == FailOutcome::WillRetry,
            terminal: outcome == FailOutcome::Terminal,
        }))
    }

    async fn get_turn_context(
        &self,
        request: Request<GetTurnContextRequest>,
    ) -> Result<Response<GetTurnContextResponse>, Status> {
        let inputs = self.turn_inputs(&request).await?;
        let from = known_offset(request.get_ref(), &inputs);
        Ok(Response::new(wire::context_response(&inputs, from)))
    }

    type StreamTurnContextStream = ContextStream;

    async fn stream_turn_context(
        &self,
        request: Request<GetTurnContextRequest>,
    ) -> Result<Response<Self::StreamTurnContextStream>, Status> {
        if !request.get_ref().watch {
            let inputs = self.turn_inputs(&request).await?;
            let from = known_offset(request.get_ref(), &inputs);
            return Ok(Response::new(Box::pin(futures::stream::iter(
                wire::context_parts(&inputs, from).into_iter().map(Ok),
            ))));
        }
        // Subscribe first, then read: an event stored before the read is among the context's turn
        // events (the worker judges the stage from them), one stored after it reaches the
        // subscription. No read of the turn's fence is needed.
        let task = request_task(&request)?;
        self.continue_trace(&request, &task);
        // A handed task's first context comes from its start when this instance made it (with
        // the subscription the start took before it wrote); anything else is read.
        let (events, primed) = match self.turns.take_primed(task.task_id) {
            Some(start) => {
                let inputs = self.turns.primed_inputs(&task, start.session, start.through).await.map_err(status)?;
                (start.events, inputs)
            }
            None => (self.turns.bus().subscribe(task.session_id), None),
        };
        let inputs = match primed {
            Some(inputs) => inputs,
            None => self.turns.task_inputs(&task).await.map_err(status)?,
        };
        let mut parts = wire::context_parts(&inputs, known_offset(request.get_ref(), &inputs));
        if let Some(last) = parts.last_mut() {
            last.last_part = true;
        }
        let signals = super::watch::turn_signals(task.turn_id, TurnStage::Open, events)
            .map(|signal| signal.map(|signal| GetTurnContextResponse { signal: Some(signal), ..Default::default() }));
        Ok(Response::new(Box::pin(futures::stream::iter(parts.into_iter().map(Ok)).chain(signals))))
    }

    async fn emit_event(&self, request: Request<EmitEventRequest>) -> Result<Response<EmitEventResponse>, Status> {
        let this = self.clone();
        let stored = detached(async move { this.emit(request.into_inner()).await }).await?;
        Ok(Response::new(EmitEventResponse {
            event_json: stored.map(|e| wire::to_json(&KeyedEvent::of(&e))).unwrap_or_default(),
        }))
    }

    async fn emit_event_stream(
        &self,
        request: Request<Streaming<EmitEventRequest>>,
    ) -> Result<Response<EmitEventStreamResponse>, Status> {
        let mut stream = request.into_inner();
        let (mut accepted, mut task_completed) = (0, false);
        while let Some(message) = stream.next().await {
            // Whatever else has already arrived is stored with it: one statement for a burst
            // (an iteration's events come together when the model answers fast), no added wait.
            let mut batch = vec![message?];
            while batch.len() < EMIT_BATCH_MAX
                && let Some(Some(message)) = stream.next().now_or_never()
            {
                batch.push(message?);
            }
            let this = self.clone();
            let (count, completed) = detached(async move { this.emit_batch(batch).await }).await?;
            accepted += count;
            task_completed |= completed;
        }
        Ok(Response::new(EmitEventStreamResponse { accepted, task_completed }))
    }

    async fn await_tool_results(&self, request: Request<TurnRef>) -> Result<Response<Empty>, Status> {
        let (org, session, turn_id) = turn_ref(Some(&request.into_inner()))?;
        let host = self.turns.host(org);
        detached(async move { host.await_tool_results(session, turn_id).await.map_err(status) }).await?;
        Ok(Response::new(Empty {}))
    }

    async fn end_turn(&self, request: Request<EndTurnRequest>) -> Result<Response<EndTurnResponse>, Status> {
        let (org, end, task) = turn_end(request.into_inner())?;
        if let Some((id, _)) = &task {
            self.reported(*id);
        }
        let turns = self.turns.clone();
        let task_completed =
            detached(async move { turns.finish_turn(org, &end, Vec::new(), task).await.map_err(status) }).await?;
        Ok(Response::new(EndTurnResponse { task_completed }))
    }

    async fn workspace(&self, request: Request<WorkspaceRequest>) -> Result<Response<WorkspaceResponse>, Status> {
        match super::workspace::run(&self.turns.workspace(), request.into_inner()).await {
            Ok(answer) => Ok(Response::new(super::workspace::response(answer))),
            Err(super::workspace::RunError::Invalid(message)) => Err(invalid(message)),
            Err(super::workspace::RunError::Port(error)) => Err(status(error)),
        }
    }

    type WatchTurnStream = SignalStream;

    async fn watch_turn(&self, request: Request<TurnRef>) -> Result<Response<Self::WatchTurnStream>, Status> {
        let (_org, session, turn_id) = turn_ref(Some(&request.into_inner()))?;
        // Subscribe first, then read the stage: nothing stored in between is missed.
        let events = self.turns.bus().subscribe(session);
        let stage = self.turns.stores().events.turn_stage(session, turn_id).await.map_err(status)?;
        Ok(Response::new(super::watch::turn_signals(turn_id, stage, events)))
    }

    type SubscribeTaskNotificationsStream = NotificationStream;

    async fn subscribe_task_notifications(
        &self,
        request: Request<SubscribeTaskNotificationsRequest>,
    ) -> Result<Response<Self::SubscribeTaskNotificationsStream>, Status> {
        let r = request.into_inner();
        // Room declared (and a service that hands tasks): tasks come leased on this stream too.
        let handed = match &self.slots {
            Some(slots) if r.capacity > 0 => {
                Some(slots.subscribe(owner(&r.owner)?.to_owned(), r.capacity as usize, lease(r.lease_ms)))
            }
            _ => None,
        };
        let receiver = self.notify.subscribe();
        let heartbeat = tokio::time::interval(Duration::from_secs(15));
        let state = (receiver, heartbeat, handed);
        let stream = futures::stream::unfold(state, |(mut receiver, mut heartbeat, mut handed)| async move {
            use task_notification::Kind;
            let notice = |kind: Kind, task_id: String| TaskNotification { kind: kind as i32, task_id, lease: None };
            let item = tokio::select! {
                Some(lease) = next_handed(&mut handed) => TaskNotification {
                    kind: Kind::TaskHanded as i32,
                    task_id: lease.task.task_id.to_string(),
                    lease: Some(to_lease(&lease)),
                },
                received = receiver.recv() => match received {
                    Ok(id) => notice(Kind::TaskAvailable, id.to_string()),
                    // Missed some: one wake-up covers them (workers claim whatever is visible).
                    Err(broadcast::error::RecvError::Lagged(_)) => notice(Kind::TaskAvailable, String::new()),
                    Err(broadcast::error::RecvError::Closed) => return None,
                },
                _ = heartbeat.tick() => notice(Kind::Heartbeat, String::new()),
            };
            Some((Ok(item), (receiver, heartbeat, handed)))
        });
        Ok(Response::new(Box::pin(stream)))
    }
}

/// The next lease handed to a subscription; never, for one without room.
async fn next_handed(handed: &mut Option<Handed>) -> Option<TaskLease> {
    match handed {
        Some(handed) => handed.recv().await,
        None => std::future::pending().await,
    }
}

/// Runs `work` on a task of its own and waits for it: a call dropped half-way (its connection
/// lost, its client gone) still finishes what it began, so a commit is always followed by what
/// goes with it — its events' publication, the next task's delivery. Dropping the handler would
/// otherwise leave stored events unpublished until a reader finds them in the store.
async fn detached<T, F>(work: F) -> Result<T, Status>
where
    F: Future<Output = Result<T, Status>> + Send + 'static,
    T: Send + 'static,
{
    tokio::spawn(work).await.map_err(|error| Status::internal(format!("the call's work stopped: {error}")))?
}

/// How many leading messages of the context's conversation the requesting worker holds already.
fn known_offset(request: &GetTurnContextRequest, inputs: &TurnInputs) -> usize {
    wire::known_offset(request.known_through, request.known_messages, &inputs.history)
}

/// The task a context request names.
fn request_task(request: &Request<GetTurnContextRequest>) -> Result<everruns_core::ports::IterationTask, Status> {
    wire::from_json("task", &request.get_ref().task_json).map_err(wire_err)
}

impl WorkerGrpcService {
    /// The inputs of the requested task's iteration; continues the trace the request carries.
    async fn turn_inputs(&self, request: &Request<GetTurnContextRequest>) -> Result<TurnInputs, Status> {
        self.task_inputs(request, &request_task(request)?).await
    }

    /// [`turn_inputs`](Self::turn_inputs) of a task already read from the request.
    async fn task_inputs(
        &self,
        request: &Request<GetTurnContextRequest>,
        task: &everruns_core::ports::IterationTask,
    ) -> Result<TurnInputs, Status> {
        // Without a signal stream a context must be read: a primed start is let go.
        drop(self.turns.take_primed(task.task_id));
        self.continue_trace(request, task);
        self.turns.task_inputs(task).await.map_err(status)
    }

    /// Continues the turn's trace from the context the request carries (`traceparent` / ...).
    fn continue_trace(&self, request: &Request<GetTurnContextRequest>, task: &everruns_core::ports::IterationTask) {
        let carrier =
            everruns_core::trace_context::from_pairs(request.metadata().iter().filter_map(|entry| match entry {
                tonic::metadata::KeyAndValueRef::Ascii(name, value) => Some((name.as_str(), value.to_str().ok()?)),
                tonic::metadata::KeyAndValueRef::Binary(..) => None,
            }));
        if let Some(traces) = self.traces.as_ref().filter(|_| !carrier.is_empty()) {
            traces.continue_turn(task.turn_id, &carrier);
        }
    }

    async fn emit(&self, request: EmitEventRequest) -> Result<Option<everruns_core::events::Event>, Status> {
        if request.end_turn.is_some() {
            return Err(invalid("a turn's end goes on an event stream, or to EndTurn"));
        }
        let stores = self.turns.stores();
        let event = self.new_event(request).await?;
        record_event(stores, self.turns.bus().as_ref(), event).await.map_err(status)
    }

    /// Records streamed events: the persisted ones together in one write, then every one published
    /// in the order sent, a live-only one in its place (`record_in_order`). A turn's end (the
    /// stream's last message) is stored with them and published after them (`finish_turn`).
    /// Returns how many events were recorded, and whether the end completed the task it named.
    async fn emit_batch(&self, mut batch: Vec<EmitEventRequest>) -> Result<(u64, bool), Status> {
        let (stores, bus) = (self.turns.stores(), self.turns.bus().as_ref());
        let end = match batch.last_mut().and_then(|last| last.end_turn.take()) {
            Some(end) => {
                batch.pop();
                Some(turn_end(end)?)
            }
            None => None,
        };
        if batch.iter().any(|request| request.end_turn.is_some()) {
            return Err(invalid("a turn's end must be the last message of its stream"));
        }
        let count = batch.len() as u64;
        let mut run = Vec::with_capacity(batch.len());
        for request in batch {
            run.push(self.new_event(request).await?);
        }
        let Some((org, end, task)) = end else {
            record_in_order(stores, bus, run).await.map_err(status)?;
            return Ok((count, false));
        };
        if let Some((id, _)) = &task {
            self.reported(*id);
        }
        let completed = self.turns.finish_turn(org, &end, run, task).await.map_err(status)?;
        Ok((count, completed))
    }

    /// An emitted event. A generation whose conversation the worker had as the session's fold
    /// (see `wire`) is marked so; when the worker left that conversation out, it is put back from
    /// the session (the fold this service just sent, or the store), the same list either way.
    async fn new_event(&self, request: EmitEventRequest) -> Result<NewEvent, Status> {
        let mut event: everruns_core::events::Event =
            wire::from_json("event", &request.event_json).map_err(wire_err)?;
        if request.conversation_through > 0
            && let EventPayload::LlmGeneration(data) = &mut event.payload
        {
            let count = usize::try_from(request.conversation_messages).unwrap_or(usize::MAX);
            let through = request.conversation_through;
            data.messages = if request.conversation_omitted {
                let conversation = self.turns.conversation_through(event.session_id, through).await.map_err(status)?;
                if conversation.len() != count {
                    return Err(invalid(format!(
                        "the generation's conversation has {count} messages; the session's through sequence {through} has {}",
                        conversation.len()
                    )));
                }
                SentMessages::new(std::mem::take(&mut data.messages).to_vec(), conversation)
            } else {
                std::mem::take(&mut data.messages).referring(through, count)
            };
        }
        let key = (!request.idempotency_key.is_empty()).then_some(request.idempotency_key);
        event.idempotency_key = key.clone();
        Ok(NewEvent { event, idempotency_key: key })
    }
}

/// A claimed task and its lease's owner.
type HeldTask = (TaskId, String);

/// A turn's end as a worker sends it, with the task it may complete (and that task's owner).
fn turn_end(r: EndTurnRequest) -> Result<(OrgId, TurnEnd, Option<HeldTask>), Status> {
    let (org, session, turn_id) = turn_ref(r.turn.as_ref())?;
    let task = match r.task_id.as_str() {
        "" => None,
        id => Some((TaskId::parse(id).map_err(invalid)?, owner(&r.owner)?.to_owned())),
    };
    let end = TurnEnd {
        session,
        turn: turn_id,
        input_message_id: MessageId::parse(&r.input_message_id).map_err(invalid)?,
        iterations: r.iterations,
        usage: wire::from_json("usage", &r.usage_json).map_err(wire_err)?,
        output_preview: (!r.output_preview.is_empty()).then_some(r.output_preview),
    };
    Ok((org, end, task))
}

/// Most events stored by one statement from a worker's stream.
const EMIT_BATCH_MAX: usize = 64;

fn turn_ref(turn: Option<&TurnRef>) -> Result<(OrgId, SessionId, TurnId), Status> {
    let turn = turn.ok_or_else(|| invalid("turn missing"))?;
    Ok((
        OrgId::parse(&turn.org_id).map_err(invalid)?,
        SessionId::parse(&turn.session_id).map_err(invalid)?,
        TurnId::parse(&turn.turn_id).map_err(invalid)?,
    ))
}
