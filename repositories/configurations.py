from typing import Literal

from psycopg2.extensions import connection as Connection

from models.api_keys import Reach
from models.audit import AuditContext
from models.errors import ApplicationNotFound, ConfigurationNameTaken, FlagKeyTaken
from models.paging import PageRequest
from repositories import audit
from repositories.sql import constraint_errors, fetch_all, fetch_one, jsonb, reach_param

_COLUMNS = (
    "id, application_id, name, comments, config, schema_name, schema_version, version, created_at, updated_at"
)
_NAMES = [name.strip() for name in _COLUMNS.split(",")]

# A row is a configuration, or a flag (sql/0010): the same versions, revisions, events and
# statements, told apart by its kind. Each statement here serves one kind, and addresses a
# configuration by its id, a flag by its application and key.
Kind = Literal["configuration", "flag"]

_BY_ID = "id = %(id)s AND kind = 'configuration'"
_BY_KEY = "application_id = %(flag_application_id)s AND kind = 'flag' AND name = %(flag_key)s"

_GET = f"SELECT {_COLUMNS} FROM configurations WHERE {_BY_ID}"

_GET_FOR_UPDATE = f"{_GET} FOR UPDATE"

_GET_FLAG = f"SELECT {_COLUMNS} FROM configurations WHERE {_BY_KEY}"

_GET_FLAG_FOR_UPDATE = f"{_GET_FLAG} FOR UPDATE"

_LIST = f"""
SELECT {_COLUMNS}
FROM configurations
WHERE kind = %(kind)s
  AND (%(application_id)s::text IS NULL OR application_id = %(application_id)s)
  AND (%(name)s::text IS NULL OR name = %(name)s)
  AND (%(reach)s::text[] IS NULL OR application_id = ANY(%(reach)s))
  AND (%(after)s::text IS NULL OR id > %(after)s)
ORDER BY id
LIMIT %(limit)s OFFSET %(offset)s
"""


def _moment(column: str) -> str:
    """A timestamp as the API writes it (pydantic's form: UTC, "Z", microseconds unless 0)."""
    return f"""to_char({column} AT TIME ZONE 'UTC', CASE WHEN extract(microseconds FROM {column})::bigint
        %% 1000000 = 0 THEN 'YYYY-MM-DD"T"HH24:MI:SS"Z"' ELSE 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"' END)"""


def _image(row: str, kind: Kind) -> str:
    """The configuration in `row` as the API shows it (models.configurations.Configuration),
    or the flag (models.flags.Flag: its definition is its config): what the audit log keeps of
    it. Made by the statement that writes the change, so that the change, its revision and its
    event cost one round trip."""
    if kind == "flag":
        return f"""(jsonb_build_object(
        'id', {row}.id, 'application_id', {row}.application_id, 'key', {row}.name, 'version', {row}.version,
        'created_at', {_moment(row + ".created_at")}, 'updated_at', {_moment(row + ".updated_at")})
        || {row}.config)"""
    return f"""jsonb_build_object(
        'id', {row}.id, 'application_id', {row}.application_id, 'name', {row}.name,
        'comments', {row}.comments, 'config', {row}.config, 'version', {row}.version,
        'schema', CASE WHEN {row}.schema_name IS NULL THEN NULL ELSE
                  jsonb_build_object('name', {row}.schema_name, 'version', {row}.schema_version) END,
        'created_at', {_moment(row + ".created_at")}, 'updated_at', {_moment(row + ".updated_at")})"""


# Each version of a configuration is recorded as a revision, and each change as an audit
# event, by the statement that makes it: one round trip, and in autocommit one transaction.
_RECORD_REVISION = """
revision AS (
    INSERT INTO configuration_revisions
        (configuration_id, version, name, comments, config, schema_name, schema_version, created_at, actor,
         change, rolled_back_from, note)
    SELECT id, version, name, comments, config, schema_name, schema_version, updated_at,
           %(actor)s, %(change)s, %(rolled_back_from)s, %(note)s
    FROM written
)
"""


def _insert(kind: Kind) -> str:
    return f"""
WITH written AS (
    INSERT INTO configurations (id, application_id, kind, name, comments, config, schema_name, schema_version)
    VALUES (%(id)s, %(application_id)s, '{kind}', %(name)s, %(comments)s, %(config)s,
            %(schema_name)s, %(schema_version)s)
    RETURNING {_COLUMNS}
), {_RECORD_REVISION}, event AS (
    {audit.INSERT_EVENT}
    {
        audit.event_values(
            "written", before="NULL::jsonb", after=_image("written", kind), version="written.version"
        )
    }
)
SELECT {_COLUMNS} FROM written
"""


_INSERT = {"configuration": _insert("configuration"), "flag": _insert("flag")}

# Whether a config holds a sealed secret (services/secrets.py): a change of it keeps its
# secrets sealed, which takes the service's hand (a transaction), as a schema's check does.
_HOLDS_SECRETS = """jsonb_path_exists({}, 'strict $.**."$secret"')"""


def _current(where: str) -> str:
    """The configuration (or flag) a change or a deletion starts from, locked, if in the
    caller's reach."""
    return f"""WITH current AS (
    SELECT {_COLUMNS} FROM configurations
    WHERE {where} AND (%(reach)s::text[] IS NULL OR application_id = ANY(%(reach)s))
    FOR UPDATE
)"""


# One statement makes a change: it locks the configuration, checks the caller's reach and
# If-Match (and, for a change computed from what the caller read, that nothing changed since),
# works out what the configuration becomes, and writes it with its revision and its event.
# It writes only when something differs (jsonb equality: 1 and 1.0 are equal, 1 and true are
# not), so a change that changes nothing makes no version, revision or event; unless it must
# be recorded whatever it does (a rollback: an operator's deliberate act). A configuration that
# is (or becomes) bound to a schema is written only once the caller has validated what it
# becomes (`validated`): else it returns `needs_validation`, and writes nothing. Which check
# failed, if one did, the caller tells from the row it returns (see `change`).


def _change(where: str, kind: Kind) -> str:
    return f"""
{_current(where)}, restored AS (
    SELECT revision.name, revision.comments, revision.config
    FROM configuration_revisions AS revision JOIN current ON revision.configuration_id = current.id
    WHERE revision.version = %(rolled_back_from)s
), wanted AS (
    SELECT current.id,
           CASE WHEN %(rolled_back_from)s::integer IS NOT NULL THEN restored.name
                WHEN %(set_name)s THEN %(name)s ELSE current.name END AS name,
           CASE WHEN %(rolled_back_from)s::integer IS NOT NULL THEN restored.comments
                WHEN %(set_comments)s THEN %(comments)s ELSE current.comments END AS comments,
           CASE WHEN %(set_config)s THEN %(config)s::jsonb
                WHEN %(rolled_back_from)s::integer IS NOT NULL THEN restored.config
                ELSE current.config END AS config,
           CASE WHEN %(set_binding)s THEN %(schema_name)s ELSE current.schema_name END AS schema_name,
           CASE WHEN %(set_binding)s THEN %(schema_version)s::integer ELSE current.schema_version END
               AS schema_version
    FROM current LEFT JOIN restored ON true
    WHERE (%(if_match)s::integer[] IS NULL OR current.version = ANY(%(if_match)s))
      AND (%(based_on)s::integer IS NULL OR current.version = %(based_on)s)
      AND (%(rolled_back_from)s::integer IS NULL OR restored.name IS NOT NULL)
), written AS (
    UPDATE configurations AS target
    SET name = wanted.name, comments = wanted.comments, config = wanted.config,
        schema_name = wanted.schema_name, schema_version = wanted.schema_version,
        version = target.version + 1, updated_at = now()
    FROM wanted
    WHERE target.id = wanted.id
      AND (%(validated)s OR (wanted.schema_name IS NULL AND NOT {_HOLDS_SECRETS.format("target.config")}))
      AND (%(always)s
           OR (target.name, target.comments, target.config, target.schema_name, target.schema_version)
              IS DISTINCT FROM
              (wanted.name, wanted.comments, wanted.config, wanted.schema_name, wanted.schema_version))
    RETURNING {", ".join(f"target.{name}" for name in _NAMES)}
), {_RECORD_REVISION}, event AS (
    {audit.INSERT_EVENT}
    {
        audit.event_values(
            "written, current",
            before=_image("current", kind),
            after=_image("written", kind),
            version="written.version",
            entity_id="written.id",
            application_id="written.application_id",
        )
    }
)
SELECT {
        ", ".join(
            f"CASE WHEN written.id IS NULL THEN current.{c} ELSE written.{c} END AS {c}" for c in _NAMES
        )
    },
       written.id IS NOT NULL AS written, current.version AS current_version,
       restored.name IS NOT NULL AS restorable,
       (wanted.schema_name IS NOT NULL OR {_HOLDS_SECRETS.format("current.config")}) AND NOT %(validated)s
           AS needs_validation
FROM current LEFT JOIN written ON true LEFT JOIN restored ON true LEFT JOIN wanted ON true
"""


_CHANGE = {"configuration": _change(_BY_ID, "configuration"), "flag": _change(_BY_KEY, "flag")}


def _delete(where: str, kind: Kind) -> str:
    """Deletes it, with its event, in one statement, if in reach and If-Match holds."""
    return f"""
{_current(where)}, written AS (
    DELETE FROM configurations AS target USING current
    WHERE target.id = current.id
      AND (%(if_match)s::integer[] IS NULL OR current.version = ANY(%(if_match)s))
    RETURNING {", ".join(f"target.{name}" for name in _NAMES)}
), event AS (
    {audit.INSERT_EVENT}
    {
        audit.event_values(
            "written",
            before=_image("written", kind),
            after="NULL::jsonb",
            version="written.version",
            entity_id="written.id",
            application_id="written.application_id",
        )
    }
)
SELECT current.id, current.application_id, current.version, written.id IS NOT NULL AS written
FROM current LEFT JOIN written ON true
"""


_DELETE = {"configuration": _delete(_BY_ID, "configuration"), "flag": _delete(_BY_KEY, "flag")}

_LIST_ALL_OF_APPLICATION = f"""
SELECT {_COLUMNS} FROM configurations WHERE application_id = %(id)s AND kind = %(kind)s ORDER BY id
"""

_LIST_FLAGS_OF_APPLICATION = f"""
SELECT {_COLUMNS} FROM configurations
WHERE application_id = %(id)s AND kind = 'flag'
ORDER BY name COLLATE "C"
"""


def _binding_params(binding: dict | None) -> dict:
    binding = binding or {}
    return {"schema_name": binding.get("name"), "schema_version": binding.get("version")}


def _revision(actor: str, change: str, rolled_back_from: int | None = None, note: str | None = None) -> dict:
    return {"actor": actor, "change": change, "rolled_back_from": rolled_back_from, "note": note}


def get(conn: Connection, configuration_id: str, *, for_update: bool = False) -> dict | None:
    return fetch_one(conn, _GET_FOR_UPDATE if for_update else _GET, {"id": configuration_id})


def get_flag(conn: Connection, application_id: str, key: str, *, for_update: bool = False) -> dict | None:
    params = {"flag_application_id": application_id, "flag_key": key}
    return fetch_one(conn, _GET_FLAG_FOR_UPDATE if for_update else _GET_FLAG, params)


def list_page(
    conn: Connection,
    page: PageRequest,
    *,
    application_id: str | None = None,
    name: str | None = None,
    reach: Reach = None,
    kind: Kind = "configuration",
) -> list[dict]:
    params = {
        **page.sql_params,
        "kind": kind,
        "application_id": application_id,
        "name": name,
        "reach": reach_param(reach),
    }
    return fetch_all(conn, _LIST, params)


def _name_taken(kind: Kind, name: str | None) -> dict:
    taken = FlagKeyTaken if kind == "flag" else ConfigurationNameTaken
    return {"configurations_application_id_kind_name_key": lambda: taken(name)}


def insert(
    conn: Connection,
    context: AuditContext,
    *,
    id: str,
    event_id: str,
    application_id: str,
    name: str,
    comments: str | None,
    config: dict,
    binding: dict | None = None,
    kind: Kind = "configuration",
) -> dict:
    """Create the configuration (or the flag named `name`) at version 1, with its first
    revision and its event. With a `binding` ({name, version}), the caller has checked, under
    the schema's lock, that what it holds passes the schema (services/schemas.py): unlike a
    change, nothing here checks."""
    errors = constraint_errors(
        _name_taken(kind, name)
        | {"configurations_application_id_fkey": lambda: ApplicationNotFound(application_id)}
    )
    params = {
        "id": id,
        "application_id": application_id,
        "name": name,
        "comments": comments,
        "config": jsonb(config),
        **_binding_params(binding),
        **_revision(context.actor, "created"),
        **audit.params(
            context,
            event_id=event_id,
            action=f"{kind}.created",
            entity_type=kind,
            entity_id=id,
            application_id=application_id,
        ),
    }
    with errors:
        return fetch_one(conn, _INSERT[kind], params)


def change(
    conn: Connection,
    configuration_id: str | None,
    context: AuditContext,
    *,
    event_id: str,
    change: str,
    if_match: list[int] | None,
    fields: dict | None = None,
    based_on: int | None = None,
    rolled_back_from: int | None = None,
    note: str | None = None,
    validated: bool = False,
    flag: tuple[str, str] | None = None,
) -> dict | None:
    """Change the configuration, if in the caller's reach (`context.reach`) and at a version
    `if_match` names (None: any): set the `fields` given (name, comments, config, binding), or restore
    those of version `rolled_back_from` (always recorded, even if nothing differs); with
    `based_on`, only if still at that version. Written at its next version with a revision
    and an event, in one statement. A flag is named by `flag`, (application id, key), instead
    of an id.

    A configuration bound to a schema after the change is written only if `validated` (what it
    becomes has passed the schema, under its lock: see repositories/schemas.py).

    Returns None if there is no such configuration in reach; else the configuration as it now
    is, with `written` (whether it changed), and, when it did not, `current_version`,
    `restorable` (whether version `rolled_back_from` exists) and `needs_validation` to tell
    why."""
    kind: Kind = "configuration" if flag is None else "flag"
    fields = fields or {}
    name = fields.get("name")
    params = {
        "id": configuration_id,
        **_flag_params(flag),
        "reach": reach_param(context.reach),
        "if_match": if_match,
        "based_on": based_on,
        "set_name": "name" in fields,
        "name": name,
        "set_comments": "comments" in fields,
        "comments": fields.get("comments"),
        "set_config": "config" in fields,
        "config": jsonb(fields.get("config")),
        "set_binding": "binding" in fields,
        **_binding_params(fields.get("binding")),
        "validated": validated,
        "always": rolled_back_from is not None,
        **_revision(context.actor, change, rolled_back_from, note),
        **audit.params(context, event_id=event_id, action=f"{kind}.{change}", entity_type=kind, note=note),
    }
    with constraint_errors(_name_taken(kind, name)):
        return fetch_one(conn, _CHANGE[kind], params)


def delete(
    conn: Connection,
    configuration_id: str | None,
    context: AuditContext,
    *,
    event_id: str,
    if_match: list[int] | None,
    flag: tuple[str, str] | None = None,
) -> dict | None:
    """Delete the configuration (or the flag `flag` names: application id, key) with its event,
    if in reach and at a version `if_match` names (None: any). Returns None if there is no such
    configuration in reach; else its id, application_id, version and `written` (whether it was
    deleted)."""
    kind: Kind = "configuration" if flag is None else "flag"
    params = {
        "id": configuration_id,
        **_flag_params(flag),
        "reach": reach_param(context.reach),
        "if_match": if_match,
        **audit.params(context, event_id=event_id, action=f"{kind}.deleted", entity_type=kind),
    }
    return fetch_one(conn, _DELETE[kind], params)


def _flag_params(flag: tuple[str, str] | None) -> dict:
    application_id, key = flag if flag is not None else (None, None)
    return {"flag_application_id": application_id, "flag_key": key}


def all_of_application(conn: Connection, application_id: str, kind: Kind = "configuration") -> list[dict]:
    return fetch_all(conn, _LIST_ALL_OF_APPLICATION, {"id": application_id, "kind": kind})


def flags_of_application(conn: Connection, application_id: str) -> list[dict]:
    """The application's flags, in key order."""
    return fetch_all(conn, _LIST_FLAGS_OF_APPLICATION, {"id": application_id})
