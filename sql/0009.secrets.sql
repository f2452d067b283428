-- Secrets: values a schema marks secret are sealed where they are stored (services/secrets.py).
-- A key may hold the `secrets` scope, which lets it ask for their plain values.
-- depends: 0008.schemas

ALTER TABLE api_keys
    DROP CONSTRAINT api_keys_scopes_known,
    ADD CONSTRAINT api_keys_scopes_known
        CHECK (scopes <@ ARRAY['read', 'write', 'admin', 'secrets'] AND cardinality(scopes) > 0);

-- Revisions and audit events are a permanent record, with one sanctioned change: sealing a
-- secret in them (when a schema marks a value secret, when keys rotate, when an operator
-- scrubs a value that leaked). That work sets config_service.sealing for its transaction,
-- and changes nothing else: a value sealed is the same value, kept another way. A scrub is
-- audited as such; sealing on a binding or a new schema version happens within that change.
CREATE OR REPLACE FUNCTION refuse_modification() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND TG_TABLE_NAME IN ('configuration_revisions', 'audit_events')
       AND current_setting('config_service.sealing', true) = 'on' THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION '% of % rows is not allowed: they are a permanent record', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END;
$$;
