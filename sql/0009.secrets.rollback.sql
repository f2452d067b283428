CREATE OR REPLACE FUNCTION refuse_modification() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% of % rows is not allowed: they are a permanent record', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END;
$$;

UPDATE api_keys SET scopes = array_remove(scopes, 'secrets') WHERE 'secrets' = ANY(scopes);
DELETE FROM api_keys WHERE cardinality(scopes) = 0;

ALTER TABLE api_keys
    DROP CONSTRAINT api_keys_scopes_known,
    ADD CONSTRAINT api_keys_scopes_known
        CHECK (scopes <@ ARRAY['read', 'write', 'admin'] AND cardinality(scopes) > 0);
