from dataclasses import asdict

from psycopg2.extensions import connection as Connection
from psycopg2.extras import Json

from models.audit import AuditContext, AuditFilter
from models.paging import PageRequest
from repositories.sql import fetch_all, fetch_one

_COLUMNS = """id, occurred_at, actor, action, entity_type, entity_id, application_id, version,
    before, after, note, request_id, client_ip, user_agent"""

_INSERT = f"""
INSERT INTO audit_events
    (id, actor, action, entity_type, entity_id, application_id, version, before, after, note,
     request_id, client_ip, user_agent)
VALUES
    (%(id)s, %(actor)s, %(action)s, %(entity_type)s, %(entity_id)s, %(application_id)s, %(version)s,
     %(before)s, %(after)s, %(note)s, %(request_id)s, %(client_ip)s, %(user_agent)s)
RETURNING {_COLUMNS}
"""

# Newest first; `after` is the id the previous page ended at.
_LIST = f"""
SELECT {_COLUMNS}
FROM audit_events
WHERE (%(application_id)s::text IS NULL OR application_id = %(application_id)s)
  AND (%(entity_type)s::text IS NULL OR entity_type = %(entity_type)s)
  AND (%(entity_id)s::text IS NULL OR entity_id = %(entity_id)s)
  AND (%(action)s::text IS NULL OR action = %(action)s)
  AND (%(actor)s::text IS NULL OR actor = %(actor)s)
  AND (%(since)s::timestamptz IS NULL OR occurred_at >= %(since)s)
  AND (%(until)s::timestamptz IS NULL OR occurred_at < %(until)s)
  AND (%(after)s::text IS NULL OR id < %(after)s)
ORDER BY id DESC
LIMIT %(limit)s OFFSET %(offset)s
"""


def append(
    conn: Connection,
    context: AuditContext,
    *,
    id: str,
    action: str,
    entity_type: str,
    entity_id: str,
    application_id: str,
    version: int | None,
    before: dict | None,
    after: dict | None,
    note: str | None = None,
) -> dict:
    params = {
        **asdict(context),
        "id": id,
        "action": action,
        "entity_type": entity_type,
        "entity_id": entity_id,
        "application_id": application_id,
        "version": version,
        "before": None if before is None else Json(before),
        "after": None if after is None else Json(after),
        "note": note,
    }
    return fetch_one(conn, _INSERT, params)


def list_page(conn: Connection, filters: AuditFilter, page: PageRequest) -> list[dict]:
    return fetch_all(conn, _LIST, {**asdict(filters), **page.sql_params})
