//! `PgTurnLedger`: a turn's start, and its end, each as one statement.
//!
//! The start — the conditional status change of the
//! session row, then (in data-modifying CTEs that read its `RETURNING`) the turn's fence row, a
//! block of sequences, the events and the first task, with their notifications sent at commit.
//! Nothing but the status change happens when its expectations do not hold: every later part
//! selects from the changed row. Three round trips and three commits became one.
//!
//! The row lock of the `UPDATE` (`FOR NO KEY UPDATE`) serialises the start with `delete_session`
//! (which locks the row `FOR UPDATE`), and the sequence upsert's row lock with concurrent appends
//! to the session, like [`crate::PgEventStore`]'s own appends.
//!
//! The end: the session row is locked while it still runs the turn, the turn's fence moves to
//! `Idled` if it admits the whole run (its last events, then `session.idled`), the session goes
//! idle with the turn's usage added, and the events are stored — `session.idled` carrying the new
//! usage, built in the statement from the updated row — and the claimed task of the ending
//! iteration completed. Five statements (the run, a session read, `session.idled`, the status
//! change, the task's completion) became one. When any condition fails nothing is written
//! and the caller takes the long way, which knows every special case.

use everruns_core::domain::{Session, TokenUsage};
use everruns_core::events::{Event, EventPayload, FenceClass, NewEvent, TurnStage};
use everruns_core::ids::{OrgId, SessionId};
use everruns_core::ports::{
    Finished, PortError, PortResult, QueuedTask, StartedTurn, TurnFinish, TurnLedger, TurnStart,
};
use sqlx::postgres::PgArguments;
use sqlx::types::Json;
use sqlx::{Arguments, FromRow, PgPool, Row};

use crate::error::{Violation, port_error, violation};
use crate::events::{EventColumns, Fence};
use crate::notify::TASK_AVAILABLE_CHANNEL;
use crate::sessions::{SessionRow, add_usage, change_arguments, session_columns, status_update, unchanged};

/// The Postgres [`TurnLedger`].
#[derive(Debug, Clone)]
pub struct PgTurnLedger {
    pool: PgPool,
    notify_events: bool,
    notify_tasks: bool,
}

impl PgTurnLedger {
    /// A ledger on `pool` that announces queued tasks on [`TASK_AVAILABLE_CHANNEL`] (as
    /// [`crate::PgTaskStore::new`]) and not appended events (as [`crate::PgEventStore::new`]).
    pub fn new(pool: PgPool) -> Self {
        Self { pool, notify_events: false, notify_tasks: true }
    }

    /// Also announces appended events on [`crate::EVENT_APPENDED_CHANNEL`] (as
    /// [`crate::PgEventStore::notifying`]).
    pub fn notifying_events(mut self) -> Self {
        self.notify_events = true;
        self
    }

    /// Does not announce queued tasks (another transport does, as [`crate::PgTaskStore::without_notify`]).
    pub fn without_task_notify(mut self) -> Self {
        self.notify_tasks = false;
        self
    }
}

/// Parameters: `$1`–`$10` the status change ([`status_update`]); `$11` the event count,
/// `$12`–`$20` the event columns, `$21`–`$23` the fence; `$24`–`$26` the events' notification;
/// `$27`–`$33` the task (none unless `$33`), `$34`–`$36` its notification (none for a handed task),
/// `$37`–`$38` the worker a task is handed to and its lease in milliseconds (NULL: queued pending).
/// A row when the change applied: the first sequence, the notifications (`void`), the session.
const START_TURN: &str = concat!(
    "WITH changed AS (",
    status_update!(),
    " RETURNING ",
    session_columns!(),
    "), \
     fence AS (INSERT INTO turn_fences (turn_id, session_id, stage) SELECT $21::uuid, id, $22 FROM changed \
       WHERE $21::uuid IS NOT NULL ON CONFLICT (turn_id) DO UPDATE \
       SET stage = GREATEST(turn_fences.stage, EXCLUDED.stage) WHERE turn_fences.stage = ANY($23) \
       RETURNING stage), \
     allocated AS (INSERT INTO event_sequences (session_id, next_sequence) SELECT id, 1 + $11 FROM changed \
       WHERE $21::uuid IS NULL OR EXISTS (SELECT 1 FROM fence) \
       ON CONFLICT (session_id) DO UPDATE SET next_sequence = event_sequences.next_sequence + $11 \
       RETURNING next_sequence - $11 AS first), \
     rows AS (SELECT * FROM unnest($12::uuid[], $13::text[], $14::jsonb[], $15::jsonb[], $16::timestamptz[], \
       $17::jsonb[], $18::jsonb[], $19::text[], $20::uuid[]) WITH ORDINALITY \
       AS r(id, event_type, data, context, ts, metadata, tags, idempotency_key, turn_id, n)), \
     stored AS (INSERT INTO events (id, session_id, sequence, event_type, data, context, ts, metadata, tags, \
       idempotency_key, turn_id) SELECT r.id, $1, allocated.first + r.n - 1, r.event_type, r.data, r.context, \
       r.ts, r.metadata, r.tags, r.idempotency_key, r.turn_id FROM allocated, rows r RETURNING id), \
     task AS (INSERT INTO iteration_tasks (id, org_id, session_id, turn_id, input_message_id, iteration, \
       max_attempts, idempotency_key, status, lease_owner, lease_expires_at, attempts) \
       SELECT $27, $2, id, $28, $29, $30, $31, $32, CASE WHEN $37::text IS NULL THEN 'pending' ELSE 'claimed' END, \
         $37, CASE WHEN $37::text IS NOT NULL THEN now() + $38 * interval '1 millisecond' END, \
         CASE WHEN $37::text IS NULL THEN 0 ELSE 1 END \
       FROM changed WHERE $33 ON CONFLICT DO NOTHING RETURNING id) \
     SELECT (SELECT first FROM allocated), \
       CASE WHEN $24 AND EXISTS (SELECT 1 FROM stored) THEN pg_notify($25, $26 || ' ' || \
         (SELECT first FROM allocated) || '..' || ((SELECT first FROM allocated) + $11 - 1)) END, \
       (SELECT CASE WHEN $34 AND $37::text IS NULL THEN pg_notify($35, $36) END FROM task), ",
    session_columns!(),
    " FROM changed"
);

/// Parameters: `$1` session, `$2` org, `$3` turn, `$4` the fence stages that admit the whole end,
/// `$5` now, `$6` the turn's usage (added by [`add_usage`]), `$7` the output preview, `$8` the
/// event count (`session.idled` last), `$9`–`$17` the event columns, `$18`–`$19` `session.idled`'s
/// turn and iterations (its data is built here, with the session's new usage), `$20`–`$22` the
/// events' notification, `$23`–`$24` the task to complete and its lease's owner (NULL: none). A row
/// only when all of it was written: the first sequence, the usage, whether the task was completed.
const FINISH_TURN: &str = concat!(
    "WITH running AS (SELECT id FROM sessions WHERE id = $1 AND org_id = $2 \
       AND status IN ('active', 'waitingfortoolresults') AND current_turn_id = $3 FOR NO KEY UPDATE), \
     fence AS (INSERT INTO turn_fences (turn_id, session_id, stage) SELECT $3, id, 3 FROM running \
       ON CONFLICT (turn_id) DO UPDATE SET stage = 3 WHERE turn_fences.stage = ANY($4) RETURNING stage), \
     idle AS (UPDATE sessions SET status = 'idle', current_turn_id = NULL, finished_at = $5, usage = ",
    add_usage!(),
    ", output_preview = COALESCE($7, output_preview), updated_at = $5 \
       WHERE id = (SELECT id FROM running) AND EXISTS (SELECT 1 FROM fence) RETURNING id, usage), \
     allocated AS (INSERT INTO event_sequences (session_id, next_sequence) SELECT id, 1 + $8 FROM idle \
       ON CONFLICT (session_id) DO UPDATE SET next_sequence = event_sequences.next_sequence + $8 \
       RETURNING next_sequence - $8 AS first), \
     rows AS (SELECT * FROM unnest($9::uuid[], $10::text[], $11::jsonb[], $12::jsonb[], $13::timestamptz[], \
       $14::jsonb[], $15::jsonb[], $16::text[], $17::uuid[]) WITH ORDINALITY \
       AS r(id, event_type, data, context, ts, metadata, tags, idempotency_key, turn_id, n)), \
     stored AS (INSERT INTO events (id, session_id, sequence, event_type, data, context, ts, metadata, tags, \
       idempotency_key, turn_id) SELECT r.id, $1, allocated.first + r.n - 1, r.event_type, \
       CASE WHEN r.n = $8 THEN jsonb_build_object('turn_id', $18::text, 'iterations', $19::bigint, \
         'usage', (SELECT usage FROM idle)) ELSE r.data END, \
       r.context, r.ts, r.metadata, r.tags, r.idempotency_key, r.turn_id FROM allocated, rows r RETURNING id), \
     settled AS (UPDATE iteration_tasks SET status = 'completed', lease_owner = NULL, updated_at = now() \
       WHERE id = $23 AND status = 'claimed' AND lease_owner = $24 AND EXISTS (SELECT 1 FROM idle) RETURNING id) \
     SELECT allocated.first, (SELECT usage FROM idle), EXISTS (SELECT 1 FROM settled), \
       CASE WHEN $20 AND EXISTS (SELECT 1 FROM stored) THEN pg_notify($21, $22 || ' ' || allocated.first || '..' \
         || (allocated.first + $8 - 1)) END IS NULL \
     FROM allocated"
);

/// The stages from which `events` (in order) are all admitted: a turn's end is one write only
/// where its whole run of fence changes is (e.g. work, `turn.completed`, then `session.idled`
/// from `Open`; `session.idled` alone from `Ended` or `Cancelled`).
fn admitting_stages(events: &[Event]) -> Vec<i16> {
    [TurnStage::Open, TurnStage::Ended, TurnStage::Cancelled, TurnStage::Idled]
        .into_iter()
        .filter(|start| {
            let mut stage = *start;
            events.iter().all(|event| match FenceClass::of(event) {
                Some(class) if class.admits(stage) => {
                    stage = class.advance(stage);
                    true
                }
                _ => false,
            })
        })
        .map(TurnStage::code)
        .collect()
}

#[async_trait::async_trait]
impl TurnLedger for PgTurnLedger {
    async fn finish_turn(&self, org: OrgId, finish: TurnFinish) -> PortResult<Finished> {
        let TurnFinish { events: run, idled, end, task } = finish;
        let session = end.session;
        let ours = |e: &NewEvent| {
            e.event.session_id == session && e.event.context.turn_id == Some(end.turn) && !e.event.is_ephemeral()
        };
        if !run.iter().all(ours) || !ours(&idled) || !matches!(idled.event.payload, EventPayload::SessionIdled(_)) {
            return Ok(Finished::Declined(run));
        }
        let mut events = prepared(session, run.into_iter().chain([idled]).collect())?;
        let admitted = admitting_stages(&events);
        if admitted.is_empty() {
            return Ok(declined(events));
        }
        let encode = |err: sqlx::error::BoxDynError| PortError::Internal(format!("encode a turn's end: {err}"));
        let count = i64::try_from(events.len()).unwrap_or(i64::MAX);
        let mut arguments = PgArguments::default();
        arguments.add(session.uuid()).map_err(encode)?;
        arguments.add(org.uuid()).map_err(encode)?;
        arguments.add(end.turn.uuid()).map_err(encode)?;
        arguments.add(admitted).map_err(encode)?;
        arguments.add(everruns_core::time::Timestamp::now().as_datetime()).map_err(encode)?;
        arguments.add(Json(&end.usage)).map_err(encode)?;
        arguments.add(end.output_preview.as_deref()).map_err(encode)?;
        arguments.add(count).map_err(encode)?;
        add_columns(&mut arguments, &events).map_err(encode)?;
        arguments.add(end.turn.to_string()).map_err(encode)?;
        arguments.add(i64::from(end.iterations)).map_err(encode)?;
        arguments.add(self.notify_events).map_err(encode)?;
        arguments.add(crate::EVENT_APPENDED_CHANNEL).map_err(encode)?;
        arguments.add(session.to_string()).map_err(encode)?;
        arguments.add(task.as_ref().map(|(id, _)| id.uuid())).map_err(encode)?;
        arguments.add(task.as_ref().map(|(_, owner)| owner.as_str())).map_err(encode)?;
        let row: Option<(i64, Json<TokenUsage>, bool, bool)> =
            match sqlx::query_as_with(FINISH_TURN, arguments).fetch_optional(&self.pool).await {
                Ok(row) => row,
                // A key stored before (a redelivered end): the parts in turn answer each event.
                Err(err) if matches!(violation(&err), Some(Violation::Unique(_))) => None,
                Err(err) => return Err(port_error("finish_turn", err)),
            };
        let Some((first, Json(total), task_completed, _)) = row else {
            return Ok(declined(events));
        };
        if let Some(EventPayload::SessionIdled(data)) = events.last_mut().map(|e| &mut e.payload) {
            data.usage = Some(total);
        }
        for (event, sequence) in events.iter_mut().zip(first..) {
            event.sequence = Some(sequence);
        }
        Ok(Finished::Done { events, task_completed })
    }

    async fn open_session(&self, session: &Session, started: &NewEvent) -> PortResult<Option<Event>> {
        crate::opening::open_session(&self.pool, self.notify_events, session, started).await.map(Some)
    }

    async fn start_turn(&self, org: OrgId, session: SessionId, start: TurnStart) -> PortResult<Option<StartedTurn>> {
        let TurnStart { change, events, task } = start;
        let events = prepared(session, events)?;
        let mut arguments = change_arguments(org, session, &change)?;
        add_start(&mut arguments, session, &events, task.as_ref(), self)?;
        // One row when the change applied: the first sequence (NULL when the fence refused the
        // events), the notifications (`void`, not read), then the session as changed.
        let refused = |err: sqlx::Error| match violation(&err) {
            Some(Violation::Unique(constraint)) => {
                PortError::Conflict(format!("a turn's start met a stored row ({constraint})"))
            }
            _ => port_error("start_turn", err),
        };
        let row = sqlx::query_with(START_TURN, arguments).fetch_optional(&self.pool).await.map_err(refused)?;
        let Some(row) = row else {
            return unchanged(&self.pool, org, session).await.map(|()| None);
        };
        let first: Option<i64> = row.try_get(0).map_err(|err| port_error("start_turn", err))?;
        let changed = SessionRow::from_row(&row).map_err(|err| port_error("start_turn", err))?.into_session()?;
        if events.is_empty() {
            return Ok(Some(StartedTurn { events: Vec::new(), session: Some(changed) }));
        }
        // Only an event of a turn that already ended could be refused; a start's turn is new.
        let first = first.ok_or_else(|| PortError::Internal("the fence refused a new turn's first events".into()))?;
        let events = events
            .into_iter()
            .zip(first..)
            .map(|(mut event, sequence)| {
                event.sequence = Some(sequence);
                event
            })
            .collect();
        Ok(Some(StartedTurn { events, session: Some(changed) }))
    }
}

/// A declined end: its run given back (the prepared events without `session.idled`, each with its
/// key on the envelope too), not a copy kept aside for the case.
fn declined(mut events: Vec<Event>) -> Finished {
    events.pop();
    Finished::Declined(
        events.into_iter().map(|event| NewEvent { idempotency_key: event.idempotency_key.clone(), event }).collect(),
    )
}

/// The events to store: all of one session, none ephemeral, each with its key.
fn prepared(session: SessionId, events: Vec<NewEvent>) -> PortResult<Vec<Event>> {
    events
        .into_iter()
        .map(|NewEvent { mut event, idempotency_key }| {
            if event.session_id != session {
                return Err(PortError::Invalid("a turn's start stores events of its own session only".into()));
            }
            if event.is_ephemeral() {
                return Err(PortError::Invalid(format!(
                    "event type '{}' is ephemeral and is never stored",
                    event.event_type()
                )));
            }
            event.idempotency_key = idempotency_key.or_else(|| event.idempotency_key.take());
            Ok(event)
        })
        .collect()
}

/// Adds the nine column arrays of `events` (see [`EventColumns`]).
fn add_columns(arguments: &mut PgArguments, events: &[Event]) -> Result<(), sqlx::error::BoxDynError> {
    let columns = EventColumns::of(events);
    arguments.add(columns.ids)?;
    arguments.add(columns.types)?;
    arguments.add(columns.data)?;
    arguments.add(columns.contexts)?;
    arguments.add(columns.ts)?;
    arguments.add(columns.metadata)?;
    arguments.add(columns.tags)?;
    arguments.add(columns.keys)?;
    arguments.add(columns.turns)?;
    Ok(())
}

/// Adds `$11`–`$38` of [`START_TURN`].
fn add_start(
    arguments: &mut PgArguments,
    session: SessionId,
    events: &[Event],
    task: Option<&QueuedTask>,
    ledger: &PgTurnLedger,
) -> PortResult<()> {
    let encode = |err: sqlx::error::BoxDynError| PortError::Internal(format!("encode a turn's start: {err}"));
    // The last event decides the fence: the earlier ones are the turn's work, admitted at `Open`.
    let fence = events.last().map(Fence::of).unwrap_or(Fence { turn: None, admitted: Vec::new(), target: 0 });
    arguments.add(i64::try_from(events.len()).unwrap_or(i64::MAX)).map_err(encode)?;
    add_columns(arguments, events).map_err(encode)?;
    arguments.add(fence.turn).map_err(encode)?;
    arguments.add(fence.target).map_err(encode)?;
    arguments.add(fence.admitted).map_err(encode)?;
    arguments.add(ledger.notify_events).map_err(encode)?;
    arguments.add(crate::EVENT_APPENDED_CHANNEL).map_err(encode)?;
    arguments.add(session.to_string()).map_err(encode)?;
    let iteration =
        match task {
            Some(queued) => Some(i32::try_from(queued.task.iteration).ok().filter(|i| *i >= 1).ok_or_else(|| {
                PortError::Invalid(format!("task iteration {} is out of range", queued.task.iteration))
            })?),
            None => None,
        };
    if task.is_some_and(|q| q.task.session_id != session) {
        return Err(PortError::Invalid("a turn's start queues a task of its own session only".into()));
    }
    arguments.add(task.map(|q| q.task.task_id.uuid())).map_err(encode)?;
    arguments.add(task.map(|q| q.task.turn_id.uuid())).map_err(encode)?;
    arguments.add(task.map(|q| q.task.input_message_id.uuid())).map_err(encode)?;
    arguments.add(iteration).map_err(encode)?;
    arguments.add(task.map(|q| i32::try_from(q.max_attempts).unwrap_or(i32::MAX).max(1))).map_err(encode)?;
    arguments.add(task.map(|q| format!("{}/{}", q.task.turn_id, q.task.iteration))).map_err(encode)?;
    arguments.add(task.is_some()).map_err(encode)?;
    arguments.add(ledger.notify_tasks).map_err(encode)?;
    arguments.add(TASK_AVAILABLE_CHANNEL).map_err(encode)?;
    arguments.add(task.map(|q| q.task.task_id.to_string()).unwrap_or_default()).map_err(encode)?;
    let handed = task.and_then(|q| q.handed_to.as_ref());
    arguments.add(handed.map(|h| h.owner.as_str())).map_err(encode)?;
    arguments.add(handed.map_or(0, |h| crate::tasks::millis(h.lease))).map_err(encode)?;
    Ok(())
}
