-- The flags go with their kind: their history stays in the audit log, which keeps no keys
-- (and whose events of flags keep the entity type: they are a permanent record).
DELETE FROM configurations WHERE kind = 'flag';

ALTER TABLE configurations
    DROP CONSTRAINT configurations_application_id_kind_name_key,
    ADD CONSTRAINT configurations_application_id_name_key UNIQUE (application_id, name),
    DROP CONSTRAINT configurations_flag_unbound,
    DROP CONSTRAINT configurations_flag_key_valid,
    DROP CONSTRAINT configurations_kind_known,
    DROP COLUMN kind;
