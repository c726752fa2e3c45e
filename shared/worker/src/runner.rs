//! Running one claimed task: load the context in one call (a turn that ended while queued shows
//! in it), run the iteration with the engine while a heartbeat keeps the lease (and relays
//! cancellation), then complete or fail the task.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use everruns_core::capabilities::CapabilityRegistry;
use everruns_core::context::inspect_turn_context;
use everruns_core::domain::Conversation;
use everruns_core::engine::{CancelSignal, EngineError, IterationEngine, IterationOutcome, TurnControl};
use everruns_core::events::{FenceClass, TurnStage};
use everruns_core::ports::IterationTask;
use everruns_core::ports::PortError;
use everruns_internal_protocol::v1::{
    CompleteTaskRequest, FailTaskRequest, GetTurnContextRequest, GetTurnContextResponse, HeartbeatTaskRequest, Lease,
    TurnRef, TurnSignal, turn_signal::Kind,
};
use everruns_internal_protocol::wire;
use tokio::sync::watch;
use tonic::Streaming;

use crate::client::WorkerClient;
use crate::config::DurableWorkerConfig;
use crate::host::GrpcIterationHost;
use crate::known::KnownConversations;

/// What the worker needs to run tasks.
#[derive(Clone)]
pub struct TaskRunner {
    /// The control plane.
    pub client: WorkerClient,
    /// The engine.
    pub engine: IterationEngine,
    /// Capabilities (to merge the context with the worker's own surface).
    pub capabilities: Arc<CapabilityRegistry>,
    /// Settings.
    pub config: Arc<DurableWorkerConfig>,
    /// What is kept of sessions' conversations between their iterations.
    pub known: Arc<KnownConversations>,
}

/// How a task run ended, from the worker's side.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunResult {
    /// The iteration finished and the task was completed.
    Completed(IterationOutcome),
    /// The iteration failed; the task was failed: retried later (`will_retry`) or terminalised
    /// by the service.
    Failed {
        /// Whether another attempt will run.
        will_retry: bool,
    },
    /// The lease was lost to another worker; nothing was reported.
    LeaseLost,
}

/// The static name of a carried trace field.
fn static_field(name: &str) -> Option<&'static str> {
    everruns_core::trace_context::FIELDS.into_iter().find(|field| *field == name)
}

fn outcome_name(outcome: IterationOutcome) -> &'static str {
    match outcome {
        IterationOutcome::Continue => "continue",
        IterationOutcome::WaitingForToolResults => "waiting_for_tool_results",
        IterationOutcome::Completed => "completed",
        IterationOutcome::Failed => "failed",
        IterationOutcome::Cancelled => "cancelled",
    }
}

impl TaskRunner {
    /// Runs one claimed task to its end.
    pub async fn run(&self, lease: Lease) -> anyhow::Result<RunResult> {
        let task: IterationTask = wire::parse_task(lease.task.as_ref())?;
        let owner = lease.owner.clone();
        let (control, cancel) = TurnControl::new();
        let (lost_tx, mut lost) = watch::channel(false);
        // The context request is the only call before the engine runs: the lease is fresh from
        // the claim, and a turn that ended while the task was queued shows in the context's turn
        // events (see `iterate`). The same stream then carries the turn's signals (cancel,
        // steering) while the iteration runs; the heartbeat is the fallback.
        // The conversation held from the session's last context is named; only the rest comes.
        let (known_through, known) = self.known.get(task.session_id);
        let mut request = tonic::Request::new(GetTurnContextRequest {
            task_json: wire::to_json(&task),
            watch: true,
            known_through,
            known_messages: known.len() as u64,
        });
        // The trace the task carries (the request that started the turn) goes with the context
        // request: the control plane continues it.
        for (name, value) in everruns_core::trace_context::current().unwrap_or_default() {
            if let (Some(field), Ok(value)) = (static_field(&name), value.parse()) {
                request.metadata_mut().insert(tonic::metadata::MetadataKey::from_static(field), value);
            }
        }
        let (context, signals) = self.context(request).await;
        let _watch = AbortOnDrop(tokio::spawn(self.clone().watch(task.clone(), control.clone(), signals)));
        // Aborted when this run ends or is dropped (a host that gives up on the run mid-way must
        // not leave a heartbeat holding the lease).
        let heartbeat =
            AbortOnDrop(tokio::spawn(self.clone().heartbeat(task.clone(), owner.clone(), control.clone(), lost_tx)));
        // The turn's end may complete the task with it (then no `CompleteTask` follows).
        let settled = Arc::new(AtomicBool::new(false));
        let result = tokio::select! {
            result = self.iterate(&task, (context, &known), &control, &cancel, (owner.clone(), settled.clone())) => Some(result),
            _ = lost.wait_for(|l| *l) => None,
        };
        drop(heartbeat);
        let task_wire = Some(wire::task(&task));
        match result {
            None => {
                tracing::warn!(task = %task.task_id, "lease lost; another worker continues the task");
                Ok(RunResult::LeaseLost)
            }
            Some(result) => {
                let outcome = match result {
                    Ok(outcome) => outcome,
                    // The turn's outcome was stored elsewhere (a cancel, a new message): this
                    // iteration is over, quietly — no retry, no dead letter.
                    Err(error) if turn_ended(&error) => {
                        tracing::debug!(task = %task.task_id, "the turn ended elsewhere: {error}");
                        IterationOutcome::Cancelled
                    }
                    Err(error) => return self.fail(&task, owner, lease.attempt, error).await,
                };
                if settled.load(Ordering::Acquire) && ends_turn(outcome) {
                    return Ok(RunResult::Completed(outcome));
                }
                let request = CompleteTaskRequest {
                    task_id: task.task_id.to_string(),
                    owner,
                    outcome: outcome_name(outcome).into(),
                    task: task_wire,
                };
                let done = self.client.clone().complete_task(request).await?.into_inner();
                if !done.success {
                    return Ok(RunResult::LeaseLost);
                }
                Ok(RunResult::Completed(outcome))
            }
        }
    }

    async fn fail(
        &self,
        task: &IterationTask,
        owner: String,
        attempt: u32,
        error: anyhow::Error,
    ) -> anyhow::Result<RunResult> {
        tracing::warn!(task = %task.task_id, attempt, "iteration failed: {error}");
        let request = FailTaskRequest {
            task_id: task.task_id.to_string(),
            owner,
            error: error.to_string(),
            retry_after_ms: 1000,
            task: Some(wire::task(task)),
        };
        let failed = self.client.clone().fail_task(request).await?.into_inner();
        Ok(RunResult::Failed { will_retry: failed.will_retry })
    }

    /// Relays the turn's signals to the engine while the run lasts: first those that follow the
    /// context on its stream, then, once that stream ends (a control plane that does not watch
    /// there, or a broken stream), `WatchTurn`'s, reopened as often as it breaks (the task
    /// heartbeat still covers cancellation meanwhile).
    async fn watch(
        self,
        task: IterationTask,
        control: TurnControl,
        context: Option<Streaming<GetTurnContextResponse>>,
    ) {
        let pause = || tokio::time::sleep(std::time::Duration::from_millis(500));
        if let Some(mut stream) = context {
            while let Ok(Some(message)) = stream.message().await {
                if let Some(signal) = message.signal {
                    relay(&signal, &control);
                }
            }
            pause().await;
        }
        let turn = TurnRef {
            org_id: task.org_id.to_string(),
            session_id: task.session_id.to_string(),
            turn_id: task.turn_id.to_string(),
        };
        loop {
            match self.client.clone().watch_turn(turn.clone()).await {
                Ok(response) => {
                    let mut signals = response.into_inner();
                    while let Ok(Some(signal)) = signals.message().await {
                        relay(&signal, &control);
                    }
                }
                Err(error) => tracing::debug!(task = %task.task_id, "turn watch unavailable: {error}"),
            }
            pause().await;
        }
    }

    async fn iterate(
        &self,
        task: &IterationTask,
        (context, known): (anyhow::Result<GetTurnContextResponse>, &Conversation),
        control: &TurnControl,
        cancel: &CancelSignal,
        (owner, settled): (String, Arc<AtomicBool>),
    ) -> anyhow::Result<IterationOutcome> {
        let response = context?;
        let by_reference = response.conversation_by_reference;
        let mut inputs = match wire::parse_context(&response, known) {
            Ok(inputs) => inputs,
            Err(error) => {
                // The next attempt asks for the whole conversation.
                self.known.forget(task.session_id);
                return Err(error.into());
            }
        };
        self.known.keep(task.session_id, &inputs.history);
        // A turn cancelled (or ended) while its task was queued must not call the model.
        let stage = inputs.turn_events.iter().filter_map(FenceClass::of).fold(TurnStage::Open, |s, c| c.advance(s));
        if stage.is_terminal() {
            control.cancel();
        }
        let grade = self.config.grade;
        // The worker runs its own capability surface: refs it does not provide are skipped.
        let known = |refs: &mut Vec<everruns_core::domain::AgentCapabilityConfig>| {
            refs.retain(|r| self.capabilities.is_visible(&r.capability_ref, grade));
        };
        inputs.harness_chain.iter_mut().for_each(|h| known(&mut h.capabilities));
        if let Some(agent) = inputs.agent.as_mut() {
            known(&mut agent.capabilities);
        }
        known(&mut inputs.session.capabilities);
        let turn_events = std::mem::take(&mut inputs.turn_events);
        let context = inspect_turn_context(inputs, &self.capabilities, grade)?;
        let host = GrpcIterationHost::new(self.client.clone(), task.org_id)
            .with_task(task.task_id.to_string(), owner, settled)
            .with_conversation_by_reference(by_reference);
        Ok(self.engine.run_iteration(&context, task, &turn_events, &host, cancel).await?)
    }

    /// The task's context, streamed in parts (no message grows with the session) and joined, and
    /// the stream when it goes on with the turn's signals (a watched stream: its context ends at
    /// the part marked last).
    async fn context(
        &self,
        request: tonic::Request<GetTurnContextRequest>,
    ) -> (anyhow::Result<GetTurnContextResponse>, Option<Streaming<GetTurnContextResponse>>) {
        let mut stream = match self.client.clone().stream_turn_context(request).await {
            Ok(response) => response.into_inner(),
            Err(error) => return (Err(error.into()), None),
        };
        let mut parts = Vec::new();
        loop {
            match stream.message().await {
                Ok(Some(part)) => {
                    let last = part.last_part;
                    parts.push(part);
                    if last {
                        return (wire::join_context(parts).map_err(Into::into), Some(stream));
                    }
                }
                Ok(None) => return (wire::join_context(parts).map_err(Into::into), None),
                Err(error) => return (Err(error.into()), None),
            }
        }
    }

    async fn heartbeat(self, task: IterationTask, owner: String, cancel: TurnControl, lost: watch::Sender<bool>) {
        let mut ticks = tokio::time::interval(self.config.heartbeat_interval);
        ticks.tick().await;
        loop {
            ticks.tick().await;
            if !self.beat(&task, &owner, &cancel, &lost).await {
                return;
            }
        }
    }

    /// One heartbeat; trips `cancel` when the turn was cancelled. Returns false (and trips
    /// `lost`) when the lease is gone.
    async fn beat(&self, task: &IterationTask, owner: &str, cancel: &TurnControl, lost: &watch::Sender<bool>) -> bool {
        let request = HeartbeatTaskRequest {
            task_id: task.task_id.to_string(),
            owner: owner.to_owned(),
            lease_ms: u32::try_from(self.config.lease.as_millis()).unwrap_or(u32::MAX),
            session_id: task.session_id.to_string(),
            turn_id: task.turn_id.to_string(),
        };
        match self.client.clone().heartbeat_task(request).await {
            Ok(response) => {
                let response = response.into_inner();
                if !response.acknowledged {
                    let _ = lost.send(true);
                    return false;
                }
                if response.should_cancel {
                    cancel.cancel();
                }
            }
            Err(error) => tracing::warn!(task = %task.task_id, "heartbeat failed: {error}"),
        }
        true
    }
}

/// Whether an iteration with this outcome ended its turn (so the turn's end named its task).
/// What a turn signal asks of the running engine.
fn relay(signal: &TurnSignal, control: &TurnControl) {
    match signal.kind() {
        Kind::Cancelled | Kind::Ended => control.cancel(),
        Kind::Steered => control.steer(),
        Kind::Heartbeat | Kind::Unspecified => {}
    }
}

fn ends_turn(outcome: IterationOutcome) -> bool {
    matches!(outcome, IterationOutcome::Completed | IterationOutcome::Failed | IterationOutcome::Cancelled)
}

/// Whether an iteration's failure is the store refusing a turn that already ended (or whose
/// session is gone): nothing a retry could change.
fn turn_ended(error: &anyhow::Error) -> bool {
    matches!(
        error.downcast_ref::<EngineError>(),
        Some(EngineError::Port(PortError::TurnEnded(_) | PortError::NotFound { .. }))
    )
}

/// Aborts a spawned task when dropped (a helper task must not outlive the run it serves, even
/// when the run's future is dropped half-way).
pub struct AbortOnDrop(pub tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}
