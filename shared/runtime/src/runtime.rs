//! `InProcessRuntime`: sends messages and runs turns to completion inside the caller's process.

use everruns_core::PlatformDefinition;
use everruns_core::context::TurnContext;
use everruns_core::domain::{Message, MessageRole, Session};
use everruns_core::engine::IterationOutcome;
use everruns_core::events::{Event, EventPayload};
use everruns_core::ids::{HarnessId, OrgId, SessionId, TurnId};
use everruns_core::ports::{EventFilter, IterationTask, PortError};
use everruns_core::turns::{CancelOutcome, ToolResultInput, TurnError, TurnService};

/// A runtime failure.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    /// A turn service call failed.
    #[error(transparent)]
    Turn(#[from] TurnError),
    /// Storage failed.
    #[error(transparent)]
    Port(#[from] PortError),
    /// The platform defines no harness with the Default role and none was given.
    #[error("no harness: give one with .harness(..) or define a built-in harness with the Default role")]
    NoHarness,
}

/// How a turn (or its resumption) came to rest.
#[derive(Debug, Clone)]
pub struct TurnReport {
    /// The turn.
    pub turn_id: TurnId,
    /// Completed, failed, cancelled, or waiting for client tool results.
    pub outcome: IterationOutcome,
    /// The last agent message of the turn.
    pub reply: Option<Message>,
}

/// Everruns running inside this process.
pub struct InProcessRuntime {
    turns: TurnService,
    platform: PlatformDefinition,
    org: OrgId,
    session_id: SessionId,
    harness_id: HarnessId,
}

impl InProcessRuntime {
    pub(crate) fn new(
        turns: TurnService,
        platform: PlatformDefinition,
        org: OrgId,
        session_id: SessionId,
        harness_id: HarnessId,
    ) -> Self {
        Self { turns, platform, org, session_id, harness_id }
    }

    /// The session created (or given) at build time.
    pub fn session_id(&self) -> SessionId {
        self.session_id
    }

    /// The platform definition the runtime runs.
    pub fn platform(&self) -> &PlatformDefinition {
        &self.platform
    }

    /// The turn services, for embedders that drive tasks themselves.
    pub fn turn_service(&self) -> &TurnService {
        &self.turns
    }

    /// Creates another session on the runtime's harness.
    pub async fn create_session(&self) -> Result<Session, RuntimeError> {
        let session = Session::new(self.org, self.harness_id);
        self.turns.stores().sessions.insert_session(&session).await?;
        Ok(session)
    }

    /// Sends a user text and runs the turn until it completes, fails, is cancelled, or waits
    /// for client tool results.
    pub async fn send_message(
        &self,
        session_id: SessionId,
        text: impl Into<String>,
    ) -> Result<TurnReport, RuntimeError> {
        self.send(session_id, Message::user_text(text)).await
    }

    /// Sends a user message and runs the turn to rest.
    pub async fn send(&self, session_id: SessionId, message: Message) -> Result<TurnReport, RuntimeError> {
        let (_, task) = self.turns.start_turn(self.org, session_id, message).await?;
        self.run(task).await
    }

    /// Submits client tool results and, once all are in, runs the turn on to rest.
    pub async fn submit_tool_results(
        &self,
        session_id: SessionId,
        results: Vec<ToolResultInput>,
    ) -> Result<Option<TurnReport>, RuntimeError> {
        match self.turns.submit_tool_results(self.org, session_id, results).await? {
            (_, Some(task)) => Ok(Some(self.run(task).await?)),
            (_, None) => Ok(None),
        }
    }

    /// Cancels the running turn of a session.
    pub async fn cancel(&self, session_id: SessionId) -> Result<CancelOutcome, RuntimeError> {
        Ok(self.turns.cancel(self.org, session_id).await?)
    }

    async fn run(&self, task: IterationTask) -> Result<TurnReport, RuntimeError> {
        let turn_id = task.turn_id;
        let session_id = task.session_id;
        let outcome = self.turns.run_until_rest(task).await?;
        let filter = EventFilter {
            turn_id: Some(turn_id),
            types: vec!["output.message.completed".into()],
            ..EventFilter::default()
        };
        let reply =
            self.turns.stores().events.list_events(session_id, &filter).await?.into_iter().rev().find_map(|e| match e
                .payload
            {
                EventPayload::OutputMessageCompleted(data) if data.message.role == MessageRole::Agent => {
                    Some(data.message)
                }
                _ => None,
            });
        Ok(TurnReport { turn_id, outcome, reply })
    }

    /// The merged context the next reason step of the session would use: harness chain, agent,
    /// session, filtered history, resolved model and the assembled runtime agent.
    pub async fn load_context(&self, session_id: SessionId) -> Result<TurnContext, RuntimeError> {
        Ok(self.turns.load_context(self.org, session_id).await?)
    }

    /// Every event the bus retained (all sessions, deltas included) — with the default in-memory
    /// bus; a production bus retains nothing.
    pub fn events(&self) -> Vec<Event> {
        self.turns.bus().collected_events()
    }

    /// The persisted events of a session, in sequence order.
    pub async fn session_events(&self, session_id: SessionId) -> Result<Vec<Event>, RuntimeError> {
        Ok(self.turns.stores().events.list_events(session_id, &EventFilter::default()).await?)
    }

    /// The session's conversation, rebuilt from its events.
    pub async fn messages(&self, session_id: SessionId) -> Result<Vec<Message>, RuntimeError> {
        Ok(everruns_core::context::history_from_events(&self.session_events(session_id).await?))
    }

    /// Reads a session.
    pub async fn session(&self, session_id: SessionId) -> Result<Session, RuntimeError> {
        self.turns
            .stores()
            .sessions
            .get_session(self.org, session_id)
            .await?
            .ok_or_else(|| RuntimeError::Port(PortError::not_found("session", session_id)))
    }
}
