from dataclasses import asdict

from psycopg2.extensions import connection as Connection

from models.audit import AuditContext, AuditFilter
from models.paging import PageRequest
from repositories.sql import fetch_all, fetch_one, jsonb, reach_param

_COLUMNS = """id, seq, occurred_at, actor, on_behalf_of, action, entity_type, entity_id, application_id,
    version, before, after, note, request_id, client_ip, user_agent"""

# The event takes the next change number. The counter row stays locked until the writing
# transaction commits, so numbers become visible in order (sql/0004.change-feed.sql).
# It is the last statement of a change, so its clock reading is all but the commit's.
_INSERT = f"""
WITH next AS (
    UPDATE change_sequence SET last_seq = last_seq + 1 RETURNING last_seq
)
INSERT INTO audit_events
    (id, seq, occurred_at, actor, on_behalf_of, action, entity_type, entity_id, application_id, version,
     before, after, note, request_id, client_ip, user_agent)
SELECT
    %(id)s, next.last_seq, clock_timestamp(), %(actor)s, %(on_behalf_of)s, %(action)s, %(entity_type)s,
    %(entity_id)s, %(application_id)s, %(version)s, %(before)s, %(after)s, %(note)s, %(request_id)s,
    %(client_ip)s, %(user_agent)s
FROM next
RETURNING {_COLUMNS}
"""

# What the change feed tells: small, without the images.
_CHANGES_AFTER = """
SELECT seq, action, entity_type, entity_id, application_id, version, occurred_at, actor,
       COALESCE(after ->> 'name', before ->> 'name') AS name
FROM audit_events
WHERE seq > %(after)s
ORDER BY seq
LIMIT %(limit)s
"""

_LATEST_SEQ = "SELECT last_seq FROM change_sequence"

# Newest first, in commit order; `after` is the id of the event the previous page ended at
# (an id that names no event ends the list).
_LIST = f"""
SELECT {_COLUMNS}
FROM audit_events
WHERE (%(application_id)s::text IS NULL OR application_id = %(application_id)s)
  AND (%(entity_type)s::text IS NULL OR entity_type = %(entity_type)s)
  AND (%(entity_id)s::text IS NULL OR entity_id = %(entity_id)s)
  AND (%(action)s::text IS NULL OR action = %(action)s)
  AND (%(actor)s::text IS NULL OR actor = %(actor)s)
  AND (%(on_behalf_of)s::text IS NULL OR on_behalf_of = %(on_behalf_of)s)
  AND (%(reach)s::text[] IS NULL OR application_id = ANY(%(reach)s))
  AND (%(keys_visible)s OR entity_type <> 'api_key')
  AND (%(since)s::timestamptz IS NULL OR occurred_at >= %(since)s)
  AND (%(until)s::timestamptz IS NULL OR occurred_at < %(until)s)
  AND (%(after)s::text IS NULL OR seq < (SELECT seq FROM audit_events WHERE id = %(after)s))
ORDER BY seq DESC
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
        "before": None if before is None else jsonb(before),
        "after": None if after is None else jsonb(after),
        "note": note,
    }
    return fetch_one(conn, _INSERT, params)


def list_page(conn: Connection, filters: AuditFilter, page: PageRequest) -> list[dict]:
    params = {**asdict(filters), **page.sql_params, "reach": reach_param(filters.reach)}
    return fetch_all(conn, _LIST, params)


def changes_after(conn: Connection, seq: int, limit: int) -> list[dict]:
    """The next `limit` changes after `seq`, in commit order."""
    return fetch_all(conn, _CHANGES_AFTER, {"after": seq, "limit": limit})


def latest_seq(conn: Connection) -> int:
    """The number of the last committed change (0 before any)."""
    return fetch_one(conn, _LATEST_SEQ)["last_seq"]
