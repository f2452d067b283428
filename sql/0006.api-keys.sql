-- API keys: who may do what. Only a hash of each secret is kept; the secret is shown once.
-- Keys are audited and fed to the change feed like every other kind of thing, so every
-- process hears of a revocation; their events belong to no application.
-- depends: 0005.audit-log-in-commit-order

CREATE TABLE api_keys (
    id                     varchar(26) COLLATE "C" NOT NULL,
    name                   varchar(256) NOT NULL,
    prefix                 varchar(16) NOT NULL,
    -- SHA-256 of the whole secret: secrets are 256 random bits, so no salt or slow hash is
    -- needed, and a lookup by hash compares nothing byte by byte.
    secret_sha256          bytea NOT NULL,
    scopes                 text[] NOT NULL,
    application_ids        text[] COLLATE "C",
    expires_at             timestamptz,
    rate_limit_per_second  integer,
    created_at             timestamptz NOT NULL DEFAULT now(),
    last_used_at           timestamptz,
    CONSTRAINT api_keys_pkey PRIMARY KEY (id),
    CONSTRAINT api_keys_name_key UNIQUE (name),
    CONSTRAINT api_keys_secret_sha256_key UNIQUE (secret_sha256),
    CONSTRAINT api_keys_scopes_known CHECK (scopes <@ ARRAY['read', 'write', 'admin'] AND cardinality(scopes) > 0),
    CONSTRAINT api_keys_rate_limit_positive CHECK (rate_limit_per_second > 0)
);

-- The hashes of revoked secrets, so that a revoked ADMIN_API_KEY left in an environment is
-- not made again at the next start.
CREATE TABLE api_key_revocations (
    secret_sha256  bytea NOT NULL,
    key_id         varchar(26) COLLATE "C" NOT NULL,
    revoked_at     timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT api_key_revocations_pkey PRIMARY KEY (secret_sha256)
);

ALTER TABLE audit_events
    ALTER COLUMN application_id DROP NOT NULL,
    ADD COLUMN on_behalf_of varchar(256),
    DROP CONSTRAINT audit_events_entity_type_known,
    ADD CONSTRAINT audit_events_entity_type_known
        CHECK (entity_type IN ('application', 'configuration', 'api_key'));

CREATE INDEX audit_events_on_behalf_of_seq_idx ON audit_events (on_behalf_of, seq);
