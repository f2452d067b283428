-- The change feed: every audit event gets `seq`, a global number in commit order, and its
-- commit wakes the listening API processes.
-- depends: 0003.revisions-and-audit

-- One counter row. Each write takes the next number in its last statement and holds the
-- row's lock until it commits, so numbers are handed out in commit order: when seq N is
-- visible, so is every seq below it. A write that rolls back returns its number.
CREATE TABLE change_sequence (
    singleton  boolean PRIMARY KEY DEFAULT true CONSTRAINT change_sequence_singleton CHECK (singleton),
    last_seq   bigint NOT NULL
);

ALTER TABLE audit_events ADD COLUMN seq bigint;

-- Events recorded before the feed existed are numbered in the order they were made.
ALTER TABLE audit_events DISABLE TRIGGER audit_events_append_only;
UPDATE audit_events AS e SET seq = numbered.n
FROM (SELECT id, row_number() OVER (ORDER BY id) AS n FROM audit_events) AS numbered
WHERE e.id = numbered.id;
ALTER TABLE audit_events ENABLE TRIGGER audit_events_append_only;

INSERT INTO change_sequence (last_seq) SELECT count(*) FROM audit_events;

ALTER TABLE audit_events
    ALTER COLUMN seq SET NOT NULL,
    ADD CONSTRAINT audit_events_seq_key UNIQUE (seq);

-- The payload is only the number: listeners read the events themselves, so a notification
-- lost on the way can delay an event, never drop it.
CREATE FUNCTION notify_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('config_changes', NEW.seq::text);
    RETURN NULL;
END;
$$;

CREATE TRIGGER audit_events_notify
    AFTER INSERT ON audit_events
    FOR EACH ROW EXECUTE FUNCTION notify_change();
