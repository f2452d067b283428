-- Applications: the teams' services that own configurations.
-- Ids are ULIDs made by the service; COLLATE "C" makes their byte order (= time order) the sort order.

CREATE TABLE applications (
    id          varchar(26) COLLATE "C" NOT NULL,
    name        varchar(256) NOT NULL,
    comments    varchar(1024),
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT applications_pkey PRIMARY KEY (id),
    CONSTRAINT applications_id_is_ulid CHECK (id ~ '^[0-7][0-9A-HJKMNP-TV-Z]{25}$'),
    CONSTRAINT applications_name_not_empty CHECK (name <> ''),
    CONSTRAINT applications_name_key UNIQUE (name)
);
