//! Primed contexts: a handed task's first context made from its turn's start, without a read.
//!
//! A turn's start is one write that returns the session as it left it and the events it stored.
//! When the kept fold of the session was through the sequence just before those events, the fold
//! extended with them is the session's whole history through the start, and together with the
//! returned session it is everything the first iteration's context reads. What can change after
//! the start (a cancel, a steering message, the session's deletion) is an event stored later:
//! the start subscribes to the session's events *before* it writes, so every such event reaches
//! that subscription, which becomes the context stream's signal source. A context request finds
//! its task's entry here; a request that finds none, or a fold that moved on, reads as before.
//!
//! Entries live briefly: one is taken by the first context request of its task, and one nobody
//! asks for (its worker died between the lease and the request) goes after [`PRIMED_MAX_AGE`].

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::context::TurnInputs;
use crate::domain::Session;
use crate::engine::TurnEnd;
use crate::events::{Event, NewEvent};
use crate::ids::{OrgId, TaskId};
use crate::ports::{EventSubscription, IterationTask};

use super::{TurnError, TurnService, host};

/// Most primed contexts kept at once.
pub const PRIMED_CAPACITY: usize = 1024;
/// A primed context nobody asked for is dropped after this long.
pub const PRIMED_MAX_AGE: Duration = Duration::from_secs(30);

/// A handed task's first context as its start left it.
pub struct PrimedStart {
    /// The session after the start.
    pub session: Session,
    /// The sequence the session's kept fold was through right after the start.
    pub through: i64,
    /// The session's events from before the start was written.
    pub events: EventSubscription,
}

/// Primed starts by task, bounded in count and age.
#[derive(Default)]
pub struct PrimedStarts {
    entries: Mutex<HashMap<TaskId, (PrimedStart, Instant)>>,
}

impl PrimedStarts {
    /// Keeps `start` for `task`'s first context request (dropped when full).
    pub fn put(&self, task: TaskId, start: PrimedStart) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries.retain(|_, (_, at)| at.elapsed() < PRIMED_MAX_AGE);
        if entries.len() < PRIMED_CAPACITY {
            entries.insert(task, (start, Instant::now()));
        }
    }

    /// Takes `task`'s primed start, if one is kept and fresh.
    pub fn take(&self, task: TaskId) -> Option<PrimedStart> {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries.remove(&task).filter(|(_, at)| at.elapsed() < PRIMED_MAX_AGE).map(|(start, _)| start)
    }
}

/// The turn services' side of priming: the starts are kept in `begin`, these take them, and the
/// ends and new sessions keep the folds they need current.
impl TurnService {
    /// The primed start of a handed task, if this process made one (see [`PrimedStarts`]); the
    /// first context request of the task takes it.
    pub fn take_primed(&self, task: TaskId) -> Option<PrimedStart> {
        self.primed.take(task)
    }

    /// The inputs of `task`'s first iteration from its primed start, or `None` when the kept fold
    /// moved on (the caller reads them with [`task_inputs`](Self::task_inputs)).
    pub async fn primed_inputs(
        &self,
        task: &IterationTask,
        session: Session,
        through: i64,
    ) -> Result<Option<TurnInputs>, TurnError> {
        if session.id != task.session_id || session.organization_id != task.org_id {
            return Ok(None);
        }
        Ok(self.loader.primed_inputs(task.org_id, session, through, task.turn_id).await?)
    }

    /// A new session's `session.started` as stored: its kept fold starts there, so the first
    /// turn's context can be primed too.
    pub fn opened(&self, started: &Event) {
        self.loader.opened(started);
    }

    /// Ends a turn as [`finish_turn`](super::finish_turn) does, and extends the session's kept
    /// fold with what the one write stored (so the next turn's start can prime its context).
    pub async fn finish_turn(
        &self,
        org: OrgId,
        end: &TurnEnd,
        run: Vec<NewEvent>,
        task: Option<(TaskId, String)>,
    ) -> Result<bool, TurnError> {
        let stores = &self.loader.stores;
        let advance = |stored: &[Event]| {
            self.loader.advance_history(end.session, stored);
        };
        Ok(host::finish_turn_observed(stores, self.bus.as_ref(), org, end, run, task, advance).await?)
    }
}
