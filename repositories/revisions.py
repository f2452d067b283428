"""Reading a configuration's revisions; they are written with the configuration itself
(repositories/configurations.py), by the statement that makes each version."""

from psycopg2.extensions import connection as Connection

from models.paging import PageRequest
from repositories.sql import fetch_all, fetch_one

_COLUMNS = """configuration_id, version, name, comments, config, schema_name, schema_version, created_at,
    actor, change, rolled_back_from, note"""

_GET = f"""
SELECT {_COLUMNS} FROM configuration_revisions WHERE configuration_id = %(id)s AND version = %(version)s
"""

# Newest first; `after` is the version the previous page ended at.
_LIST = f"""
SELECT {_COLUMNS}
FROM configuration_revisions
WHERE configuration_id = %(id)s
  AND (%(after)s::integer IS NULL OR version < %(after)s)
ORDER BY version DESC
LIMIT %(limit)s OFFSET %(offset)s
"""


def get(conn: Connection, configuration_id: str, version: int) -> dict | None:
    return fetch_one(conn, _GET, {"id": configuration_id, "version": version})


def list_page(conn: Connection, configuration_id: str, page: PageRequest) -> list[dict]:
    return fetch_all(conn, _LIST, {**page.sql_params, "id": configuration_id})
