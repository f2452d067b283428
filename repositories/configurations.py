from psycopg2.extensions import connection as Connection
from psycopg2.extras import Json

from models.errors import ApplicationNotFound, ConfigurationNameTaken
from models.paging import PageRequest
from repositories.sql import constraint_errors, execute, fetch_all, fetch_one

_COLUMNS = "id, application_id, name, comments, config, created_at, updated_at"

_GET = f"SELECT {_COLUMNS} FROM configurations WHERE id = %(id)s"

_GET_FOR_UPDATE = f"{_GET} FOR UPDATE"

_LIST = f"""
SELECT {_COLUMNS}
FROM configurations
WHERE (%(application_id)s::text IS NULL OR application_id = %(application_id)s)
  AND (%(name)s::text IS NULL OR name = %(name)s)
  AND (%(after)s::text IS NULL OR id > %(after)s)
ORDER BY id
LIMIT %(limit)s OFFSET %(offset)s
"""

_INSERT = f"""
INSERT INTO configurations (id, application_id, name, comments, config)
VALUES (%(id)s, %(application_id)s, %(name)s, %(comments)s, %(config)s)
RETURNING {_COLUMNS}
"""

_UPDATE = f"""
UPDATE configurations
SET name = %(name)s, comments = %(comments)s, config = %(config)s, updated_at = now()
WHERE id = %(id)s
RETURNING {_COLUMNS}
"""

_DELETE = "DELETE FROM configurations WHERE id = %(id)s"


def get(conn: Connection, configuration_id: str, *, for_update: bool = False) -> dict | None:
    return fetch_one(conn, _GET_FOR_UPDATE if for_update else _GET, {"id": configuration_id})


def list_page(
    conn: Connection,
    page: PageRequest,
    *,
    application_id: str | None = None,
    name: str | None = None,
) -> list[dict]:
    params = {**page.sql_params, "application_id": application_id, "name": name}
    return fetch_all(conn, _LIST, params)


def insert(
    conn: Connection, *, id: str, application_id: str, name: str, comments: str | None, config: dict
) -> dict:
    errors = constraint_errors(
        {
            "configurations_application_id_name_key": lambda: ConfigurationNameTaken(name),
            "configurations_application_id_fkey": lambda: ApplicationNotFound(application_id),
        }
    )
    params = {
        "id": id,
        "application_id": application_id,
        "name": name,
        "comments": comments,
        "config": Json(config),
    }
    with errors:
        return fetch_one(conn, _INSERT, params)


def update(
    conn: Connection, configuration_id: str, *, name: str, comments: str | None, config: dict
) -> dict:
    params = {"id": configuration_id, "name": name, "comments": comments, "config": Json(config)}
    taken = {"configurations_application_id_name_key": lambda: ConfigurationNameTaken(name)}
    with constraint_errors(taken):
        return fetch_one(conn, _UPDATE, params)


def delete(conn: Connection, configuration_id: str) -> bool:
    return execute(conn, _DELETE, {"id": configuration_id}) == 1
