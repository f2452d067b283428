"""Schemas and their immutable versions, and the configurations bound to them.

A schema's versions and its row change together: a new version takes the row's lock, which
every write of a configuration bound to it shares (`lock_for_binding`), so a version is
checked against the configurations that follow it as they are, and none changes meanwhile.
"""

from psycopg2.extensions import connection as Connection

from models.errors import SchemaNameTaken
from models.paging import PageRequest
from repositories.sql import constraint_errors, fetch_all, fetch_one, jsonb

_COLUMNS = "id, name, description, latest_version, created_at, updated_at"

_INSERT = f"""
WITH created AS (
    INSERT INTO schemas (id, name, description) VALUES (%(id)s, %(name)s, %(description)s)
    RETURNING {_COLUMNS}
), first AS (
    INSERT INTO schema_versions (schema_id, version, schema, created_at, actor)
    SELECT id, 1, %(document)s, created_at, %(actor)s FROM created
    RETURNING schema
)
SELECT created.*, first.schema FROM created, first
"""

# A schema with the document of its latest version.
_GET = """
SELECT s.id, s.name, s.description, s.latest_version, s.created_at, s.updated_at, v.schema
FROM schemas AS s JOIN schema_versions AS v ON v.schema_id = s.id AND v.version = s.latest_version
WHERE s.name = %(name)s
"""

_LIST = """
SELECT s.id, s.name, s.description, s.latest_version, s.created_at, s.updated_at, v.schema
FROM schemas AS s JOIN schema_versions AS v ON v.schema_id = s.id AND v.version = s.latest_version
WHERE (%(after)s::text IS NULL OR s.id > %(after)s)
ORDER BY s.id
LIMIT %(limit)s OFFSET %(offset)s
"""

# Two statements, not a join: after waiting for the lock, a join would still look for the
# version in the snapshot taken before the wait, which may not have the newest one.
_LOCK = f"SELECT {_COLUMNS} FROM schemas WHERE name = %(name)s"
_LOCK_FOR_BINDING = f"{_LOCK} FOR SHARE"
_LOCK_FOR_CHANGE = f"{_LOCK} FOR UPDATE"

_VERSION = """
SELECT s.name, v.version, v.schema, v.created_at, v.actor
FROM schemas AS s JOIN schema_versions AS v ON v.schema_id = s.id
WHERE s.name = %(name)s AND v.version = %(version)s
"""

# By the schema's id: the schema read a moment ago, even if another of its name is made since.
_DOCUMENT = "SELECT schema FROM schema_versions WHERE schema_id = %(id)s AND version = %(version)s"

# Newest first; `after` is the version the previous page ended at.
_VERSIONS = """
SELECT s.name, v.version, v.schema, v.created_at, v.actor
FROM schemas AS s JOIN schema_versions AS v ON v.schema_id = s.id
WHERE s.name = %(name)s AND (%(after)s::integer IS NULL OR v.version < %(after)s)
ORDER BY v.version DESC
LIMIT %(limit)s OFFSET %(offset)s
"""

_ADD_VERSION = f"""
WITH added AS (
    INSERT INTO schema_versions (schema_id, version, schema, actor)
    VALUES (%(id)s, %(version)s, %(document)s, %(actor)s)
    RETURNING schema
), updated AS (
    UPDATE schemas SET latest_version = %(version)s, updated_at = now()
    WHERE id = %(id)s
    RETURNING {_COLUMNS}
)
SELECT updated.*, added.schema FROM updated, added
"""

_DELETE = f"DELETE FROM schemas WHERE id = %(id)s RETURNING {_COLUMNS}"

# Every configuration bound to the schema, pinned or not, in id order.
_BOUND = """
SELECT id, application_id, name, schema_version FROM configurations
WHERE schema_name = %(name)s
ORDER BY id
"""

# The configurations a new version must admit: those that follow the latest, a batch at a
# time (`after`: the last id of the batch before).
_FOLLOWING_LATEST = """
SELECT id, application_id, name, config FROM configurations
WHERE schema_name = %(name)s AND schema_version IS NULL
  AND (%(after)s::text IS NULL OR id > %(after)s)
ORDER BY id
LIMIT %(limit)s
"""


def insert(
    conn: Connection, *, id: str, name: str, description: str | None, document: dict, actor: str
) -> dict:
    """The schema at version 1."""
    params = {"id": id, "name": name, "description": description, "document": jsonb(document), "actor": actor}
    with constraint_errors({"schemas_name_key": lambda: SchemaNameTaken(name)}):
        return fetch_one(conn, _INSERT, params)


def get(conn: Connection, name: str) -> dict | None:
    return fetch_one(conn, _GET, {"name": name})


def list_page(conn: Connection, page: PageRequest) -> list[dict]:
    return fetch_all(conn, _LIST, page.sql_params)


def lock_for_binding(conn: Connection, name: str) -> dict | None:
    """The schema, locked against a new version or deletion until this transaction ends."""
    return fetch_one(conn, _LOCK_FOR_BINDING, {"name": name})


def lock_for_change(conn: Connection, name: str) -> dict | None:
    """The schema, locked against bindings and other changes until this transaction ends."""
    return fetch_one(conn, _LOCK_FOR_CHANGE, {"name": name})


def version(conn: Connection, name: str, version: int) -> dict | None:
    return fetch_one(conn, _VERSION, {"name": name, "version": version})


def document(conn: Connection, schema_id: str, version: int) -> dict | None:
    """The JSON Schema of a version of the schema with this id, or None."""
    row = fetch_one(conn, _DOCUMENT, {"id": schema_id, "version": version})
    return None if row is None else row["schema"]


def versions_page(conn: Connection, name: str, page: PageRequest) -> list[dict]:
    return fetch_all(conn, _VERSIONS, {**page.sql_params, "name": name})


def add_version(conn: Connection, *, id: str, version: int, document: dict, actor: str) -> dict:
    """Store `version` and make it the latest (the caller holds lock_for_change)."""
    params = {"id": id, "version": version, "document": jsonb(document), "actor": actor}
    return fetch_one(conn, _ADD_VERSION, params)


def delete(conn: Connection, schema_id: str) -> dict | None:
    return fetch_one(conn, _DELETE, {"id": schema_id})


def bound(conn: Connection, name: str) -> list[dict]:
    return fetch_all(conn, _BOUND, {"name": name})


def following_latest(
    conn: Connection, name: str, *, after: str | None = None, limit: int = 500
) -> list[dict]:
    return fetch_all(conn, _FOLLOWING_LATEST, {"name": name, "after": after, "limit": limit})
