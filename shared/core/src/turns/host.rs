//! The store-backed [`IterationHost`]: persisted events go to the event store and then to the
//! bus (a duplicate re-emission is not published again); ephemeral events go to the bus only.

use std::sync::Arc;

use crate::domain::SessionStatus;
use crate::engine::{IterationHost, TurnEnd};
use crate::events::{Event, EventContext, EventPayload, NewEvent, SessionIdledData};
use crate::ids::{OrgId, SessionId, TaskId, TurnId};
use crate::ports::{
    EventBus, Finished, PortError, PortResult, SecretCipher, SessionWorkspace, StatusChange, StoreWorkspace, Stores,
    TurnFinish,
};

/// Runs an iteration's effects against the stores and the bus of this process.
#[derive(Clone)]
pub struct StoreIterationHost {
    stores: Stores,
    bus: Arc<dyn EventBus>,
    org: OrgId,
    workspace: StoreWorkspace,
}

impl StoreIterationHost {
    /// A host acting within `org`; its tools' workspace seals secrets with `cipher` (refused without).
    pub fn new(stores: Stores, bus: Arc<dyn EventBus>, org: OrgId, cipher: Option<Arc<dyn SecretCipher>>) -> Self {
        let workspace = StoreWorkspace::new(stores.files.clone(), stores.values.clone(), cipher);
        Self { stores, bus, org, workspace }
    }
}

/// Persists an event and publishes it unless it was already stored; publishes a live-only one
/// (ephemeral, or what the bus keeps out of the store) directly. Shared by the host and the turn
/// services.
pub async fn record_event(stores: &Stores, bus: &dyn EventBus, event: NewEvent) -> PortResult<Option<Event>> {
    if bus.is_live_only(&event.event) {
        bus.emit(Arc::new(event.event));
        return Ok(None);
    }
    let id = event.event.id;
    let stored = stores.events.append(event).await?;
    if stored.id == id {
        bus.emit(Arc::new(stored.clone()));
    }
    Ok(Some(stored))
}

/// Persists the persisted ones of `events` together (where the store can), then publishes every
/// event in its place: a live-only one (a delta between a message's start and its end) waits for
/// the write of those after it in the same burst instead of splitting it in two writes.
pub async fn record_in_order(stores: &Stores, bus: &dyn EventBus, events: Vec<NewEvent>) -> PortResult<()> {
    let Interleaved { persisted, live } = Interleaved::split(bus, events);
    let stored = stored_marking_fresh(stores, persisted).await?;
    publish_in_place(bus, stored, live);
    Ok(())
}

/// Persists `events` (none: no write), each marked with whether this write stored it.
async fn stored_marking_fresh(stores: &Stores, events: Vec<NewEvent>) -> PortResult<Vec<(Event, bool)>> {
    if events.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<_> = events.iter().map(|e| e.event.id).collect();
    let stored = stores.events.append_all(events).await?;
    Ok(stored
        .into_iter()
        .zip(ids)
        .map(|(event, id)| {
            let fresh = event.id == id;
            (event, fresh)
        })
        .collect())
}

/// A burst of events split for one write: the persisted ones in order, and each live-only one with
/// how many persisted ones come before it.
struct Interleaved {
    persisted: Vec<NewEvent>,
    live: Vec<(usize, Event)>,
}

impl Interleaved {
    fn split(bus: &dyn EventBus, events: Vec<NewEvent>) -> Self {
        let mut persisted = Vec::with_capacity(events.len());
        let mut live = Vec::new();
        for event in events {
            if bus.is_live_only(&event.event) {
                live.push((persisted.len(), event.event));
            } else {
                persisted.push(event);
            }
        }
        Self { persisted, live }
    }
}

/// The order to publish in: `stored` (each with whether this write stored it; a replayed key was
/// published when it was first stored) with the `live` ones put back in their places.
fn in_place<T>(stored: Vec<(T, bool)>, live: Vec<(usize, T)>) -> Vec<T> {
    let mut out = Vec::with_capacity(stored.len() + live.len());
    let mut live = live.into_iter().peekable();
    for (index, (event, fresh)) in stored.into_iter().enumerate() {
        while let Some((_, event)) = live.next_if(|(before, _)| *before <= index) {
            out.push(event);
        }
        if fresh {
            out.push(event);
        }
    }
    out.extend(live.map(|(_, event)| event));
    out
}

fn publish_in_place(bus: &dyn EventBus, stored: Vec<(Event, bool)>, live: Vec<(usize, Event)>) {
    for event in in_place(stored, live) {
        bus.emit(Arc::new(event));
    }
}

/// Persists events in order (together where the store can) without publishing them. Returns the
/// stored events and, apart, those this call stored — what is left to publish (a replayed key is
/// answered with the earlier event, published when it was stored).
pub async fn store_events(stores: &Stores, events: Vec<NewEvent>) -> PortResult<(Vec<Event>, Vec<Event>)> {
    let marked = stored_marking_fresh(stores, events).await?;
    let fresh = marked.iter().filter(|(_, fresh)| *fresh).map(|(event, _)| event.clone()).collect();
    Ok((marked.into_iter().map(|(event, _)| event).collect(), fresh))
}

#[async_trait::async_trait]
impl IterationHost for StoreIterationHost {
    async fn emit(&self, event: NewEvent) -> PortResult<Option<Event>> {
        record_event(&self.stores, self.bus.as_ref(), event).await
    }

    async fn await_tool_results(&self, session: SessionId, turn: TurnId) -> PortResult<()> {
        let change = StatusChange {
            expect: vec![SessionStatus::Active],
            expect_turn: Some(turn),
            to: SessionStatus::WaitingForToolResults,
            turn: Some(turn),
            ..StatusChange::default()
        };
        self.stores.sessions.change_status(self.org, session, change).await?;
        Ok(())
    }

    async fn end_turn(&self, end: TurnEnd) -> PortResult<()> {
        end_turn(&self.stores, self.bus.as_ref(), self.org, &end).await
    }

    fn workspace(&self) -> &dyn SessionWorkspace {
        &self.workspace
    }
}

/// Ends a turn: `session.idled` first — the turn's last event, carrying the session's usage with
/// this turn's added — then the session back to `idle` (only if the turn is still its current
/// turn; the conditional change adds the usage exactly once), and only then is `session.idled`
/// published. Until the session is idle, a new message settles the turn the same way, so a client
/// that has read `turn.completed` can post at once. Idempotent: the event is keyed and a repeat
/// finds the session idle already.
pub async fn end_turn(stores: &Stores, bus: &dyn EventBus, org: OrgId, end: &TurnEnd) -> PortResult<()> {
    finish_turn(stores, bus, org, end, Vec::new(), None).await.map(|_| ())
}

/// Ends a turn whose last events (`run`, not stored yet; live-only ones are published in their
/// places) come with its end: one write where the stores' [`TurnLedger`](crate::ports::TurnLedger)
/// can (the run, `session.idled` and the session idle together — with `task`, the claimed task of
/// the ending iteration, completed too — then all published), else the run stored and
/// [`end_turn_holding`]. Returns whether `task` was completed.
pub async fn finish_turn(
    stores: &Stores,
    bus: &dyn EventBus,
    org: OrgId,
    end: &TurnEnd,
    run: Vec<NewEvent>,
    task: Option<(TaskId, String)>,
) -> PortResult<bool> {
    finish_turn_observed(stores, bus, org, end, run, task, |_| {}).await
}

/// [`finish_turn`], showing `observe` what the one write stored (in order, before it is
/// published) when the ledger took the end as one write.
pub(crate) async fn finish_turn_observed(
    stores: &Stores,
    bus: &dyn EventBus,
    org: OrgId,
    end: &TurnEnd,
    run: Vec<NewEvent>,
    task: Option<(TaskId, String)>,
    observe: impl FnOnce(&[Event]),
) -> PortResult<bool> {
    let Interleaved { persisted: run, live } = Interleaved::split(bus, run);
    let idled = idled_event(end, None);
    let run = if bus.is_live_only(&idled.event) {
        run
    } else {
        match stores.turns.finish_turn(org, TurnFinish { events: run, idled, end: end.clone(), task }).await? {
            Finished::Done { events, task_completed } => {
                observe(&events);
                publish_in_place(bus, events.into_iter().map(|event| (event, true)).collect(), live);
                return Ok(task_completed);
            }
            Finished::Declined(run) => run,
        }
    };
    let stored = stored_marking_fresh(stores, run).await?;
    end_turn_holding(stores, bus, org, end, in_place(stored, live)).await?;
    Ok(false)
}

/// `session.idled` of a turn's end, carrying `usage` (the session's total).
pub fn idled_event(end: &TurnEnd, usage: Option<crate::domain::TokenUsage>) -> NewEvent {
    let idled = SessionIdledData { turn_id: end.turn, iterations: Some(end.iterations), usage };
    NewEvent::new(
        end.session,
        EventContext::for_turn(end.turn, Some(end.input_message_id)),
        EventPayload::SessionIdled(idled),
    )
    .with_key(format!("{}/session.idled", end.turn))
}

/// [`end_turn`] for a turn whose last events are stored but not yet published (`held`, in order):
/// they are published after the session is idle, before `session.idled` — so a client that reads
/// the turn's end finds the session idle when it posts the next message (instead of settling the
/// turn a second time beside the worker). They are published whatever happens to the rest.
pub async fn end_turn_holding(
    stores: &Stores,
    bus: &dyn EventBus,
    org: OrgId,
    end: &TurnEnd,
    held: Vec<Event>,
) -> PortResult<()> {
    let mut publish = held;
    let result = idle_after(stores, bus, org, end, &mut publish).await;
    for event in publish {
        bus.emit(Arc::new(event));
    }
    result
}

/// Stores `session.idled` (added to `publish` when newly stored) and sets the session idle.
async fn idle_after(
    stores: &Stores,
    bus: &dyn EventBus,
    org: OrgId,
    end: &TurnEnd,
    publish: &mut Vec<Event>,
) -> PortResult<()> {
    let Some(session) = stores.sessions.get_session(org, end.session).await? else {
        // Deleted meanwhile: nothing left to end.
        return Ok(());
    };
    let running = session.status.is_busy() && session.current_turn_id == Some(end.turn);
    let mut total = session.usage.unwrap_or_default();
    if running {
        total.add(&end.usage);
    }
    let event = idled_event(end, Some(total));
    let mut stored_idled = Vec::new();
    if bus.is_live_only(&event.event) {
        stored_idled.push(event.event);
    } else {
        match store_events(stores, vec![event]).await {
            Ok((_, fresh)) => stored_idled = fresh,
            // Refused: the turn was idled under another key (nothing of it may follow).
            Err(PortError::TurnEnded(_)) => {}
            Err(PortError::NotFound { .. }) => return Ok(()),
            Err(error) => return Err(error),
        }
    }
    let changed = if running {
        let change = StatusChange {
            expect: vec![SessionStatus::Active, SessionStatus::WaitingForToolResults],
            expect_turn: Some(end.turn),
            to: SessionStatus::Idle,
            turn: None,
            add_usage: Some(end.usage),
            output_preview: end.output_preview.clone(),
            ..StatusChange::default()
        };
        stores.sessions.change_status(org, end.session, change).await.map(|_| ())
    } else {
        Ok(())
    };
    publish.extend(stored_idled);
    changed
}

#[cfg(test)]
mod tests {
    use super::in_place;

    #[test]
    fn live_events_are_published_where_they_stood_and_replays_not_again() {
        // Stored: 1, 2 (a replay, published before), 3; live: 10 before 1, 20 and 21 before 3, 30 last.
        let stored = vec![(1, true), (2, false), (3, true)];
        let live = vec![(0, 10), (2, 20), (2, 21), (3, 30)];
        assert_eq!(in_place(stored, live), [10, 1, 20, 21, 3, 30]);
        assert_eq!(in_place(Vec::new(), vec![(0, 7), (0, 8)]), [7, 8], "live ones alone, in order");
        assert_eq!(in_place(vec![(1, true)], Vec::new()), [1]);
    }
}
