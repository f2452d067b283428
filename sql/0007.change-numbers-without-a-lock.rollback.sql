CREATE FUNCTION notify_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('config_changes', NEW.seq::text);
    RETURN NULL;
END;
$$;

CREATE TRIGGER audit_events_notify
    AFTER INSERT ON audit_events
    FOR EACH ROW EXECUTE FUNCTION notify_change();
CREATE TABLE change_sequence (
    singleton  boolean PRIMARY KEY DEFAULT true CONSTRAINT change_sequence_singleton CHECK (singleton),
    last_seq   bigint NOT NULL
);
INSERT INTO change_sequence (last_seq) SELECT coalesce(max(seq), 0) FROM audit_events;
DROP SEQUENCE change_seq;
