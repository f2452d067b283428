CREATE TABLE change_sequence (
    singleton  boolean PRIMARY KEY DEFAULT true CONSTRAINT change_sequence_singleton CHECK (singleton),
    last_seq   bigint NOT NULL
);
INSERT INTO change_sequence (last_seq) SELECT coalesce(max(seq), 0) FROM audit_events;
DROP SEQUENCE change_seq;
