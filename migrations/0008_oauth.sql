-- 0008_oauth: the authorization server of delegated access (OAuth 2.1 for MCP clients).
--
-- Clients register dynamically (RFC 7591) and keep the metadata they registered with. Codes and
-- tokens are stored by the SHA-256 digest of their secret (never the secret), carry the grant
-- they belong to (`grant_id`: every code and token issued along one authorization, so a replay
-- can revoke the whole family) and go with their organization. Codes and refresh tokens are
-- single use (`used_at`); the adapter sets it with a conditional UPDATE so concurrent uses have
-- one winner. Times are timestamptz (the application's timestamps are milliseconds).
-- `client_id` has no foreign key: clients are never deleted, and the port does not report a
-- missing client on insert.

CREATE TABLE oauth_clients (
    id text CONSTRAINT oauth_clients_pkey PRIMARY KEY,
    secret_digest bytea CONSTRAINT oauth_clients_secret_digest_check CHECK (octet_length(secret_digest) = 32),
    metadata jsonb NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE oauth_codes (
    digest bytea CONSTRAINT oauth_codes_pkey PRIMARY KEY
        CONSTRAINT oauth_codes_digest_check CHECK (octet_length(digest) = 32),
    grant_id text NOT NULL,
    client_id text NOT NULL,
    org_id uuid NOT NULL CONSTRAINT oauth_codes_org_id_fkey REFERENCES organizations (id) ON DELETE CASCADE,
    scope text NOT NULL,
    resource text,
    redirect_uri text NOT NULL,
    code_challenge text NOT NULL,
    expires_at timestamptz NOT NULL,
    used_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE oauth_tokens (
    digest bytea CONSTRAINT oauth_tokens_pkey PRIMARY KEY
        CONSTRAINT oauth_tokens_digest_check CHECK (octet_length(digest) = 32),
    kind text NOT NULL CONSTRAINT oauth_tokens_kind_check CHECK (kind IN ('access', 'refresh')),
    grant_id text NOT NULL,
    client_id text NOT NULL,
    org_id uuid NOT NULL CONSTRAINT oauth_tokens_org_id_fkey REFERENCES organizations (id) ON DELETE CASCADE,
    scope text NOT NULL,
    resource text,
    expires_at timestamptz NOT NULL,
    revoked_at timestamptz,
    used_at timestamptz,
    created_at timestamptz NOT NULL
);
CREATE INDEX oauth_tokens_grant_idx ON oauth_tokens (grant_id);
