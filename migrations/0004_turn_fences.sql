-- The turn fence (everruns_core::events::FenceClass): the stage of each turn that has a stored
-- event — 0 open, 1 ended (turn.completed / turn.failed), 2 cancelled, 3 idled. Every append of a
-- turn's event upserts its row in the appending statement, conditionally on the stage admitting
-- the event; the row lock serialises a turn's appends, so the first terminal outcome wins and
-- `session.idled` is a turn's last event.
CREATE TABLE turn_fences (
    turn_id uuid PRIMARY KEY,
    session_id uuid NOT NULL CONSTRAINT turn_fences_session_id_fkey REFERENCES sessions (id) ON DELETE CASCADE,
    stage smallint NOT NULL CONSTRAINT turn_fences_stage_check CHECK (stage BETWEEN 0 AND 3)
);

CREATE INDEX turn_fences_session_id ON turn_fences (session_id);

-- Turns stored before the fence: the stage their events say.
INSERT INTO turn_fences (turn_id, session_id, stage)
SELECT turn_id, (array_agg(session_id))[1],
       max(CASE event_type
             WHEN 'session.idled' THEN 3
             WHEN 'turn.cancelled' THEN 2
             WHEN 'turn.completed' THEN 1
             WHEN 'turn.failed' THEN 1
             ELSE 0
           END)
FROM events
WHERE turn_id IS NOT NULL
GROUP BY turn_id;
