-- Every change is recorded: configurations keep each revision, and every write of any
-- kind appends an audit event, in the same transaction as the change itself.
-- depends: 0002.create-configurations

ALTER TABLE applications
    ADD COLUMN version integer NOT NULL DEFAULT 1 CONSTRAINT applications_version_positive CHECK (version > 0);

ALTER TABLE configurations
    ADD COLUMN version integer NOT NULL DEFAULT 1 CONSTRAINT configurations_version_positive CHECK (version > 0);

-- Immutable copies of each version of a configuration. They go with their configuration;
-- what it looked like before it was deleted stays in the audit log's images.
CREATE TABLE configuration_revisions (
    configuration_id  varchar(26) COLLATE "C" NOT NULL,
    version           integer NOT NULL,
    name              varchar(256) NOT NULL,
    comments          varchar(1024),
    config            jsonb NOT NULL,
    created_at        timestamptz NOT NULL DEFAULT now(),
    actor             varchar(256) NOT NULL,
    change            varchar(16) NOT NULL,
    rolled_back_from  integer,
    note              varchar(1024),
    CONSTRAINT configuration_revisions_pkey PRIMARY KEY (configuration_id, version),
    CONSTRAINT configuration_revisions_configuration_id_fkey FOREIGN KEY (configuration_id)
        REFERENCES configurations (id) ON DELETE CASCADE,
    CONSTRAINT configuration_revisions_change_known
        CHECK (change IN ('created', 'updated', 'patched', 'rolled_back'))
);

CREATE FUNCTION refuse_modification() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% of % rows is not allowed: they are a permanent record', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END;
$$;

CREATE TRIGGER configuration_revisions_immutable
    BEFORE UPDATE ON configuration_revisions
    FOR EACH ROW EXECUTE FUNCTION refuse_modification();

-- Configurations that exist before this migration begin their history here.
INSERT INTO configuration_revisions (configuration_id, version, name, comments, config, created_at, actor, change)
SELECT id, version, name, comments, config, updated_at, 'migration', 'created' FROM configurations;

-- Append-only: no entity keys, so the events outlive what they describe.
CREATE TABLE audit_events (
    id              varchar(26) COLLATE "C" NOT NULL,
    occurred_at     timestamptz NOT NULL DEFAULT now(),
    actor           varchar(256) NOT NULL,
    action          varchar(64) NOT NULL,
    entity_type     varchar(32) NOT NULL,
    entity_id       varchar(26) COLLATE "C" NOT NULL,
    application_id  varchar(26) COLLATE "C" NOT NULL,
    version         integer,
    before          jsonb,
    after           jsonb,
    note            varchar(1024),
    request_id      varchar(128),
    client_ip       varchar(64),
    user_agent      varchar(512),
    CONSTRAINT audit_events_pkey PRIMARY KEY (id),
    CONSTRAINT audit_events_id_is_ulid CHECK (id ~ '^[0-7][0-9A-HJKMNP-TV-Z]{25}$'),
    CONSTRAINT audit_events_entity_type_known CHECK (entity_type IN ('application', 'configuration'))
);

CREATE INDEX audit_events_application_id_idx ON audit_events (application_id, id);
CREATE INDEX audit_events_entity_idx ON audit_events (entity_id, id);
CREATE INDEX audit_events_actor_idx ON audit_events (actor, id);
CREATE INDEX audit_events_action_idx ON audit_events (action, id);
CREATE INDEX audit_events_occurred_at_idx ON audit_events (occurred_at);

CREATE TRIGGER audit_events_append_only
    BEFORE UPDATE OR DELETE ON audit_events
    FOR EACH ROW EXECUTE FUNCTION refuse_modification();

CREATE TRIGGER audit_events_no_truncate
    BEFORE TRUNCATE ON audit_events
    FOR EACH STATEMENT EXECUTE FUNCTION refuse_modification();
