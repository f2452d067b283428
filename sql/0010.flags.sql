-- Feature flags: configurations of another kind. A flag is stored as a configuration row whose
-- name is the flag's key and whose config is its definition, so that it has the same
-- versions, revisions, audit events, cache and change feed as any configuration, written by
-- the same statements. Configurations and flags keep separate names within an application.
-- depends: 0009.secrets

ALTER TABLE configurations
    ADD COLUMN kind varchar(16) NOT NULL DEFAULT 'configuration',
    ADD CONSTRAINT configurations_kind_known CHECK (kind IN ('configuration', 'flag')),
    ADD CONSTRAINT configurations_flag_key_valid
        CHECK (kind <> 'flag' OR name ~ '^[a-z0-9][a-z0-9._-]*$'),
    -- A flag is evaluated by rules, never bound to a schema.
    ADD CONSTRAINT configurations_flag_unbound CHECK (kind <> 'flag' OR schema_name IS NULL),
    DROP CONSTRAINT configurations_application_id_name_key,
    ADD CONSTRAINT configurations_application_id_kind_name_key UNIQUE (application_id, kind, name);

ALTER TABLE audit_events
    DROP CONSTRAINT audit_events_entity_type_known,
    ADD CONSTRAINT audit_events_entity_type_known
        CHECK (entity_type IN ('application', 'configuration', 'api_key', 'schema', 'flag'));
