DROP TABLE audit_events;
DROP TABLE configuration_revisions;
DROP FUNCTION refuse_modification();
ALTER TABLE configurations DROP COLUMN version;
ALTER TABLE applications DROP COLUMN version;
