-- 0006_organization_settings: per-organization settings; for now the org default model, the last
-- step of model resolution (after the message's controls, the session, the agent and the harness
-- chain). Deleting the model (or its provider, which deletes its models) unsets it. Like the
-- other `org_id` columns, `org_id` has no foreign key to `organizations`.
CREATE TABLE organization_settings (
    org_id uuid PRIMARY KEY,
    default_model_id uuid CONSTRAINT organization_settings_default_model_id_fkey
        REFERENCES models (id) ON DELETE SET NULL,
    updated_at timestamptz NOT NULL
);
