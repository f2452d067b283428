-- Configurations: named JSON objects, each belonging to one application.
-- depends: 0001.create-applications

CREATE TABLE configurations (
    id              varchar(26) COLLATE "C" NOT NULL,
    application_id  varchar(26) COLLATE "C" NOT NULL,
    name            varchar(256) NOT NULL,
    comments        varchar(1024),
    config          jsonb NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT configurations_pkey PRIMARY KEY (id),
    CONSTRAINT configurations_id_is_ulid CHECK (id ~ '^[0-7][0-9A-HJKMNP-TV-Z]{25}$'),
    CONSTRAINT configurations_name_not_empty CHECK (name <> ''),
    CONSTRAINT configurations_config_is_object CHECK (jsonb_typeof(config) = 'object'),
    CONSTRAINT configurations_application_id_fkey FOREIGN KEY (application_id)
        REFERENCES applications (id) ON DELETE CASCADE,
    CONSTRAINT configurations_application_id_name_key UNIQUE (application_id, name)
);

-- An application's configurations in id order (its listing and its configuration_ids).
CREATE INDEX configurations_application_id_id_idx ON configurations (application_id, id);
-- GET /configurations?name= across applications.
CREATE INDEX configurations_name_idx ON configurations (name);
