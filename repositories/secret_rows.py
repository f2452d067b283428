"""The rows that may hold a configuration's values: the configuration, its revisions, and the
images in its audit events. Sealing a secret in them is the one change the permanent record
allows (sql/0009), and only in a transaction that says so (`allow_sealing`)."""

from psycopg2.extensions import connection as Connection

from repositories.sql import execute, fetch_all, fetch_one, jsonb

_ALLOW_SEALING = "SELECT set_config('config_service.sealing', 'on', true)"

_CONFIG = "SELECT config FROM configurations WHERE id = %(id)s FOR UPDATE"
_SET_CONFIG = "UPDATE configurations SET config = %(config)s WHERE id = %(id)s"

_REVISIONS = """
SELECT version, config FROM configuration_revisions WHERE configuration_id = %(id)s ORDER BY version
FOR UPDATE
"""
_SET_REVISION = """
UPDATE configuration_revisions SET config = %(config)s
WHERE configuration_id = %(id)s AND version = %(version)s
"""

_EVENTS = """
SELECT id, before, after FROM audit_events
WHERE entity_type = 'configuration' AND entity_id = %(id)s
ORDER BY seq
FOR UPDATE
"""
_SET_EVENT = "UPDATE audit_events SET before = %(before)s, after = %(after)s WHERE id = %(event_id)s"


def allow_sealing(conn: Connection) -> None:
    """Let this transaction seal values in revisions and audit events (and nothing else)."""
    fetch_one(conn, _ALLOW_SEALING)


def config(conn: Connection, configuration_id: str) -> dict | None:
    """The configuration's config, locked, or None if there is no such configuration."""
    row = fetch_one(conn, _CONFIG, {"id": configuration_id})
    return None if row is None else row["config"]


def set_config(conn: Connection, configuration_id: str, config: dict) -> None:
    execute(conn, _SET_CONFIG, {"id": configuration_id, "config": jsonb(config)})


def revisions(conn: Connection, configuration_id: str) -> list[dict]:
    return fetch_all(conn, _REVISIONS, {"id": configuration_id})


def set_revision(conn: Connection, configuration_id: str, version: int, config: dict) -> None:
    execute(conn, _SET_REVISION, {"id": configuration_id, "version": version, "config": jsonb(config)})


def events(conn: Connection, configuration_id: str) -> list[dict]:
    return fetch_all(conn, _EVENTS, {"id": configuration_id})


def set_event(conn: Connection, event_id: str, before: dict | None, after: dict | None) -> None:
    params = {
        "event_id": event_id,
        "before": None if before is None else jsonb(before),
        "after": None if after is None else jsonb(after),
    }
    execute(conn, _SET_EVENT, params)


# Rotation (services/secret_admin.py) walks the rows that hold a sealed value, in key order, a
# batch at a time. A batch is locked, so that a sealing running meanwhile (a schema's, a scrub)
# is waited for and then seen, never written over with what was read before it.
def _holds_sealed(column: str) -> str:
    return f"""jsonb_path_exists({column}, 'strict $.**."$secret"')"""


_HOLDING_SEALED_EVENT = f"""entity_type = 'configuration'
    AND ({_holds_sealed("before")} OR {_holds_sealed("after")})"""

_COUNT_HOLDING_SEALED = f"""
SELECT (SELECT count(*) FROM configurations WHERE {_holds_sealed("config")}) AS configurations,
       (SELECT count(*) FROM configuration_revisions WHERE {_holds_sealed("config")}) AS revisions,
       (SELECT count(*) FROM audit_events WHERE {_HOLDING_SEALED_EVENT}) AS events
"""

_CONFIGS_HOLDING_SEALED = f"""
SELECT id, config FROM configurations
WHERE id > %(after)s AND {_holds_sealed("config")}
ORDER BY id
LIMIT %(limit)s
FOR UPDATE
"""

_REVISIONS_HOLDING_SEALED = f"""
SELECT configuration_id, version, config FROM configuration_revisions
WHERE (configuration_id, version) > (%(after_id)s, %(after_version)s) AND {_holds_sealed("config")}
ORDER BY configuration_id, version
LIMIT %(limit)s
FOR UPDATE
"""

_EVENTS_HOLDING_SEALED = f"""
SELECT seq, id, entity_id, before, after FROM audit_events
WHERE seq > %(after)s AND {_HOLDING_SEALED_EVENT}
ORDER BY seq
LIMIT %(limit)s
FOR UPDATE
"""

# Where a walk starts: before every key.
FIRST_CONFIGURATION = ""
FIRST_REVISION = ("", 0)
FIRST_EVENT = 0


def count_holding_sealed(conn: Connection) -> dict[str, int]:
    """How many rows of each table hold a sealed value: configurations, revisions, events."""
    return dict(fetch_one(conn, _COUNT_HOLDING_SEALED))


def configs_holding_sealed(conn: Connection, *, after: str, limit: int) -> list[dict]:
    """The next `limit` configurations (id, config) after id `after` whose config holds a
    sealed value, locked."""
    return fetch_all(conn, _CONFIGS_HOLDING_SEALED, {"after": after, "limit": limit})


def revisions_holding_sealed(conn: Connection, *, after: tuple[str, int], limit: int) -> list[dict]:
    """The next `limit` revisions (configuration_id, version, config) after the key `after`
    whose config holds a sealed value, locked."""
    params = {"after_id": after[0], "after_version": after[1], "limit": limit}
    return fetch_all(conn, _REVISIONS_HOLDING_SEALED, params)


def events_holding_sealed(conn: Connection, *, after: int, limit: int) -> list[dict]:
    """The next `limit` configuration events (seq, id, entity_id, before, after) after seq
    `after` whose images hold a sealed value, locked."""
    return fetch_all(conn, _EVENTS_HOLDING_SEALED, {"after": after, "limit": limit})
