from psycopg2.extensions import connection as Connection

from models.api_keys import Reach
from models.errors import ApplicationNotFound, ConfigurationNameTaken
from models.paging import PageRequest
from repositories.sql import constraint_errors, execute, fetch_all, fetch_one, jsonb, reach_param

_COLUMNS = "id, application_id, name, comments, config, version, created_at, updated_at"

_GET = f"SELECT {_COLUMNS} FROM configurations WHERE id = %(id)s"

_GET_FOR_UPDATE = f"{_GET} FOR UPDATE"

_LIST = f"""
SELECT {_COLUMNS}
FROM configurations
WHERE (%(application_id)s::text IS NULL OR application_id = %(application_id)s)
  AND (%(name)s::text IS NULL OR name = %(name)s)
  AND (%(reach)s::text[] IS NULL OR application_id = ANY(%(reach)s))
  AND (%(after)s::text IS NULL OR id > %(after)s)
ORDER BY id
LIMIT %(limit)s OFFSET %(offset)s
"""

# Each version of a configuration is recorded as a revision by the statement that makes it,
# which saves a round trip on every write.
_RECORD_REVISION = """
revision AS (
    INSERT INTO configuration_revisions
        (configuration_id, version, name, comments, config, created_at, actor, change, rolled_back_from, note)
    SELECT id, version, name, comments, config, updated_at,
           %(actor)s, %(change)s, %(rolled_back_from)s, %(note)s
    FROM written
)
"""

_INSERT = f"""
WITH written AS (
    INSERT INTO configurations (id, application_id, name, comments, config)
    VALUES (%(id)s, %(application_id)s, %(name)s, %(comments)s, %(config)s)
    RETURNING {_COLUMNS}
), {_RECORD_REVISION}
SELECT {_COLUMNS} FROM written
"""

# Writes only when something differs (jsonb equality: 1 and 1.0 are equal, 1 and true are
# not), so an update that changes nothing makes no version and no revision; unless the change
# must be recorded whatever it does (a rollback: an operator's deliberate act).
_UPDATE = f"""
WITH written AS (
    UPDATE configurations
    SET name = %(name)s, comments = %(comments)s, config = %(config)s, version = version + 1,
        updated_at = now()
    WHERE id = %(id)s
      AND (%(always)s OR (name, comments, config)
                         IS DISTINCT FROM (%(name)s::text, %(comments)s::text, %(config)s::jsonb))
    RETURNING {_COLUMNS}
), {_RECORD_REVISION}
SELECT {_COLUMNS} FROM written
"""

_LIST_ALL_OF_APPLICATION = f"SELECT {_COLUMNS} FROM configurations WHERE application_id = %(id)s ORDER BY id"

_DELETE = "DELETE FROM configurations WHERE id = %(id)s"


def _revision(actor: str, change: str, rolled_back_from: int | None = None, note: str | None = None) -> dict:
    return {"actor": actor, "change": change, "rolled_back_from": rolled_back_from, "note": note}


def get(conn: Connection, configuration_id: str, *, for_update: bool = False) -> dict | None:
    return fetch_one(conn, _GET_FOR_UPDATE if for_update else _GET, {"id": configuration_id})


def list_page(
    conn: Connection,
    page: PageRequest,
    *,
    application_id: str | None = None,
    name: str | None = None,
    reach: Reach = None,
) -> list[dict]:
    params = {**page.sql_params, "application_id": application_id, "name": name, "reach": reach_param(reach)}
    return fetch_all(conn, _LIST, params)


def insert(
    conn: Connection,
    *,
    id: str,
    application_id: str,
    name: str,
    comments: str | None,
    config: dict,
    actor: str,
) -> dict:
    """Create the configuration at version 1, with its first revision."""
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
        "config": jsonb(config),
        **_revision(actor, "created"),
    }
    with errors:
        return fetch_one(conn, _INSERT, params)


def update(
    conn: Connection,
    configuration_id: str,
    *,
    name: str,
    comments: str | None,
    config: dict,
    actor: str,
    change: str,
    rolled_back_from: int | None = None,
    note: str | None = None,
    always: bool = False,
) -> dict | None:
    """The configuration as changed, at its next version with a revision recording it;
    None, and nothing written, if nothing would change (unless `always`)."""
    params = {
        "id": configuration_id,
        "name": name,
        "comments": comments,
        "config": jsonb(config),
        "always": always,
        **_revision(actor, change, rolled_back_from, note),
    }
    taken = {"configurations_application_id_name_key": lambda: ConfigurationNameTaken(name)}
    with constraint_errors(taken):
        return fetch_one(conn, _UPDATE, params)


def all_of_application(conn: Connection, application_id: str) -> list[dict]:
    return fetch_all(conn, _LIST_ALL_OF_APPLICATION, {"id": application_id})


def delete(conn: Connection, configuration_id: str) -> bool:
    return execute(conn, _DELETE, {"id": configuration_id}) == 1
