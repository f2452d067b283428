-- The audit log is listed newest first in commit order (seq), the order the change feed
-- tells: ids are made before a transaction commits, by any of several processes, so their
-- order can differ from the order the changes took effect. The filters' indexes follow.
-- depends: 0004.change-feed

DROP INDEX audit_events_application_id_idx;
DROP INDEX audit_events_entity_idx;
DROP INDEX audit_events_actor_idx;
DROP INDEX audit_events_action_idx;

CREATE INDEX audit_events_application_id_seq_idx ON audit_events (application_id, seq);
CREATE INDEX audit_events_entity_seq_idx ON audit_events (entity_id, seq);
CREATE INDEX audit_events_actor_seq_idx ON audit_events (actor, seq);
CREATE INDEX audit_events_action_seq_idx ON audit_events (action, seq);
