DROP INDEX audit_events_application_id_seq_idx;
DROP INDEX audit_events_entity_seq_idx;
DROP INDEX audit_events_actor_seq_idx;
DROP INDEX audit_events_action_seq_idx;

CREATE INDEX audit_events_application_id_idx ON audit_events (application_id, id);
CREATE INDEX audit_events_entity_idx ON audit_events (entity_id, id);
CREATE INDEX audit_events_actor_idx ON audit_events (actor, id);
CREATE INDEX audit_events_action_idx ON audit_events (action, id);
