DROP INDEX audit_events_on_behalf_of_seq_idx;

-- Key events cannot stay once keys are gone: the constraints below would refuse them.
ALTER TABLE audit_events DISABLE TRIGGER audit_events_append_only;
DELETE FROM audit_events WHERE entity_type = 'api_key';
ALTER TABLE audit_events ENABLE TRIGGER audit_events_append_only;

ALTER TABLE audit_events
    DROP CONSTRAINT audit_events_entity_type_known,
    ADD CONSTRAINT audit_events_entity_type_known CHECK (entity_type IN ('application', 'configuration')),
    DROP COLUMN on_behalf_of,
    ALTER COLUMN application_id SET NOT NULL;

DROP TABLE api_key_revocations;
DROP TABLE api_keys;
