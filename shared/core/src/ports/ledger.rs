//! The turn ledger port: the writes that move a session between turns, each as one unit where
//! the store can — a status change with the events (and the task) that go with it. A turn's start
//! is one PostgreSQL statement instead of three; a store that cannot write across tables at once
//! applies the parts in order, which is what the turn services did before. A session's creation
//! with its `session.started` is the first such write.

use super::{IterationTask, PortResult, StatusChange};
use crate::domain::Session;
use crate::engine::TurnEnd;
use crate::events::{Event, NewEvent};
use crate::ids::{OrgId, SessionId, TaskId};

/// A turn's start: the status change, then — only if it applied — the turn's first events and,
/// where tasks are rows of the same store, its first task.
#[derive(Debug, Clone)]
pub struct TurnStart {
    /// The conditional status change (idle → active with the new turn).
    pub change: StatusChange,
    /// The turn's first events, in order (persisted ones only).
    pub events: Vec<NewEvent>,
    /// The first task, queued with the start (see [`TaskDelivery::queues_with_turn`](super::TaskDelivery::queues_with_turn)).
    pub task: Option<QueuedTask>,
}

/// What a [`TurnStart`] that applied wrote.
#[derive(Debug, Clone)]
pub struct StartedTurn {
    /// The stored events, with their sequences.
    pub events: Vec<Event>,
    /// The session as the start left it, where the store has it from the same write (a turn's
    /// context can then be primed without reading the session again).
    pub session: Option<Session>,
}

/// A task queued together with the write that creates it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueuedTask {
    /// The task.
    pub task: IterationTask,
    /// Attempts before it is given up.
    pub max_attempts: u32,
    /// The worker it is committed leased to (its first attempt), when one was ready to run it at
    /// once (see [`TaskDelivery::reserve`](super::TaskDelivery::reserve)); otherwise it is
    /// committed pending. A handed task whose worker vanishes is reclaimed when the lease lapses.
    pub handed_to: Option<HandedTo>,
}

/// The worker a queued task is leased to as it is committed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HandedTo {
    /// The lease's owner.
    pub owner: String,
    /// The lease.
    pub lease: std::time::Duration,
}

/// A turn's end: its last events, then `session.idled`, and the session back to idle with the
/// turn's usage added — what [`end_turn_holding`](crate::turns::end_turn_holding) does in turn.
#[derive(Debug, Clone)]
pub struct TurnFinish {
    /// The turn's last events, not stored yet (persisted ones of the turn only).
    pub events: Vec<NewEvent>,
    /// `session.idled`, whose usage the ledger sets to the session's new total.
    pub idled: NewEvent,
    /// The end.
    pub end: TurnEnd,
    /// The claimed task whose iteration ends the turn, and its lease's owner: completed with the
    /// end where the store can (a task no longer held is left alone).
    pub task: Option<(TaskId, String)>,
}

/// What became of a [`TurnFinish`].
#[derive(Debug)]
pub enum Finished {
    /// All of it is stored and the session is idle.
    Done {
        /// The stored events, `session.idled` last.
        events: Vec<Event>,
        /// Whether the finish's task was completed with it.
        task_completed: bool,
    },
    /// Nothing was written: the store cannot do it as one write, or not this time (the session
    /// no longer runs the turn, the turn's fence or a stored key is in the way). The caller
    /// applies the parts in turn; here are its events back.
    Declined(Vec<NewEvent>),
}

/// Writes that change a session's status together with what goes with the change.
#[async_trait::async_trait]
pub trait TurnLedger: Send + Sync {
    /// Applies `start.change` and, only if it applied, appends `start.events` (consecutive
    /// sequences, fences honoured) and queues `start.task`. `Ok(None)` when the change's
    /// expectations do not hold (nothing is written); `NotFound` when the session does not exist.
    /// Returns the stored events and, where the write returns it, the session after the change.
    async fn start_turn(&self, org: OrgId, session: SessionId, start: TurnStart) -> PortResult<Option<StartedTurn>>;

    /// Ends a turn as one write when the session still runs it and its fence admits the events
    /// and `session.idled` after them; otherwise (and by default) declines, writing nothing.
    async fn finish_turn(&self, org: OrgId, finish: TurnFinish) -> PortResult<Finished> {
        let _ = org;
        Ok(Finished::Declined(finish.events))
    }

    /// Creates `session` together with its first event (`session.started`, of no turn) as one
    /// write, and returns the stored event. Fails as
    /// [`insert_session`](super::SessionStore::insert_session) does (`Conflict` for a known id,
    /// `NotFound` for a missing harness). `Ok(None)` (the default): nothing was written, and the
    /// caller inserts the session and appends the event in turn.
    async fn open_session(&self, session: &Session, started: &NewEvent) -> PortResult<Option<Event>> {
        let _ = (session, started);
        Ok(None)
    }
}
