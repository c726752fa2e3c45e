//! A session's creation as one statement: its row, its sequence counter and `session.started`
//! (`TurnLedger::open_session`), where inserting the session and appending the event took two.

use everruns_core::domain::Session;
use everruns_core::events::{Event, NewEvent};
use everruns_core::ports::{PortError, PortResult};
use sqlx::types::Json;
use sqlx::{Arguments, PgPool};

use crate::generations::StoredData;
use crate::sessions::{insert_error, insert_session, session_arguments};

/// `insert_session!` (`$1`–`$26`), then the event (`$27`–`$34`: id, type, data, context, ts,
/// metadata, tags, key) at sequence 1, then its notification (`$35`–`$37`) at commit.
const OPEN_SESSION: &str = concat!(
    "WITH inserted AS (",
    insert_session!(),
    " RETURNING id), \
     allocated AS (INSERT INTO event_sequences (session_id, next_sequence) SELECT id, 2 FROM inserted \
       RETURNING session_id), \
     stored AS (INSERT INTO events (id, session_id, sequence, event_type, data, context, ts, metadata, tags, \
       idempotency_key) SELECT $27, session_id, 1, $28, $29, $30, $31, $32, $33, $34 FROM allocated RETURNING id) \
     SELECT CASE WHEN $35 THEN pg_notify($36, $37) END FROM stored"
);

/// Creates the session and stores `started` as its first event.
pub(crate) async fn open_session(
    pool: &PgPool,
    notify: bool,
    session: &Session,
    started: &NewEvent,
) -> PortResult<Event> {
    let mut event = started.event.clone();
    event.idempotency_key = started.idempotency_key.clone().or(event.idempotency_key);
    if event.session_id != session.id || event.context.turn_id.is_some() || event.is_ephemeral() {
        return Err(PortError::Invalid("a session opens with a stored event of its own, of no turn".into()));
    }
    let mut arguments = session_arguments(session)?;
    let encode = |err: sqlx::error::BoxDynError| PortError::Internal(format!("encode a session's first event: {err}"));
    arguments.add(event.id.uuid()).map_err(encode)?;
    arguments.add(event.event_type()).map_err(encode)?;
    arguments.add(Json(StoredData::of(&event))).map_err(encode)?;
    arguments.add(Json(&event.context)).map_err(encode)?;
    arguments.add(event.ts.as_datetime()).map_err(encode)?;
    arguments.add(event.metadata.as_ref().map(Json)).map_err(encode)?;
    arguments.add(Json(&event.tags)).map_err(encode)?;
    arguments.add(event.idempotency_key.as_deref()).map_err(encode)?;
    arguments.add(notify).map_err(encode)?;
    arguments.add(crate::EVENT_APPENDED_CHANNEL).map_err(encode)?;
    arguments.add(format!("{} {}", event.session_id, event.id)).map_err(encode)?;
    sqlx::query_with(OPEN_SESSION, arguments).execute(pool).await.map_err(|err| insert_error(session, err))?;
    event.sequence = Some(1);
    Ok(event)
}
