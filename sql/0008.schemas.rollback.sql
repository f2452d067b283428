-- Schema events cannot stay once schemas are gone: the constraint below would refuse them.
ALTER TABLE audit_events DISABLE TRIGGER audit_events_append_only;
DELETE FROM audit_events WHERE entity_type = 'schema';
ALTER TABLE audit_events ENABLE TRIGGER audit_events_append_only;

ALTER TABLE audit_events
    DROP CONSTRAINT audit_events_entity_type_known,
    ADD CONSTRAINT audit_events_entity_type_known
        CHECK (entity_type IN ('application', 'configuration', 'api_key'));

ALTER TABLE configuration_revisions
    DROP COLUMN schema_version,
    DROP COLUMN schema_name;

ALTER TABLE configurations
    DROP COLUMN schema_version,
    DROP COLUMN schema_name;

DROP TABLE schema_versions;
DROP TABLE schemas;
