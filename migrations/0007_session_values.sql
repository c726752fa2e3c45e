-- A session's key-value storage for its tools (`kv_store`, `secret_store`): small values by
-- key in two spaces; secrets are stored sealed with the deployment key. They go with the session.
CREATE TABLE session_values (
    session_id uuid NOT NULL CONSTRAINT session_values_session_id_fkey REFERENCES sessions (id) ON DELETE CASCADE,
    space text NOT NULL CONSTRAINT session_values_space_check CHECK (space IN ('kv', 'secret')),
    key text NOT NULL,
    value bytea NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT session_values_pkey PRIMARY KEY (session_id, space, key)
);
