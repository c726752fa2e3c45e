-- 0003_api_keys: API keys of organizations (AUTH_MODE=api_key).
--
-- Only the SHA-256 digest of a key's secret is stored (`key_hash`, unique: the lookup of every
-- authenticated request), with a short display prefix. A key belongs to an organization and goes
-- with it. Other tables keep scoping rows by `org_id` themselves (see 0001_init).

CREATE TABLE api_keys (
    id uuid PRIMARY KEY,
    org_id uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    name text NOT NULL,
    key_prefix text NOT NULL,
    key_hash bytea NOT NULL CONSTRAINT api_keys_key_hash_key UNIQUE CHECK (octet_length(key_hash) = 32),
    scopes jsonb NOT NULL DEFAULT '["*"]',
    expires_at timestamptz,
    last_used_at timestamptz,
    created_at timestamptz NOT NULL
);
CREATE INDEX api_keys_org_idx ON api_keys (org_id, created_at DESC);
