//! Turn services: start a turn from a user message, accept client tool results, cancel, and run
//! iteration tasks with the engine. Used by the in-process runtime and the DEV_MODE server alike;
//! transports only translate to and from these calls.

mod cancel;
mod history_cache;
mod host;
mod load;
mod org_defaults;
mod primed;

pub use cancel::CancellationRegistry;
pub use history_cache::{HISTORY_CACHE_MAX_AGE, HISTORY_CACHE_SESSIONS, HistoryCache};
pub use host::{
    StoreIterationHost, end_turn, end_turn_holding, finish_turn, idled_event, record_event, record_in_order,
    store_events,
};
pub use load::TurnLoader;
pub use org_defaults::{ORG_DEFAULT_TTL, OrgDefaults};
pub use primed::{PRIMED_CAPACITY, PRIMED_MAX_AGE, PrimedStart, PrimedStarts};

use std::sync::Arc;

use serde_json::Value;

use crate::capabilities::DeploymentGrade;
use crate::context::{TurnContext, inspect_turn_context};
use crate::domain::{ContentPart, Message, MessageRole, SessionStatus};
use crate::driver_registry::ResolvedModel;
use crate::engine::{EngineConfig, EngineError, IterationEngine, IterationOutcome, TurnEnd};
use crate::events::*;
use crate::ids::{HarnessId, MessageId, OrgId, SessionId, TaskId, TurnId};
use crate::platform::PlatformDefinition;
use crate::ports::{
    DEFAULT_MAX_ATTEMPTS, EventBus, EventFilter, HandedTo, IterationTask, PortError, QueuedTask, SecretCipher,
    StartedTurn, StatusChange, Stores, TaskDelivery, TaskLease, TurnStart,
};

/// The largest accepted client tool result, in bytes of JSON.
pub const MAX_TOOL_RESULT_BYTES: usize = 100 * 1024;

/// A failure of a turn service call.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TurnError {
    /// The session (or another row) does not exist.
    #[error("{kind} '{id}' not found")]
    NotFound {
        /// What.
        kind: &'static str,
        /// Which.
        id: String,
    },
    /// Tool results arrived while the session was not waiting for them.
    #[error("Session is not waiting for tool results (current status: {0})")]
    NotWaiting(&'static str),
    /// A state conflict (a turn is already running).
    #[error("{0}")]
    Conflict(String),
    /// The request is invalid.
    #[error("{0}")]
    Invalid(String),
    /// Storage failed.
    #[error(transparent)]
    Port(PortError),
    /// The engine failed; the task should be retried.
    #[error(transparent)]
    Engine(#[from] EngineError),
}

impl From<PortError> for TurnError {
    fn from(error: PortError) -> Self {
        match error {
            PortError::NotFound { kind, id } => Self::NotFound { kind, id },
            PortError::Conflict(message) => Self::Conflict(message),
            PortError::Invalid(message) => Self::Invalid(message),
            other => Self::Port(other),
        }
    }
}

/// One client tool result.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolResultInput {
    /// The call it answers.
    pub tool_call_id: String,
    /// The result value.
    pub result: Option<Value>,
    /// An error text (the call failed).
    pub error: Option<String>,
}

/// What posting a message did.
#[derive(Debug, Clone, PartialEq)]
pub enum Posted {
    /// A new turn started; its first task was published.
    Started(IterationTask),
    /// A turn was running: the message was delivered to it (steering).
    Steered,
}

/// What a cancel request did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CancelOutcome {
    /// A running turn was cancelled.
    Cancelled,
    /// Nothing was running.
    NoOp,
}

/// The turn services over one set of stores.
#[derive(Clone)]
pub struct TurnService {
    loader: TurnLoader,
    bus: Arc<dyn EventBus>,
    delivery: Option<Arc<dyn TaskDelivery>>,
    engine: IterationEngine,
    cancellations: CancellationRegistry,
    /// Handed tasks' first contexts, made from their starts.
    primed: Arc<PrimedStarts>,
}

impl TurnService {
    /// Services for `platform` over `stores` and `bus`. Without a task delivery, callers run tasks themselves.
    pub fn new(platform: &PlatformDefinition, stores: Stores, bus: Arc<dyn EventBus>, config: EngineConfig) -> Self {
        let capabilities = Arc::new(platform.capability_registry().clone());
        let engine =
            IterationEngine::new(Arc::new(platform.driver_registry().clone()), capabilities.clone(), config.clone());
        Self {
            loader: TurnLoader {
                stores,
                capabilities,
                grade: config.grade,
                default_model: None,
                cipher: None,
                fallback_keys: Default::default(),
                history: Arc::new(HistoryCache::default()),
                org_defaults: Arc::new(OrgDefaults::default()),
                built_ins: Default::default(),
            },
            bus,
            delivery: None,
            engine,
            cancellations: CancellationRegistry::new(),
            primed: Arc::default(),
        }
    }

    /// Hands tasks to workers through `delivery`.
    pub fn with_delivery(mut self, delivery: Arc<dyn TaskDelivery>) -> Self {
        self.delivery = Some(delivery);
        self
    }

    /// The model used when nothing else selects one.
    pub fn with_default_model(mut self, model: Option<ResolvedModel>) -> Self {
        self.loader.default_model = model;
        self
    }

    /// The deployment's default model: used when nothing selects one and the org has no default.
    pub fn deployment_default_model(&self) -> Option<&ResolvedModel> {
        self.loader.default_model.as_ref()
    }

    /// The cipher that opens provider keys.
    pub fn with_cipher(mut self, cipher: Arc<dyn SecretCipher>) -> Self {
        self.loader.cipher = Some(cipher);
        self
    }

    /// Keys used for providers of a driver that have no stored key (`DEFAULT_*_API_KEY`).
    pub fn with_fallback_keys(mut self, keys: impl IntoIterator<Item = (crate::DriverId, String)>) -> Self {
        self.loader.fallback_keys = keys.into_iter().collect();
        self
    }

    /// The stores.
    pub fn stores(&self) -> &Stores {
        &self.loader.stores
    }

    /// Drops what this process keeps of a deleted session (its cached conversation).
    pub fn forget_session(&self, session: SessionId) {
        self.loader.forget(session);
    }

    /// The org's default harness (the built-in with the Default role), read once per process.
    pub async fn default_harness(&self, org: OrgId) -> Result<Option<HarnessId>, TurnError> {
        Ok(self.loader.default_harness(org).await?)
    }

    /// Copies a new session's initial files (harness chain, agent, session; merged by path) into
    /// its workspace. Repeating it rewrites the same files; a read-only one already there stays.
    pub async fn seed_workspace(
        &self,
        session: &crate::domain::Session,
        agent: Option<&crate::domain::Agent>,
    ) -> Result<usize, TurnError> {
        let files = self.loader.initial_files(session.organization_id, session, agent).await?;
        for initial in &files {
            let content = initial.decoded().map_err(TurnError::Invalid)?;
            let file = crate::ports::SessionFile {
                path: initial.path.clone(),
                content,
                is_readonly: initial.is_readonly,
                updated_at: crate::time::Timestamp::now(),
            };
            match self.loader.stores.files.write_file(session.id, file).await {
                Ok(_) | Err(PortError::Conflict(_)) => {}
                Err(error) => return Err(error.into()),
            }
        }
        Ok(files.len())
    }

    /// Makes this process read the org's default model again (it was just changed here).
    pub fn forget_org_default(&self, org: OrgId) {
        self.loader.org_defaults.forget(org);
    }

    /// The bus.
    pub fn bus(&self) -> &Arc<dyn EventBus> {
        &self.bus
    }

    /// The deployment grade.
    pub fn grade(&self) -> DeploymentGrade {
        self.loader.grade
    }

    async fn emit(
        &self,
        session: SessionId,
        context: &EventContext,
        key: String,
        payload: EventPayload,
    ) -> Result<Option<Event>, TurnError> {
        let event = NewEvent::new(session, context.clone(), payload).with_key(key);
        Ok(record_event(&self.loader.stores, self.bus.as_ref(), event).await?)
    }

    async fn publish(&self, task: &IterationTask) -> Result<(), TurnError> {
        if let Some(delivery) = &self.delivery {
            delivery.deliver(task.clone()).await?;
        }
        Ok(())
    }

    /// Posts a user message. On an idle session it starts a turn (`input.message`,
    /// `session.activated`, `turn.started`, task 1 published). On a running turn it is stored for
    /// that turn and delivered to it as a steering message (its next reason step includes it). A
    /// client-tool wait is cancelled with synthesized error results and a new turn starts. A turn
    /// whose terminal outcome is stored but whose session is not idle yet is settled first, so
    /// a client that has read `turn.completed` can post at once.
    pub async fn post_message(
        &self,
        org: OrgId,
        session_id: SessionId,
        message: Message,
    ) -> Result<(Message, Posted), TurnError> {
        self.post(org, session_id, message, true).await
    }

    /// Stores a user message and starts a turn, like [`post_message`](Self::post_message) but
    /// never steering: a running turn is a conflict.
    pub async fn start_turn(
        &self,
        org: OrgId,
        session_id: SessionId,
        message: Message,
    ) -> Result<(Message, IterationTask), TurnError> {
        match self.post(org, session_id, message, false).await? {
            (message, Posted::Started(task)) => Ok((message, task)),
            (_, Posted::Steered) => Err(TurnError::Conflict("a turn is already running in this session".into())),
        }
    }

    async fn post(
        &self,
        org: OrgId,
        session_id: SessionId,
        mut message: Message,
        steer: bool,
    ) -> Result<(Message, Posted), TurnError> {
        if message.role != MessageRole::User
            || message.content.is_empty()
            || !message.content.iter().all(ContentPart::is_user_input)
        {
            return Err(TurnError::Invalid("message must be a user message with text or image content".into()));
        }
        // Without a session read, an idle session is the likely case: try to start the turn at
        // once (its status change is conditional), and read only when that did not apply.
        if let Some(task) = self.begin(org, session_id, &mut message).await? {
            return Ok((message, Posted::Started(task)));
        }
        // Each pass either finishes or observes another party's progress (a turn ending, a status
        // change lost to a concurrent request); a few passes always suffice in practice.
        for _ in 0..8 {
            let session = self.loader.session(org, session_id).await?;
            match (session.status, session.current_turn_id) {
                (SessionStatus::Started | SessionStatus::Idle, _) => {
                    if let Some(task) = self.begin(org, session_id, &mut message).await? {
                        return Ok((message, Posted::Started(task)));
                    }
                }
                (SessionStatus::WaitingForToolResults, Some(turn)) => self.abandon_wait(org, session_id, turn).await?,
                (SessionStatus::Active, Some(turn)) => {
                    match self.loader.stores.events.turn_stage(session_id, turn).await? {
                        TurnStage::Open if !steer => {
                            return Err(TurnError::Conflict("a turn is already running in this session".into()));
                        }
                        TurnStage::Open => match self.steer(session_id, turn, &mut message).await {
                            Ok(()) => return Ok((message, Posted::Steered)),
                            // The turn ended meanwhile: settle it and start a new one.
                            Err(TurnError::Port(PortError::TurnEnded(_))) => {}
                            Err(error) => return Err(error),
                        },
                        stage => self.settle(org, session_id, turn, stage).await?,
                    }
                }
                (status, _) => {
                    return Err(TurnError::Conflict(format!(
                        "the session cannot take a message ({})",
                        status.as_str()
                    )));
                }
            }
        }
        Err(TurnError::Conflict("the session is changing too quickly; retry".into()))
    }

    /// Starts a turn on an idle session; `None` when the session changed first.
    async fn begin(
        &self,
        org: OrgId,
        session_id: SessionId,
        message: &mut Message,
    ) -> Result<Option<IterationTask>, TurnError> {
        let turn_id = TurnId::new();
        let change = StatusChange {
            expect: vec![SessionStatus::Started, SessionStatus::Idle],
            to: SessionStatus::Active,
            turn: Some(turn_id),
            preview: Some(message.text().chars().take(200).collect()).filter(|p: &String| !p.is_empty()),
            ..StatusChange::default()
        };
        message.created_at = crate::time::Timestamp::now();
        let context = EventContext::for_turn(turn_id, Some(message.id));
        let event = |step: &str, payload| {
            NewEvent::new(session_id, context.clone(), payload).with_key(format!("{turn_id}/{step}"))
        };
        let events = vec![
            event("input.message", EventPayload::InputMessage(InputMessageData { message: message.clone() })),
            event(
                "session.activated",
                EventPayload::SessionActivated(SessionActivatedData { turn_id, input_message_id: message.id }),
            ),
            event(
                "turn.started",
                EventPayload::TurnStarted(TurnStartedData {
                    turn_id,
                    input_message_id: message.id,
                    input_content: Some(message.content.clone()),
                }),
            ),
        ];
        let task = IterationTask {
            task_id: TaskId::new(),
            org_id: org,
            session_id,
            turn_id,
            input_message_id: message.id,
            iteration: 1,
        };
        // The status change, the events and (where tasks are rows of the stores) the task are
        // one write; workers hear of the task, and clients of the events, once it is committed.
        let queued = self.delivery.as_ref().is_some_and(|d| d.queues_with_turn());
        // A worker with room takes the task leased as it is committed (no claim follows); the
        // reservation, dropped when the start does not apply, frees the room again.
        let reserved = self.delivery.as_ref().filter(|_| queued).and_then(|d| d.reserve());
        let handed_to = reserved.as_ref().map(|r| HandedTo { owner: r.owner().to_owned(), lease: r.lease() });
        // A handed task's context is made from this start (see `PrimedStarts`): what happens
        // after the write must reach a subscription taken before it.
        let subscription = reserved.as_ref().map(|_| self.bus.subscribe(session_id));
        let (live, events): (Vec<_>, Vec<_>) = events.into_iter().partition(|e| self.bus.is_live_only(&e.event));
        let start = TurnStart {
            change,
            events,
            task: queued.then(|| QueuedTask { task: task.clone(), max_attempts: DEFAULT_MAX_ATTEMPTS, handed_to }),
        };
        let Some(StartedTurn { events: stored, session }) =
            self.loader.stores.turns.start_turn(org, session_id, start).await?
        else {
            return Ok(None);
        };
        let through = self.loader.advance_history(session_id, &stored);
        if let (Some(session), Some(events), Some(through)) = (session, subscription, through) {
            self.primed.put(task.task_id, PrimedStart { session, through, events });
        }
        for event in live.into_iter().map(|e| e.event).chain(stored) {
            self.bus.emit(Arc::new(event));
        }
        match (&self.delivery, reserved) {
            (_, Some(reserved)) => {
                let lease = TaskLease {
                    task: task.clone(),
                    attempt: 1,
                    max_attempts: DEFAULT_MAX_ATTEMPTS,
                    owner: reserved.owner().to_owned(),
                    expires_at: crate::time::Timestamp::now().after(reserved.lease()),
                };
                reserved.hand(lease);
            }
            (Some(delivery), None) if queued => delivery.announce(task.clone()).await?,
            _ => self.publish(&task).await?,
        }
        Ok(Some(task))
    }

    /// Stores a steering message for a running turn (refused by the fence if the turn has
    /// ended) and tells the turn.
    async fn steer(&self, session_id: SessionId, turn: TurnId, message: &mut Message) -> Result<(), TurnError> {
        let Some(input_message_id) = self.turn_input_message(session_id, turn).await? else {
            return Err(TurnError::Port(PortError::TurnEnded(turn.to_string())));
        };
        message.created_at = crate::time::Timestamp::now();
        let context = EventContext::for_turn(turn, Some(input_message_id));
        let event = NewEvent::new(
            session_id,
            context,
            EventPayload::InputMessage(InputMessageData { message: message.clone() }),
        )
        .with_key(format!("{turn}/steer/{}", message.id));
        record_event(&self.loader.stores, self.bus.as_ref(), event).await?;
        self.cancellations.steer(turn);
        Ok(())
    }

    /// Finishes the ending of a turn whose terminal outcome is stored: for a cancelled turn the
    /// cancellation message (and cancelled results for calls left open), then `session.idled` and
    /// the session back to idle. Idempotent, and safe beside the worker ending the same turn.
    async fn settle(
        &self,
        org: OrgId,
        session_id: SessionId,
        turn_id: TurnId,
        stage: TurnStage,
    ) -> Result<(), TurnError> {
        let turn = TurnState::load(&self.loader.stores, session_id, turn_id).await?;
        let mut preview = turn.last_answer();
        if stage == TurnStage::Cancelled {
            self.close_calls(&turn, session_id).await?;
            let context = EventContext::for_turn(turn_id, Some(turn.input_message_id));
            let key = format!("{turn_id}/{CANCELLATION_MESSAGE_STEP}");
            ended_ok(self.emit(session_id, &context, key, crate::engine::cancellation_message()).await)?;
            preview = Some(crate::engine::CANCELLED_MESSAGE.into());
        }
        let end = TurnEnd {
            session: session_id,
            turn: turn_id,
            input_message_id: turn.input_message_id,
            iterations: turn.iteration,
            usage: turn.usage(),
            output_preview: preview,
        };
        end_turn(&self.loader.stores, self.bus.as_ref(), org, &end).await?;
        self.cancellations.remove(turn_id);
        Ok(())
    }

    /// Cancelled results for the client calls a cancelled turn leaves open.
    async fn close_calls(&self, turn: &TurnState, session_id: SessionId) -> Result<(), TurnError> {
        let context = EventContext::for_turn(turn.turn_id, Some(turn.input_message_id));
        for (id, name) in turn.pending_client_calls() {
            let data = ToolCompletedData::cancelled(id.clone(), name);
            let key = format!("{}/{}/tool.completed/{id}", turn.turn_id, turn.iteration);
            ended_ok(self.emit(session_id, &context, key, EventPayload::ToolCompleted(data)).await)?;
        }
        Ok(())
    }

    /// Accepts client tool results. When every requested call is answered, the session becomes
    /// active again and the next iteration's task is returned (and published). Results that
    /// lose a race with a cancel or a new message are refused as "not waiting".
    pub async fn submit_tool_results(
        &self,
        org: OrgId,
        session_id: SessionId,
        results: Vec<ToolResultInput>,
    ) -> Result<(usize, Option<IterationTask>), TurnError> {
        if results.is_empty() {
            return Err(TurnError::Invalid("tool_results must not be empty".into()));
        }
        let session = self.loader.session(org, session_id).await?;
        let (SessionStatus::WaitingForToolResults, Some(turn_id)) = (session.status, session.current_turn_id) else {
            return Err(TurnError::NotWaiting(session.status.as_str()));
        };
        let turn = TurnState::load(&self.loader.stores, session_id, turn_id).await?;
        let mut pending = turn.pending_client_calls();
        for (i, result) in results.iter().enumerate() {
            if results[..i].iter().any(|r| r.tool_call_id == result.tool_call_id) {
                return Err(TurnError::Invalid(format!("duplicate tool_call_id '{}'", result.tool_call_id)));
            }
            if !pending.iter().any(|(id, _)| *id == result.tool_call_id) {
                // Already answered: by an earlier submission, or by the end of the wait (a
                // cancel or a new message got there first, and a newer turn may be waiting on
                // calls of its own). Either way a conflict, not bad input.
                if self.was_requested(session_id, &result.tool_call_id).await? {
                    return Err(TurnError::Conflict(format!(
                        "Session is not waiting for tool results: tool_call_id '{}' is already answered",
                        result.tool_call_id
                    )));
                }
                return Err(TurnError::Invalid(format!(
                    "tool_call_id '{}' is not awaiting a result",
                    result.tool_call_id
                )));
            }
            let size = result.result.as_ref().map_or(0, |v| v.to_string().len())
                + result.error.as_ref().map_or(0, String::len);
            if size > MAX_TOOL_RESULT_BYTES {
                return Err(TurnError::Invalid(format!(
                    "tool result for '{}' exceeds {MAX_TOOL_RESULT_BYTES} bytes",
                    result.tool_call_id
                )));
            }
        }
        let not_waiting = || TurnError::NotWaiting(SessionStatus::Idle.as_str());
        match self.record_tool_results(&turn, session_id, &results).await {
            Err(TurnError::Port(PortError::TurnEnded(_))) => return Err(not_waiting()),
            other => other?,
        }
        pending.retain(|(id, _)| !results.iter().any(|r| r.tool_call_id == *id));
        if !pending.is_empty() {
            return Ok((results.len(), None));
        }
        let change = StatusChange {
            expect: vec![SessionStatus::WaitingForToolResults],
            expect_turn: Some(turn_id),
            to: SessionStatus::Active,
            turn: Some(turn_id),
            ..StatusChange::default()
        };
        if self.loader.stores.sessions.change_status(org, session_id, change).await?.is_none() {
            return Err(not_waiting());
        }
        let task = turn.task(org, session_id, turn.iteration + 1);
        self.publish(&task).await?;
        Ok((results.len(), Some(task)))
    }

    /// Whether any turn of the session requested this tool call.
    async fn was_requested(&self, session_id: SessionId, call_id: &str) -> Result<bool, TurnError> {
        let filter = EventFilter { types: vec!["tool.call_requested".into()], ..EventFilter::default() };
        let requests = self.loader.stores.events.list_events(session_id, &filter).await?;
        Ok(requests.iter().any(|e| {
            matches!(&e.payload, EventPayload::ToolCallRequested(d) if d.tool_calls.iter().any(|c| c.id == call_id))
        }))
    }

    /// Cancels the running turn: `turn.cancelled` at once (the fence makes it the turn's one
    /// outcome, or refuses it when the turn ended first: a no-op), then the running iteration is
    /// told — in process, or through the bus for a remote worker — and ends the turn with the
    /// cancellation message and `session.idled`. A turn waiting for client tools is ended here.
    pub async fn cancel(&self, org: OrgId, session_id: SessionId) -> Result<CancelOutcome, TurnError> {
        let session = self.loader.session(org, session_id).await?;
        let (true, Some(turn_id)) = (session.status.is_busy(), session.current_turn_id) else {
            return Ok(CancelOutcome::NoOp);
        };
        let input_message_id = self.turn_input_message(session_id, turn_id).await?;
        let context = EventContext::for_turn(turn_id, input_message_id);
        let data = TurnCancelledData { turn_id, reason: Some("User requested cancellation".into()), usage: None };
        match self
            .emit(session_id, &context, format!("{turn_id}/turn.cancelled"), EventPayload::TurnCancelled(data))
            .await
        {
            Ok(_) => {}
            // The turn reached its outcome first.
            Err(TurnError::Port(PortError::TurnEnded(_))) => return Ok(CancelOutcome::NoOp),
            Err(error) => return Err(error),
        }
        self.cancellations.cancel(turn_id);
        if session.status == SessionStatus::WaitingForToolResults {
            let stage = self.loader.stores.events.turn_stage(session_id, turn_id).await?;
            self.settle(org, session_id, turn_id, stage).await?;
        }
        Ok(CancelOutcome::Cancelled)
    }

    /// The message that started a turn (read from its `turn.started`).
    async fn turn_input_message(&self, session_id: SessionId, turn: TurnId) -> Result<Option<MessageId>, TurnError> {
        let started = self.loader.stores.events.get_by_key(session_id, &format!("{turn}/turn.started")).await?;
        Ok(match started.map(|e| e.payload) {
            Some(EventPayload::TurnStarted(d)) => Some(d.input_message_id),
            _ => None,
        })
    }

    /// Ends a client-tool wait because a new message arrived: the pending calls get error results
    /// and the turn is cancelled and settled here (no worker is running it).
    async fn abandon_wait(&self, org: OrgId, session_id: SessionId, turn_id: TurnId) -> Result<(), TurnError> {
        let turn = TurnState::load(&self.loader.stores, session_id, turn_id).await?;
        let results = turn
            .pending_client_calls()
            .into_iter()
            .map(|(id, _)| ToolResultInput {
                tool_call_id: id,
                result: None,
                error: Some("Cancelled: a new message was sent.".into()),
            })
            .collect::<Vec<_>>();
        ended_ok(self.record_tool_results(&turn, session_id, &results).await)?;
        let context = EventContext::for_turn(turn_id, Some(turn.input_message_id));
        let data = TurnCancelledData { turn_id, reason: Some("Superseded by a new message".into()), usage: None };
        ended_ok(
            self.emit(session_id, &context, format!("{turn_id}/turn.cancelled"), EventPayload::TurnCancelled(data))
                .await,
        )?;
        self.cancellations.cancel(turn_id);
        let stage = self.loader.stores.events.turn_stage(session_id, turn_id).await?;
        self.settle(org, session_id, turn_id, stage).await
    }

    /// Emits `tool.completed` for client results of the turn's waiting iteration.
    async fn record_tool_results(
        &self,
        turn: &TurnState,
        session_id: SessionId,
        results: &[ToolResultInput],
    ) -> Result<(), TurnError> {
        let context = EventContext::for_turn(turn.turn_id, Some(turn.input_message_id));
        for result in results {
            let success = result.error.is_none();
            let data = ToolCompletedData {
                tool_call_id: result.tool_call_id.clone(),
                tool_name: String::new(),
                success,
                status: if success { "success" } else { "error" }.into(),
                result: success
                    .then(|| vec![ContentPart::text(result.result.clone().unwrap_or(Value::Null).to_string())]),
                error: result.error.clone(),
                duration_ms: None,
                capability_id: None,
            };
            let key = format!("{}/{}/tool.completed/{}", turn.turn_id, turn.iteration, result.tool_call_id);
            self.emit(session_id, &context, key, EventPayload::ToolCompleted(data)).await?;
        }
        Ok(())
    }

    /// Runs one iteration task. Does not publish a follow-up.
    pub async fn run_iteration(&self, task: &IterationTask) -> Result<IterationOutcome, TurnError> {
        let mut inputs = self.loader.inputs(task.org_id, task.session_id, Some(task.turn_id)).await?;
        let turn_events = std::mem::take(&mut inputs.turn_events);
        let context = inspect_turn_context(inputs, &self.loader.capabilities, self.loader.grade)
            .map_err(|e| TurnError::Invalid(e.to_string()))?;
        let host = self.host(task.org_id);
        let cancel = self.cancellations.signal(task.turn_id);
        let outcome = match self.engine.run_iteration(&context, task, &turn_events, &host, &cancel).await {
            Ok(outcome) => outcome,
            // The turn reached its outcome elsewhere (a cancel, a new message): this run is over.
            Err(EngineError::Port(PortError::TurnEnded(_))) => IterationOutcome::Cancelled,
            Err(error) => return Err(error.into()),
        };
        self.cancellations.remove(task.turn_id);
        Ok(outcome)
    }

    /// Runs a task and publishes the next iteration when it asks for one (with a task delivery: DEV_MODE).
    pub async fn process_task(&self, task: &IterationTask) -> Result<IterationOutcome, TurnError> {
        let outcome = self.run_iteration(task).await?;
        if outcome == IterationOutcome::Continue {
            self.publish(&task.next()).await?;
        }
        Ok(outcome)
    }

    /// Runs iterations inline until the turn ends or waits for client tools.
    pub async fn run_until_rest(&self, task: IterationTask) -> Result<IterationOutcome, TurnError> {
        let mut task = task;
        loop {
            let outcome = self.run_iteration(&task).await?;
            if outcome != IterationOutcome::Continue {
                return Ok(outcome);
            }
            task = task.next();
        }
    }

    /// The raw inputs of a task's iteration (for a remote worker, which merges them itself).
    pub async fn task_inputs(&self, task: &IterationTask) -> Result<crate::context::TurnInputs, TurnError> {
        Ok(self.loader.inputs(task.org_id, task.session_id, Some(task.turn_id)).await?)
    }

    /// A session's conversation through `through` (see [`TurnLoader::conversation_through`]):
    /// what a remote worker's generation left out and the control plane puts back.
    pub async fn conversation_through(
        &self,
        session: SessionId,
        through: i64,
    ) -> Result<crate::domain::Conversation, TurnError> {
        Ok(self.loader.conversation_through(session, through).await?)
    }

    /// The store-backed host for a remote worker's effects in `org`.
    pub fn host(&self, org: OrgId) -> StoreIterationHost {
        StoreIterationHost::new(self.loader.stores.clone(), self.bus.clone(), org, self.loader.cipher.clone())
    }

    /// The sessions' workspace over this process's stores (secrets sealed with its cipher): what a
    /// remote worker's tools reach through the control plane.
    pub fn workspace(&self) -> crate::ports::StoreWorkspace {
        crate::ports::StoreWorkspace::new(
            self.loader.stores.files.clone(),
            self.loader.stores.values.clone(),
            self.loader.cipher.clone(),
        )
    }

    /// Whether a turn's worker should stop: its outcome (a cancel, or any other) is stored.
    pub async fn is_cancelled(&self, session: SessionId, turn: TurnId) -> Result<bool, TurnError> {
        Ok(self.loader.stores.events.turn_stage(session, turn).await?.is_terminal())
    }

    /// Ends a turn whose task ran out of attempts: the friendly message, `turn.failed`, then
    /// `session.idled` and the session back to idle. Idempotent (every step is keyed by the
    /// turn); a turn that reached another outcome first is only settled.
    pub async fn terminalise(&self, task: &IterationTask) -> Result<(), TurnError> {
        let turn_id = task.turn_id;
        let context = EventContext::for_turn(turn_id, Some(task.input_message_id));
        let key = |step: &str| format!("{turn_id}/{step}");
        let text = crate::driver::GENERIC_ERROR_MESSAGE;
        let mut message = Message::new(MessageRole::Agent, vec![ContentPart::text(text)]);
        message.phase = Some(crate::domain::MessagePhase::FinalAnswer);
        message.metadata = Some(serde_json::json!({"error_code": "processing_error"}));
        let completed = OutputMessageCompletedData {
            message,
            metadata: None,
            usage: None,
            error_code: Some("processing_error".into()),
            error_fields: None,
            error_disclosure: Some("standard".into()),
        };
        let notice = EventPayload::OutputMessageCompleted(completed);
        ended_ok(self.emit(task.session_id, &context, key("output.message.terminal"), notice).await)?;
        let failed = TurnFailedData {
            turn_id,
            error: text.into(),
            error_code: Some("processing_error".into()),
            error_fields: None,
            error_disclosure: Some("standard".into()),
        };
        ended_ok(self.emit(task.session_id, &context, key("turn.failed"), EventPayload::TurnFailed(failed)).await)?;
        match self.loader.stores.events.turn_stage(task.session_id, turn_id).await? {
            TurnStage::Idled => {}
            stage => self.settle(task.org_id, task.session_id, turn_id, stage).await?,
        }
        Ok(())
    }

    /// The merged context the next reason step of a session would use.
    pub async fn load_context(&self, org: OrgId, session_id: SessionId) -> Result<TurnContext, TurnError> {
        let inputs = self.loader.inputs(org, session_id, None).await?;
        inspect_turn_context(inputs, &self.loader.capabilities, self.loader.grade)
            .map_err(|e| TurnError::Invalid(e.to_string()))
    }
}

/// `Ok` for a step refused because the turn already ended (its outcome stands).
fn ended_ok<T>(result: Result<T, TurnError>) -> Result<(), TurnError> {
    match result {
        Ok(_) | Err(TurnError::Port(PortError::TurnEnded(_))) => Ok(()),
        Err(error) => Err(error),
    }
}

/// Facts about a turn read back from its events.
struct TurnState {
    turn_id: TurnId,
    input_message_id: crate::ids::MessageId,
    iteration: u32,
    events: Vec<Event>,
}

impl TurnState {
    async fn load(stores: &Stores, session: SessionId, turn_id: TurnId) -> Result<Self, TurnError> {
        // Nothing here reads what was sent to the model (the whole conversation again).
        let filter =
            EventFilter { turn_id: Some(turn_id), exclude: vec!["llm.generation".into()], ..EventFilter::default() };
        let events = stores.events.list_events(session, &filter).await?;
        let input_message_id = events
            .iter()
            .find_map(|e| match &e.payload {
                EventPayload::TurnStarted(d) => Some(d.input_message_id),
                _ => None,
            })
            .ok_or_else(|| TurnError::Port(PortError::Internal(format!("turn {turn_id} has no turn.started event"))))?;
        let iteration = events
            .iter()
            .filter_map(|e| match &e.payload {
                EventPayload::OutputMessageStarted(d) => d.iteration,
                _ => None,
            })
            .max()
            .unwrap_or(1);
        Ok(Self { turn_id, input_message_id, iteration, events })
    }

    /// The usage of the turn's saved model outputs.
    fn usage(&self) -> crate::domain::TokenUsage {
        let mut total = crate::domain::TokenUsage::default();
        for event in &self.events {
            if let EventPayload::OutputMessageCompleted(d) = &event.payload
                && let Some(usage) = &d.usage
            {
                total.add(usage);
            }
        }
        total
    }

    /// The text of the turn's last agent answer.
    fn last_answer(&self) -> Option<String> {
        self.events.iter().rev().find_map(|e| match &e.payload {
            EventPayload::OutputMessageCompleted(d) => Some(d.message.text().chars().take(200).collect()),
            _ => None,
        })
    }

    /// Client calls requested by the latest `tool.call_requested` that have no result yet.
    fn pending_client_calls(&self) -> Vec<(String, String)> {
        let Some(requested) = self.events.iter().rev().find_map(|e| match &e.payload {
            EventPayload::ToolCallRequested(d) => Some(d),
            _ => None,
        }) else {
            return Vec::new();
        };
        let answered = |id: &str| {
            self.events.iter().any(|e| matches!(&e.payload, EventPayload::ToolCompleted(d) if d.tool_call_id == id))
        };
        requested.tool_calls.iter().filter(|c| !answered(&c.id)).map(|c| (c.id.clone(), c.name.clone())).collect()
    }

    fn task(&self, org: OrgId, session_id: SessionId, iteration: u32) -> IterationTask {
        IterationTask {
            task_id: TaskId::new(),
            org_id: org,
            session_id,
            turn_id: self.turn_id,
            input_message_id: self.input_message_id,
            iteration,
        }
    }
}
