-- Large event payloads are compressed with lz4 instead of pglz. An `llm.generation` carries the
-- whole conversation sent to the model, so a long session stores a large `data` value every
-- iteration; pglz spends several times lz4's CPU on it (values already stored keep pglz until
-- rewritten; both stay readable). A server built without lz4 keeps pglz.
DO $$
BEGIN
    ALTER TABLE events ALTER COLUMN data SET COMPRESSION lz4;
EXCEPTION WHEN feature_not_supported OR invalid_parameter_value THEN
    RAISE NOTICE 'lz4 is not available; events.data keeps the default compression';
END
$$;
