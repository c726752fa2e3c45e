//! `PgEventStore`: the append-only `events` table.
//!
//! Sequences: one transaction locks the session row (`FOR KEY SHARE`, which also proves it
//! exists), allocates the next sequence with an upsert of `event_sequences` (whose row lock
//! serialises the session's appends) and inserts the event. A failed insert rolls the counter
//! back, so sequences stay gap-free under any concurrency. Locking the session first keeps the
//! lock order of appends and `delete_session` the same, so they cannot deadlock.
//!
//! Idempotency: a keyed append first looks the key up; if a concurrent append stored it in
//! between, the insert hits the unique index `events_session_idempotency_key` and the stored row
//! is read back and returned instead.
//!
//! The turn fence (`turn_fences`, see `everruns_core::events::FenceClass`): an event of a turn is
//! inserted only if the same statement's conditional upsert of its turn's row admitted it. The
//! row lock serialises the turn's appends, and `ON CONFLICT … DO UPDATE … WHERE` judges the newest
//! committed stage, so the check cannot race. A refused append reads the key back (a replay is
//! still answered with its event) and is otherwise `TurnEnded`.
//!
//! Events are stored as columns (`event_type`, `data`, `context`, `turn_id`, …); the payload is
//! rebuilt from `{ "type": event_type, "data": data }`.

use chrono::{DateTime, Utc};
use everruns_core::events::{Event, EventContext, EventPayload, FenceClass, NewEvent, TurnStage};
use everruns_core::ids::{EventId, SessionId, TurnId};
use everruns_core::ports::{EventFilter, EventStore, PortError, PortResult, append_each};
use serde_json::Value;
use sqlx::types::Json;
use sqlx::{PgPool, Postgres, QueryBuilder};
use uuid::Uuid;

use crate::error::{Violation, corrupt, port_error, violation};
use crate::generations::{self, ConversationRef, FOLDED_TYPES, StoredData, take_reference};

/// The columns every read returns, in [`EventRow`] order.
macro_rules! event_columns {
    () => {
        "id, session_id, sequence, event_type, data, context, ts, metadata, tags, idempotency_key"
    };
}
pub(crate) use event_columns;

/// The Postgres [`EventStore`].
#[derive(Debug, Clone)]
pub struct PgEventStore {
    pool: PgPool,
    notify: bool,
}

impl PgEventStore {
    /// A store on the given pool.
    pub fn new(pool: PgPool) -> Self {
        Self { pool, notify: false }
    }

    /// A store that also announces every appended event on [`crate::EVENT_APPENDED_CHANNEL`]
    /// (payload `<session id> <event id>`), in the appending transaction: a process that does
    /// not serve SSE itself (the API function) makes its events reach the SSE bridge this way.
    pub fn notifying(pool: PgPool) -> Self {
        Self { pool, notify: true }
    }
}

#[derive(sqlx::FromRow)]
struct EventRow {
    id: Uuid,
    session_id: Uuid,
    sequence: i64,
    event_type: String,
    data: Json<Value>,
    context: Json<EventContext>,
    ts: DateTime<Utc>,
    metadata: Option<Json<Value>>,
    tags: Json<Vec<String>>,
    idempotency_key: Option<String>,
}

/// An event row as `json_agg` renders it (a read that returns a session with its events).
#[derive(serde::Deserialize)]
pub(crate) struct AggregatedEvent {
    id: Uuid,
    session_id: Uuid,
    sequence: i64,
    event_type: String,
    data: Value,
    context: EventContext,
    ts: DateTime<Utc>,
    metadata: Option<Value>,
    tags: Vec<String>,
    idempotency_key: Option<String>,
}

impl From<AggregatedEvent> for EventRow {
    fn from(e: AggregatedEvent) -> Self {
        Self {
            id: e.id,
            session_id: e.session_id,
            sequence: e.sequence,
            event_type: e.event_type,
            data: Json(e.data),
            context: Json(e.context),
            ts: e.ts,
            metadata: e.metadata.map(Json),
            tags: Json(e.tags),
            idempotency_key: e.idempotency_key,
        }
    }
}

/// The events of [`AggregatedEvent`] rows, completed as [`PgEventStore`] reads complete them.
pub(crate) async fn aggregated_events(
    pool: &PgPool,
    session: SessionId,
    rows: Vec<AggregatedEvent>,
) -> PortResult<Vec<Event>> {
    PgEventStore::new(pool.clone()).complete(session, rows.into_iter().map(EventRow::from).collect()).await
}

impl EventRow {
    /// The event, and the reference of a generation stored without its conversation.
    fn into_event(self) -> PortResult<(Event, Option<ConversationRef>)> {
        let mut data = self.data.0;
        let reference = take_reference(&self.event_type, &mut data).map_err(|err| corrupt("read event", err))?;
        let payload = EventPayload::from_data(&self.event_type, data).map_err(|err| corrupt("read event", err))?;
        let event = Event {
            id: EventId::from_uuid(self.id),
            ts: self.ts.into(),
            session_id: SessionId::from_uuid(self.session_id),
            context: self.context.0,
            payload,
            sequence: Some(self.sequence),
            metadata: self.metadata.map(|j| j.0),
            tags: self.tags.0,
            idempotency_key: self.idempotency_key,
        };
        Ok((event, reference))
    }
}

/// Events as the column arrays of one multi-row insert (`unnest($ids, $types, $data, $contexts,
/// $ts, $metadata, $tags, $keys, $turns)`).
pub(crate) struct EventColumns<'a> {
    pub ids: Vec<Uuid>,
    pub types: Vec<&'a str>,
    pub data: Vec<Json<StoredData<'a>>>,
    pub contexts: Vec<Json<&'a EventContext>>,
    pub ts: Vec<DateTime<Utc>>,
    pub metadata: Vec<Option<Json<&'a Value>>>,
    pub tags: Vec<Json<&'a [String]>>,
    pub keys: Vec<Option<&'a str>>,
    pub turns: Vec<Option<Uuid>>,
}

impl<'a> EventColumns<'a> {
    /// The columns, each value written straight into the statement's arguments (no
    /// intermediate `Value` trees).
    pub(crate) fn of(events: &'a [Event]) -> Self {
        Self {
            ids: events.iter().map(|e| e.id.uuid()).collect(),
            types: events.iter().map(|e| e.event_type()).collect(),
            data: events.iter().map(|e| Json(StoredData::of(e))).collect(),
            contexts: events.iter().map(|e| Json(&e.context)).collect(),
            ts: events.iter().map(|e| e.ts.as_datetime()).collect(),
            metadata: events.iter().map(|e| e.metadata.as_ref().map(Json)).collect(),
            tags: events.iter().map(|e| Json(e.tags.as_slice())).collect(),
            keys: events.iter().map(|e| e.idempotency_key.as_deref()).collect(),
            turns: events.iter().map(|e| e.context.turn_id.map(|t| t.uuid())).collect(),
        }
    }
}

/// The fence condition of an append: the turn, the stages that admit it and the stage it moves to.
pub(crate) struct Fence {
    pub turn: Option<Uuid>,
    pub admitted: Vec<i16>,
    pub target: i16,
}

impl Fence {
    pub(crate) fn of(event: &Event) -> Self {
        match (FenceClass::of(event), event.context.turn_id) {
            (Some(class), Some(turn)) => Self {
                turn: Some(turn.uuid()),
                admitted: class.admitted_at().iter().map(|s| s.code()).collect(),
                target: class.target().code(),
            },
            _ => Self { turn: None, admitted: Vec::new(), target: 0 },
        }
    }
}

/// Why an append's transaction did not store the event.
enum AppendFailure {
    /// The session does not exist, or the turn's fence refused the event.
    NotStored,
    /// A database error.
    Sql(sqlx::Error),
}

impl From<sqlx::Error> for AppendFailure {
    fn from(err: sqlx::Error) -> Self {
        Self::Sql(err)
    }
}

impl PgEventStore {
    /// Allocates the next sequence and inserts the event in one transaction; returns the sequence.
    /// One statement, so one round trip and its own transaction: the session's next sequence
    /// (the row lock serialises appends per session), the event, and the notification (sent at
    /// commit). A failing insert rolls the sequence back with it, so sequences stay gap-free.
    async fn insert(&self, event: &Event) -> Result<i64, AppendFailure> {
        let fence = Fence::of(event);
        let sequence: Option<i64> = sqlx::query_scalar(concat!(
            "WITH session AS (SELECT id FROM sessions WHERE id = $2 FOR KEY SHARE), \
             fence AS (INSERT INTO turn_fences (turn_id, session_id, stage) SELECT $10::uuid, id, $14 FROM session \
               WHERE $10::uuid IS NOT NULL ON CONFLICT (turn_id) DO UPDATE \
               SET stage = GREATEST(turn_fences.stage, EXCLUDED.stage) WHERE turn_fences.stage = ANY($15) \
               RETURNING stage), \
             allocated AS (INSERT INTO event_sequences (session_id, next_sequence) SELECT id, 2 FROM session \
               WHERE $10::uuid IS NULL OR EXISTS (SELECT 1 FROM fence) \
               ON CONFLICT (session_id) DO UPDATE SET next_sequence = event_sequences.next_sequence + 1 \
               RETURNING next_sequence - 1 AS sequence), \
             stored AS (INSERT INTO events (",
            event_columns!(),
            ", turn_id) SELECT $1, $2, sequence, $3, $4, $5, $6, $7, $8, $9, $10 FROM allocated \
               RETURNING sequence) \
             SELECT sequence, CASE WHEN $11 THEN pg_notify($12, $13) END FROM stored"
        ))
        .bind(event.id.uuid())
        .bind(event.session_id.uuid())
        .bind(event.event_type())
        .bind(Json(StoredData::of(event)))
        .bind(Json(&event.context))
        .bind(event.ts.as_datetime())
        .bind(event.metadata.as_ref().map(Json))
        .bind(Json(&event.tags))
        .bind(event.idempotency_key.as_deref())
        .bind(event.context.turn_id.map(|t| t.uuid()))
        .bind(self.notify)
        .bind(crate::EVENT_APPENDED_CHANNEL)
        .bind(format!("{} {}", event.session_id, event.id))
        .bind(fence.target)
        .bind(&fence.admitted)
        .fetch_optional(&self.pool)
        .await?;
        sequence.ok_or(AppendFailure::NotStored)
    }

    /// Several events of one session in one statement: a block of sequences, the rows, and one
    /// notification for them all (`<session id> <first>..<last>`). Returns the first sequence.
    async fn insert_all(&self, events: &[Event], fence: &Fence) -> Result<i64, AppendFailure> {
        let session = events[0].session_id;
        let count = i64::try_from(events.len()).unwrap_or(i64::MAX);
        let columns = EventColumns::of(events);
        let first = sqlx::query_scalar::<_, Option<i64>>(concat!(
            "WITH session AS (SELECT id FROM sessions WHERE id = $1 FOR KEY SHARE), \
             fence AS (INSERT INTO turn_fences (turn_id, session_id, stage) SELECT $15::uuid, id, $16 FROM session \
               WHERE $15::uuid IS NOT NULL ON CONFLICT (turn_id) DO UPDATE \
               SET stage = GREATEST(turn_fences.stage, EXCLUDED.stage) WHERE turn_fences.stage = ANY($17) \
               RETURNING stage), \
             allocated AS (INSERT INTO event_sequences (session_id, next_sequence) SELECT id, 1 + $2 FROM session \
               WHERE $15::uuid IS NULL OR EXISTS (SELECT 1 FROM fence) \
               ON CONFLICT (session_id) DO UPDATE SET next_sequence = event_sequences.next_sequence + $2 \
               RETURNING next_sequence - $2 AS first), \
             rows AS (SELECT * FROM unnest($3::uuid[], $4::text[], $5::jsonb[], $6::jsonb[], $7::timestamptz[], \
               $8::jsonb[], $9::jsonb[], $10::text[], $11::uuid[]) WITH ORDINALITY \
               AS r(id, event_type, data, context, ts, metadata, tags, idempotency_key, turn_id, n)), \
             stored AS (INSERT INTO events (",
            event_columns!(),
            ", turn_id) SELECT r.id, $1, allocated.first + r.n - 1, r.event_type, r.data, r.context, r.ts, \
               r.metadata, r.tags, r.idempotency_key, r.turn_id FROM allocated, rows r RETURNING id) \
             SELECT allocated.first, \
               CASE WHEN $13 THEN pg_notify($14, $12 || ' ' || allocated.first || '..' || (allocated.first + $2 - 1)) END \
             FROM allocated WHERE EXISTS (SELECT 1 FROM stored)"
        ))
        .bind(session.uuid())
        .bind(count)
        .bind(columns.ids)
        .bind(columns.types)
        .bind(columns.data)
        .bind(columns.contexts)
        .bind(columns.ts)
        .bind(columns.metadata)
        .bind(columns.tags)
        .bind(columns.keys)
        .bind(columns.turns)
        .bind(session.to_string())
        .bind(self.notify)
        .bind(crate::EVENT_APPENDED_CHANNEL)
        .bind(fence.turn)
        .bind(fence.target)
        .bind(&fence.admitted)
        .fetch_optional(&self.pool)
        .await?
        .flatten();
        first.ok_or(AppendFailure::NotStored)
    }
}

impl PgEventStore {
    /// Rows → events, with the conversation of every generation stored by reference put back
    /// (one read of the session's conversation events through the latest reference).
    async fn complete(&self, session: SessionId, rows: Vec<EventRow>) -> PortResult<Vec<Event>> {
        let mut events = rows.into_iter().map(EventRow::into_event).collect::<PortResult<Vec<_>>>()?;
        let Some(through) = events.iter().filter_map(|(_, r)| r.map(|r| r.through())).max() else {
            return Ok(events.into_iter().map(|(event, _)| event).collect());
        };
        let rows = sqlx::query_as::<_, EventRow>(concat!(
            "SELECT ",
            event_columns!(),
            " FROM events WHERE session_id = $1 AND sequence <= $2 AND event_type = ANY($3) ORDER BY sequence"
        ))
        .bind(session.uuid())
        .bind(through)
        .bind(FOLDED_TYPES)
        .fetch_all(&self.pool)
        .await
        .map_err(|err| port_error("read conversation", err))?;
        let folded =
            rows.into_iter().map(|row| row.into_event().map(|(event, _)| event)).collect::<PortResult<Vec<_>>>()?;
        generations::complete(&mut events, &folded);
        Ok(events.into_iter().map(|(event, _)| event).collect())
    }

    /// Why an append stored nothing: the session is gone, or the turn's fence refused the event —
    /// unless its key was stored before (a replay), which is answered with that event.
    async fn not_stored(&self, event: &Event) -> PortResult<Event> {
        let session = event.session_id;
        if let Some(key) = &event.idempotency_key
            && let Some(stored) = self.get_by_key(session, key).await?
        {
            return Ok(stored);
        }
        let exists: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM sessions WHERE id = $1)")
            .bind(session.uuid())
            .fetch_one(&self.pool)
            .await
            .map_err(|err| port_error("append", err))?;
        match (exists, event.context.turn_id) {
            (true, Some(turn)) => Err(PortError::TurnEnded(turn.to_string())),
            _ => Err(PortError::not_found("session", session)),
        }
    }
}

impl PgEventStore {
    /// Appends a run of events that [`joins`] allows together: one statement for several.
    async fn append_run(&self, events: Vec<NewEvent>) -> PortResult<Vec<Event>> {
        if events.len() < 2 {
            return append_each(self, events).await;
        }
        let mut prepared = Vec::with_capacity(events.len());
        for NewEvent { mut event, idempotency_key } in events.iter().cloned() {
            event.idempotency_key = idempotency_key.or_else(|| event.idempotency_key.take());
            prepared.push(event);
        }
        // The run's last event decides the fence: every earlier one is the turn's work, which the
        // same stage (`Open`) admits and leaves unchanged.
        let fence = Fence::of(&prepared[prepared.len() - 1]);
        match self.insert_all(&prepared, &fence).await {
            Ok(first) => Ok(prepared
                .into_iter()
                .zip(first..)
                .map(|(mut event, sequence)| {
                    event.sequence = Some(sequence);
                    event
                })
                .collect()),
            // The session is gone or the turn ended: one by one says which, event by event.
            Err(AppendFailure::NotStored) => append_each(self, events).await,
            // A key or an id stored before: nothing was stored; one by one answers each.
            Err(AppendFailure::Sql(err)) if matches!(violation(&err), Some(Violation::Unique(_))) => {
                append_each(self, events).await
            }
            Err(AppendFailure::Sql(err)) => Err(port_error("append", err)),
        }
    }
}

/// Whether `next` may be stored in the same statement as the run ending with `last`: the same
/// session and turn, both persisted, and under one fence condition — the run's earlier events are
/// the turn's work (`Open`), and only its last may end or cancel the turn (both admitted at
/// `Open`, like the work before them).
fn joins(last: &Event, next: &Event) -> bool {
    let work = |e: &Event| FenceClass::of(e).is_none_or(|c| c == FenceClass::Open);
    next.session_id == last.session_id
        && !last.is_ephemeral()
        && !next.is_ephemeral()
        && next.context.turn_id == last.context.turn_id
        && work(last)
        && FenceClass::of(next)
            .is_none_or(|c| matches!(c, FenceClass::Open | FenceClass::Ended | FenceClass::Cancelled))
}

#[async_trait::async_trait]
impl EventStore for PgEventStore {
    async fn append(&self, new: NewEvent) -> PortResult<Event> {
        let NewEvent { mut event, idempotency_key } = new;
        // The key is taken from the envelope, else from the event; the stored event records it.
        let idempotency_key = idempotency_key.or_else(|| event.idempotency_key.take());
        event.idempotency_key.clone_from(&idempotency_key);
        if event.is_ephemeral() {
            return Err(PortError::Invalid(format!(
                "event type '{}' is ephemeral and is never stored",
                event.event_type()
            )));
        }
        let session = event.session_id;
        match self.insert(&event).await {
            Ok(sequence) => {
                event.sequence = Some(sequence);
                Ok(event)
            }
            Err(AppendFailure::NotStored) => self.not_stored(&event).await,
            Err(AppendFailure::Sql(err)) => {
                let violation = violation(&err);
                // A replayed key (or a concurrent append under it) stored nothing: answer with
                // the event stored under the key. A replay may meet the primary key first.
                if let (Some(Violation::Unique(_)), Some(key)) = (&violation, &idempotency_key)
                    && let Some(stored) = self.get_by_key(session, key).await?
                {
                    return Ok(stored);
                }
                match violation {
                    Some(Violation::Unique("events_pkey")) => {
                        Err(PortError::Conflict(format!("event '{}' already exists", event.id)))
                    }
                    _ => Err(port_error("append", err)),
                }
            }
        }
    }

    async fn append_all(&self, events: Vec<NewEvent>) -> PortResult<Vec<Event>> {
        let mut stored = Vec::with_capacity(events.len());
        let mut run: Vec<NewEvent> = Vec::new();
        for mut new in events {
            // The envelope's key, else the event's: the fence class may depend on it.
            new.event.idempotency_key = new.idempotency_key.clone().or(new.event.idempotency_key.take());
            if run.last().is_some_and(|last| !joins(&last.event, &new.event)) {
                stored.extend(self.append_run(std::mem::take(&mut run)).await?);
            }
            run.push(new);
        }
        if !run.is_empty() {
            stored.extend(self.append_run(run).await?);
        }
        Ok(stored)
    }

    async fn list_events(&self, session: SessionId, filter: &EventFilter) -> PortResult<Vec<Event>> {
        // Only the conditions a filter has go into the statement (one prepared statement per
        // shape): with `($n IS NULL OR …)` for all of them, PostgreSQL's generic plan could use
        // the index for the session only, and read every event of a long session to return the
        // few after a sequence or of one turn.
        // With a limit: the last `limit` matches (newest first in the subquery), oldest first.
        let mut query = QueryBuilder::<Postgres>::new(if filter.limit.is_some() {
            concat!("SELECT ", event_columns!(), " FROM (SELECT ", event_columns!(), " FROM events WHERE session_id = ")
        } else {
            concat!("SELECT ", event_columns!(), " FROM events WHERE session_id = ")
        });
        query.push_bind(session.uuid());
        if let Some(after) = filter.after_sequence {
            query.push(" AND sequence > ").push_bind(after);
        }
        if let Some(before) = filter.before_sequence {
            query.push(" AND sequence < ").push_bind(before);
        }
        if let Some(after) = filter.after_id {
            query.push(" AND id > ").push_bind(after.uuid());
        }
        if let Some(turn) = filter.turn_id {
            query.push(" AND turn_id = ").push_bind(turn.uuid());
        }
        if !filter.types.is_empty() {
            query.push(" AND event_type = ANY(").push_bind(filter.types.clone()).push(")");
        }
        if !filter.exclude.is_empty() {
            query.push(" AND NOT (event_type = ANY(").push_bind(filter.exclude.clone()).push("))");
        }
        match filter.limit {
            Some(limit) => query
                .push(" ORDER BY sequence DESC LIMIT ")
                .push_bind(i64::from(limit))
                .push(") AS last ORDER BY sequence"),
            None => query.push(" ORDER BY sequence"),
        };
        let rows = query
            .build_query_as::<EventRow>()
            .fetch_all(&self.pool)
            .await
            .map_err(|err| port_error("list_events", err))?;
        self.complete(session, rows).await
    }

    async fn get_event(&self, session: SessionId, id: EventId) -> PortResult<Option<Event>> {
        let row = sqlx::query_as::<_, EventRow>(concat!(
            "SELECT ",
            event_columns!(),
            " FROM events WHERE session_id = $1 AND id = $2"
        ))
        .bind(session.uuid())
        .bind(id.uuid())
        .fetch_optional(&self.pool)
        .await
        .map_err(|err| port_error("get_event", err))?;
        Ok(self.complete(session, row.into_iter().collect()).await?.pop())
    }

    async fn turn_stage(&self, session: SessionId, turn: TurnId) -> PortResult<TurnStage> {
        let stage: Option<i16> =
            sqlx::query_scalar("SELECT stage FROM turn_fences WHERE turn_id = $1 AND session_id = $2")
                .bind(turn.uuid())
                .bind(session.uuid())
                .fetch_optional(&self.pool)
                .await
                .map_err(|err| port_error("turn_stage", err))?;
        Ok(stage.map_or(TurnStage::Open, TurnStage::from_code))
    }

    async fn get_by_key(&self, session: SessionId, key: &str) -> PortResult<Option<Event>> {
        let row = sqlx::query_as::<_, EventRow>(concat!(
            "SELECT ",
            event_columns!(),
            " FROM events WHERE session_id = $1 AND idempotency_key = $2"
        ))
        .bind(session.uuid())
        .bind(key)
        .fetch_optional(&self.pool)
        .await
        .map_err(|err| port_error("get_by_key", err))?;
        Ok(self.complete(session, row.into_iter().collect()).await?.pop())
    }
}
