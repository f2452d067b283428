-- Schemas: named, versioned JSON Schemas (2020-12) shared by every application. A
-- configuration may be bound to one, pinned to a version or following the latest, and every
-- write of it must then pass. Schema changes are audited and fed like every other change.
-- depends: 0007.change-numbers-without-a-lock

CREATE TABLE schemas (
    id              varchar(26) COLLATE "C" NOT NULL,
    name            varchar(256) NOT NULL,
    description     varchar(1024),
    latest_version  integer NOT NULL DEFAULT 1,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT schemas_pkey PRIMARY KEY (id),
    CONSTRAINT schemas_id_is_ulid CHECK (id ~ '^[0-7][0-9A-HJKMNP-TV-Z]{25}$'),
    CONSTRAINT schemas_name_not_empty CHECK (name <> ''),
    CONSTRAINT schemas_name_key UNIQUE (name),
    CONSTRAINT schemas_latest_version_positive CHECK (latest_version > 0)
);

-- Immutable: a configuration pinned to a version relies on it never changing.
CREATE TABLE schema_versions (
    schema_id   varchar(26) COLLATE "C" NOT NULL,
    version     integer NOT NULL,
    schema      jsonb NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    actor       varchar(256) NOT NULL,
    CONSTRAINT schema_versions_pkey PRIMARY KEY (schema_id, version),
    CONSTRAINT schema_versions_schema_id_fkey FOREIGN KEY (schema_id)
        REFERENCES schemas (id) ON DELETE CASCADE
);

CREATE TRIGGER schema_versions_immutable
    BEFORE UPDATE ON schema_versions
    FOR EACH ROW EXECUTE FUNCTION refuse_modification();

-- The binding: a schema's name, and the version pinned (NULL: the latest). The key refuses
-- to delete a schema that is still bound, whatever races the service's own check.
ALTER TABLE configurations
    ADD COLUMN schema_name varchar(256),
    ADD COLUMN schema_version integer,
    ADD CONSTRAINT configurations_schema_name_fkey FOREIGN KEY (schema_name)
        REFERENCES schemas (name) ON DELETE RESTRICT,
    ADD CONSTRAINT configurations_schema_version_needs_name
        CHECK (schema_version IS NULL OR schema_name IS NOT NULL);

-- Which configurations a schema binds: what a new version is checked against, and what
-- keeps it from being deleted.
CREATE INDEX configurations_schema_name_idx ON configurations (schema_name) WHERE schema_name IS NOT NULL;

ALTER TABLE configuration_revisions
    ADD COLUMN schema_name varchar(256),
    ADD COLUMN schema_version integer;

ALTER TABLE audit_events
    DROP CONSTRAINT audit_events_entity_type_known,
    ADD CONSTRAINT audit_events_entity_type_known
        CHECK (entity_type IN ('application', 'configuration', 'api_key', 'schema'));
