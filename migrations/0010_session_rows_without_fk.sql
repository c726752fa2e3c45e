-- A session's own log rows (its events, its turns' fences, its sequence counter) no longer
-- reference the session through foreign keys. Every statement that writes them first locks the
-- session row (`FOR KEY SHARE` for an append, `FOR NO KEY UPDATE` for a turn's start and end),
-- which proves the session exists as the key check did; the check ran once more per stored row
-- (about ten per turn). Deleting a session removes them itself: `delete_session` deletes the
-- session row, then, in the same transaction and after that row's lock is held, its events,
-- fences and counter (see `PgSessionStore`), so an append that committed while the delete
-- waited leaves nothing behind.
ALTER TABLE events DROP CONSTRAINT events_session_id_fkey;
ALTER TABLE turn_fences DROP CONSTRAINT turn_fences_session_id_fkey;
ALTER TABLE event_sequences DROP CONSTRAINT event_sequences_session_id_fkey;
