from psycopg2.extensions import connection as Connection

from models.api_keys import Reach
from models.errors import ApplicationNameTaken
from models.paging import PageRequest
from repositories.sql import constraint_errors, execute, fetch_all, fetch_one, reach_param

_COLUMNS = """
    a.id, a.name, a.comments, a.version, a.created_at, a.updated_at,
    ARRAY(SELECT c.id FROM configurations c
          WHERE c.application_id = a.id AND c.kind = 'configuration' ORDER BY c.id) AS configuration_ids
"""

_GET = f"SELECT {_COLUMNS} FROM applications a WHERE a.id = %(id)s"

_GET_FOR_UPDATE = f"{_GET} FOR UPDATE"

_EXISTS = "SELECT EXISTS (SELECT 1 FROM applications WHERE id = %(id)s) AS found"

# A deleted application still has its history: every change to it is in the audit log.
_KNOWN = """
SELECT EXISTS (SELECT 1 FROM applications WHERE id = %(id)s)
    OR EXISTS (SELECT 1 FROM audit_events WHERE application_id = %(id)s) AS known
"""

_LIST = f"""
SELECT {_COLUMNS}
FROM applications a
WHERE (%(after)s::text IS NULL OR a.id > %(after)s)
  AND (%(name)s::text IS NULL OR a.name = %(name)s)
  AND (%(reach)s::text[] IS NULL OR a.id = ANY(%(reach)s))
ORDER BY a.id
LIMIT %(limit)s OFFSET %(offset)s
"""

_INSERT = """
INSERT INTO applications (id, name, comments)
VALUES (%(id)s, %(name)s, %(comments)s)
RETURNING id, name, comments, version, created_at, updated_at, ARRAY[]::text[] AS configuration_ids
"""

# Writes only when something differs, so an update that changes nothing leaves no trace.
_UPDATE = f"""
UPDATE applications a
SET name = %(name)s, comments = %(comments)s, version = a.version + 1, updated_at = now()
WHERE a.id = %(id)s
  AND (a.name, a.comments) IS DISTINCT FROM (%(name)s::text, %(comments)s::text)
RETURNING {_COLUMNS}
"""

_DELETE = "DELETE FROM applications WHERE id = %(id)s"


def _name_errors(name: str):
    return constraint_errors({"applications_name_key": lambda: ApplicationNameTaken(name)})


def get(conn: Connection, application_id: str, *, for_update: bool = False) -> dict | None:
    return fetch_one(conn, _GET_FOR_UPDATE if for_update else _GET, {"id": application_id})


def exists(conn: Connection, application_id: str) -> bool:
    return fetch_one(conn, _EXISTS, {"id": application_id})["found"]


def known(conn: Connection, application_id: str) -> bool:
    """True if the application exists or once did (its changes are in the audit log)."""
    return fetch_one(conn, _KNOWN, {"id": application_id})["known"]


def list_page(
    conn: Connection, page: PageRequest, *, name: str | None = None, reach: Reach = None
) -> list[dict]:
    return fetch_all(conn, _LIST, {**page.sql_params, "name": name, "reach": reach_param(reach)})


def insert(conn: Connection, *, id: str, name: str, comments: str | None) -> dict:
    with _name_errors(name):
        return fetch_one(conn, _INSERT, {"id": id, "name": name, "comments": comments})


def update(conn: Connection, application_id: str, *, name: str, comments: str | None) -> dict | None:
    """The application as changed, with its version advanced; None if nothing would change."""
    with _name_errors(name):
        return fetch_one(conn, _UPDATE, {"id": application_id, "name": name, "comments": comments})


def delete(conn: Connection, application_id: str) -> bool:
    return execute(conn, _DELETE, {"id": application_id}) == 1
