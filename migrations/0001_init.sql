-- 0001_init: the first schema of the Postgres store adapter (shared/store-pg).
--
-- Rules of this directory: a migration, once written, is never edited; a later change gets a new
-- file (0002_…). The adapter applies them with `sqlx::migrate!` at startup.
--
-- Decisions:
-- * Ids are uuid columns; the `prefix_<32 hex>` text the API shows is derived by the application.
-- * No triggers (DEV_MODE's in-memory adapters could not reproduce them): every rule is a
--   constraint here or a statement in the adapter.
-- * Scalar fields are columns; nested values (capabilities, tools, files, tags, usage, …) are jsonb.
-- * `org_id` columns have no foreign key to `organizations`: organizations are not managed
--   through the store ports yet, and every store scopes its reads and writes by org itself.
-- * Names are unique per org among non-deleted agents and harnesses (partial unique indexes).
-- * Children of a session (events, its sequence counter, files, queued tasks) and models of a
--   provider go with their parent (ON DELETE CASCADE); harnesses are never hard-deleted.

CREATE TABLE organizations (
    id uuid PRIMARY KEY,
    name text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- The default organization used when AUTH_MODE=none: org_00000000000000000000000000000001.
INSERT INTO organizations (id, name) VALUES ('00000000-0000-0000-0000-000000000001', 'Default');

CREATE TABLE harnesses (
    id uuid PRIMARY KEY,
    org_id uuid NOT NULL,
    name text NOT NULL,
    display_name text,
    description text,
    system_prompt text,
    parent_harness_id uuid,
    default_model_id uuid,
    capabilities jsonb NOT NULL DEFAULT '[]',
    initial_files jsonb NOT NULL DEFAULT '[]',
    tags jsonb NOT NULL DEFAULT '[]',
    network_access jsonb,
    parallel_tool_calls boolean,
    mcp_servers jsonb,
    embedder_metadata jsonb,
    is_built_in boolean NOT NULL DEFAULT false,
    -- Roles of a built-in harness (`base`, `default`, `chat`).
    roles text[] NOT NULL DEFAULT '{}',
    status text NOT NULL CONSTRAINT harnesses_status_check CHECK (status IN ('active', 'archived', 'deleted')),
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    archived_at timestamptz,
    deleted_at timestamptz
);
CREATE UNIQUE INDEX harnesses_org_name_key ON harnesses (org_id, name) WHERE status <> 'deleted';

CREATE TABLE agents (
    id uuid PRIMARY KEY,
    org_id uuid NOT NULL,
    name text NOT NULL,
    display_name text,
    description text,
    system_prompt text NOT NULL,
    harness_id uuid NOT NULL CONSTRAINT agents_harness_id_fkey REFERENCES harnesses (id),
    default_model_id uuid,
    capabilities jsonb NOT NULL DEFAULT '[]',
    tools jsonb NOT NULL DEFAULT '[]',
    initial_files jsonb NOT NULL DEFAULT '[]',
    tags jsonb NOT NULL DEFAULT '[]',
    status text NOT NULL CONSTRAINT agents_status_check CHECK (status IN ('active', 'archived', 'deleted')),
    max_iterations bigint CONSTRAINT agents_max_iterations_check CHECK (max_iterations >= 0),
    parallel_tool_calls boolean,
    network_access jsonb,
    mcp_servers jsonb,
    usage jsonb,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    archived_at timestamptz,
    deleted_at timestamptz
);
CREATE UNIQUE INDEX agents_org_name_key ON agents (org_id, name) WHERE status <> 'deleted';
CREATE INDEX agents_org_created_idx ON agents (org_id, created_at DESC, id DESC);
CREATE INDEX agents_harness_idx ON agents (harness_id);

CREATE TABLE sessions (
    id uuid PRIMARY KEY,
    org_id uuid NOT NULL,
    harness_id uuid NOT NULL CONSTRAINT sessions_harness_id_fkey REFERENCES harnesses (id),
    -- No foreign key: agents are soft-deleted and a session outlives its agent's rows.
    agent_id uuid,
    status text NOT NULL CONSTRAINT sessions_status_check
        CHECK (status IN ('started', 'active', 'idle', 'waitingfortoolresults')),
    current_turn_id uuid,
    title text,
    locale text,
    preview text,
    output_preview text,
    tags jsonb NOT NULL DEFAULT '[]',
    model_id uuid,
    capabilities jsonb NOT NULL DEFAULT '[]',
    tools jsonb NOT NULL DEFAULT '[]',
    initial_files jsonb NOT NULL DEFAULT '[]',
    system_prompt text,
    hints jsonb,
    network_access jsonb,
    max_iterations bigint CONSTRAINT sessions_max_iterations_check CHECK (max_iterations >= 0),
    parallel_tool_calls boolean,
    mcp_servers jsonb,
    usage jsonb,
    started_at timestamptz,
    finished_at timestamptz,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL
);
CREATE INDEX sessions_org_created_idx ON sessions (org_id, created_at DESC, id DESC);
CREATE INDEX sessions_org_agent_idx ON sessions (org_id, agent_id, created_at DESC) WHERE agent_id IS NOT NULL;
CREATE INDEX sessions_harness_idx ON sessions (harness_id);

-- The per-session sequence counter: `next_sequence` is the sequence the next event gets. The
-- adapter allocates with one upsert in the same transaction as the event insert, so sequences
-- are gap-free (a rolled-back insert rolls the counter back too).
CREATE TABLE event_sequences (
    session_id uuid PRIMARY KEY CONSTRAINT event_sequences_session_id_fkey REFERENCES sessions (id) ON DELETE CASCADE,
    next_sequence bigint NOT NULL CONSTRAINT event_sequences_next_sequence_check CHECK (next_sequence > 1)
);

-- The append-only event log (messages are rebuilt from it).
CREATE TABLE events (
    -- The event id's uuid (UUIDv7, so ids sort by creation time).
    id uuid PRIMARY KEY,
    session_id uuid NOT NULL CONSTRAINT events_session_id_fkey REFERENCES sessions (id) ON DELETE CASCADE,
    sequence bigint NOT NULL CONSTRAINT events_sequence_check CHECK (sequence > 0),
    event_type text NOT NULL,
    data jsonb NOT NULL,
    context jsonb NOT NULL DEFAULT '{}',
    -- context.turn_id, as a column for the per-turn filter.
    turn_id uuid,
    ts timestamptz NOT NULL,
    metadata jsonb,
    tags jsonb NOT NULL DEFAULT '[]',
    idempotency_key text,
    created_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT events_session_sequence_key UNIQUE (session_id, sequence)
);
CREATE UNIQUE INDEX events_session_idempotency_key ON events (session_id, idempotency_key)
    WHERE idempotency_key IS NOT NULL;
CREATE INDEX events_session_turn_idx ON events (session_id, turn_id) WHERE turn_id IS NOT NULL;

CREATE TABLE providers (
    id uuid PRIMARY KEY,
    org_id uuid NOT NULL,
    name text NOT NULL,
    -- The driver id; no CHECK, so embedder-defined (external) drivers need no migration.
    provider_type text NOT NULL,
    status text NOT NULL CONSTRAINT providers_status_check CHECK (status IN ('active', 'disabled')),
    api_key_set boolean NOT NULL DEFAULT false,
    -- Sealed by the platform's secret cipher; never plaintext.
    api_key_encrypted bytea,
    base_url text,
    -- Non-key auth material of external drivers.
    metadata jsonb,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL
);
CREATE INDEX providers_org_name_idx ON providers (org_id, name);

CREATE TABLE models (
    id uuid PRIMARY KEY,
    provider_id uuid NOT NULL CONSTRAINT models_provider_id_fkey REFERENCES providers (id) ON DELETE CASCADE,
    model_id text NOT NULL,
    display_name text NOT NULL,
    capabilities jsonb NOT NULL DEFAULT '[]',
    enabled boolean NOT NULL,
    is_favorite boolean NOT NULL DEFAULT false,
    source text NOT NULL CONSTRAINT models_source_check CHECK (source IN ('manual', 'discovered', 'predefined')),
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    CONSTRAINT models_provider_model_key UNIQUE (provider_id, model_id)
);

-- Session workspace files, keyed by normalised path (relative to /workspace, no leading slash).
CREATE TABLE session_files (
    session_id uuid NOT NULL CONSTRAINT session_files_session_id_fkey REFERENCES sessions (id) ON DELETE CASCADE,
    path text NOT NULL,
    content bytea NOT NULL,
    is_readonly boolean NOT NULL DEFAULT false,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL,
    CONSTRAINT session_files_pkey PRIMARY KEY (session_id, path)
);

-- The durable iteration queue: one row per (turn, iteration). The task port that uses it is
-- designed separately; this table only fixes the storage.
CREATE TABLE iteration_tasks (
    id uuid PRIMARY KEY,
    org_id uuid NOT NULL,
    session_id uuid NOT NULL CONSTRAINT iteration_tasks_session_id_fkey REFERENCES sessions (id) ON DELETE CASCADE,
    turn_id uuid NOT NULL,
    input_message_id uuid NOT NULL,
    iteration integer NOT NULL CONSTRAINT iteration_tasks_iteration_check CHECK (iteration >= 1),
    status text NOT NULL DEFAULT 'pending' CONSTRAINT iteration_tasks_status_check
        CHECK (status IN ('pending', 'claimed', 'completed', 'failed', 'dead')),
    lease_owner text,
    lease_expires_at timestamptz,
    attempts integer NOT NULL DEFAULT 0 CONSTRAINT iteration_tasks_attempts_check CHECK (attempts >= 0),
    max_attempts integer NOT NULL CONSTRAINT iteration_tasks_max_attempts_check CHECK (max_attempts >= 1),
    -- '{turn_id}/{iteration}' (the turn id in its `turn_<hex>` text form).
    idempotency_key text NOT NULL CONSTRAINT iteration_tasks_idempotency_key UNIQUE,
    visible_at timestamptz NOT NULL DEFAULT now(),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    last_error text,
    -- When the task was handed to the transport (outbox); NULL until then.
    published_at timestamptz,
    CONSTRAINT iteration_tasks_claim_has_lease
        CHECK (status <> 'claimed' OR (lease_owner IS NOT NULL AND lease_expires_at IS NOT NULL))
);
CREATE INDEX iteration_tasks_pending_idx ON iteration_tasks (visible_at) WHERE status = 'pending';
CREATE INDEX iteration_tasks_lease_idx ON iteration_tasks (lease_expires_at) WHERE status = 'claimed';
CREATE INDEX iteration_tasks_unpublished_idx ON iteration_tasks (created_at) WHERE published_at IS NULL;
CREATE INDEX iteration_tasks_session_idx ON iteration_tasks (session_id, turn_id);
