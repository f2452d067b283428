DROP TRIGGER audit_events_notify ON audit_events;
DROP FUNCTION notify_change();
ALTER TABLE audit_events DROP COLUMN seq;
DROP TABLE change_sequence;
