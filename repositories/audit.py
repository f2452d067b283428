from dataclasses import asdict

from psycopg2.extensions import connection as Connection

from models.audit import AuditContext, AuditFilter
from models.paging import PageRequest
from models.snapshots import Snapshot
from repositories.sql import fetch_all, fetch_one, jsonb, reach_param

_COLUMNS = """id, seq, occurred_at, actor, on_behalf_of, action, entity_type, entity_id, application_id,
    version, before, after, note, request_id, client_ip, user_agent"""

# The columns of an event that the writer gives, in order: see `event_values`.
_GIVEN = """id, actor, on_behalf_of, action, entity_type, entity_id, application_id, version, before, after,
    note, request_id, client_ip, user_agent"""


def event_values(
    source: str,
    *,
    before: str,
    after: str,
    version: str,
    entity_id: str = "%(entity_id)s",
    application_id: str = "%(application_id)s",
) -> str:
    """A SELECT of one event's values per row of `source`, a CTE or table that has written
    the change (so the writing transaction already has its id), for INSERT_EVENT. `before`,
    `after`, `version`, `entity_id` and `application_id` are SQL expressions over `source`;
    the other values are the parameters `params` gives.

    The change number is taken last, after the transaction has its id: the change feed finds
    every write that may still commit a lower number among the transactions in progress, so a
    number must never be taken by a transaction that has none (services/change_feed.py). It
    is the last thing the change does, so its clock reading is all but the commit's.
    """
    return f"""
    SELECT nextval('change_seq'), clock_timestamp(), %(event_id)s, %(actor)s, %(on_behalf_of)s,
           %(action)s, %(entity_type)s, {entity_id}, {application_id}, {version}, {before}, {after},
           %(note)s, %(request_id)s, %(client_ip)s, %(user_agent)s
    FROM {source}
    """


INSERT_EVENT = f"INSERT INTO audit_events (seq, occurred_at, {_GIVEN})"

# The transaction gets its id (if this is its first write) before the number is taken: the
# condition must be evaluated before the values are (OFFSET 0 keeps the subquery from being
# folded into the outer SELECT, and using its column keeps the planner from dropping it).
_WRITER = "(SELECT pg_current_xact_id() AS xid OFFSET 0) AS writer WHERE writer.xid IS NOT NULL"
_INSERT = f"""
{INSERT_EVENT}
{event_values(_WRITER, before="%(before)s", after="%(after)s", version="%(version)s")}
RETURNING {_COLUMNS}
"""

# What the change feed tells: small, without the images.
_CHANGES_AFTER = """
SELECT seq, action, entity_type, entity_id, application_id, version, occurred_at, actor,
       COALESCE(after ->> 'name', before ->> 'name', after ->> 'key', before ->> 'key') AS name
FROM audit_events
WHERE seq > %(after)s
ORDER BY seq
LIMIT %(limit)s
"""

# With the changes, the reading's own snapshot: which transactions were in progress when it
# was taken (pg_current_snapshot() is the statement's snapshot, the one the rows come from).
_CHANGES_AFTER_IN_SNAPSHOT = f"""
SELECT pg_current_snapshot()::text AS snapshot, changes.*
FROM (SELECT 1) AS one
LEFT JOIN LATERAL ({_CHANGES_AFTER}) AS changes ON true
ORDER BY changes.seq
"""

# The highest number committed, in the snapshot that saw it.
_LATEST_SEQ = """
SELECT pg_current_snapshot()::text AS snapshot, coalesce(max(seq), 0) AS seq FROM audit_events
"""

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


def params(
    context: AuditContext,
    *,
    event_id: str,
    action: str,
    entity_type: str,
    entity_id: str | None = None,
    application_id: str | None = None,
    note: str | None = None,
) -> dict:
    """The parameters `event_values` names, for an event of `context` (`entity_id` and
    `application_id` where the statement does not take them from what it writes)."""
    recorded = {name: value for name, value in asdict(context).items() if name != "reach"}
    return {
        **recorded,
        "event_id": event_id,
        "action": action,
        "entity_type": entity_type,
        "entity_id": entity_id,
        "application_id": application_id,
        "note": note,
    }


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
    given = params(
        context,
        event_id=id,
        action=action,
        entity_type=entity_type,
        entity_id=entity_id,
        application_id=application_id,
        note=note,
    )
    given |= {
        "version": version,
        "before": None if before is None else jsonb(before),
        "after": None if after is None else jsonb(after),
    }
    return fetch_one(conn, _INSERT, given)


def list_page(conn: Connection, filters: AuditFilter, page: PageRequest) -> list[dict]:
    params = {**asdict(filters), **page.sql_params, "reach": reach_param(filters.reach)}
    return fetch_all(conn, _LIST, params)


def changes_after(conn: Connection, seq: int, limit: int) -> list[dict]:
    """The next `limit` changes after `seq`, in commit order."""
    return fetch_all(conn, _CHANGES_AFTER, {"after": seq, "limit": limit})


def transaction_id_bound(conn: Connection) -> int:
    """An id above every transaction's that had started before this was called: a new one,
    this statement's own. (A snapshot's xmax is no such bound: it is one past the newest to
    have finished, and a transaction with an id at or above it may have been in progress for
    a while, unlisted.)
    It writes nothing, so its commit waits for no disk."""
    return fetch_one(conn, "SELECT pg_current_xact_id()::text::bigint AS xid")["xid"]


def announce(conn: Connection, channel: str) -> None:
    """Notify the listeners on `channel` that changes were committed (in autocommit: the
    notification leaves as the statement commits)."""
    fetch_one(conn, "SELECT pg_notify(%(channel)s, '')", {"channel": channel})


def changes_in_snapshot(conn: Connection, seq: int, limit: int) -> tuple[list[dict], Snapshot]:
    """The next `limit` changes after `seq` in number order, and the snapshot they were read
    in: numbers missing between them may belong to transactions in progress in it."""
    rows = fetch_all(conn, _CHANGES_AFTER_IN_SNAPSHOT, {"after": seq, "limit": limit})
    snapshot = Snapshot.parse(rows[0]["snapshot"])
    return [row for row in rows if row["seq"] is not None], snapshot


def latest_seq(conn: Connection) -> tuple[int, Snapshot]:
    """The highest change number committed (0 before any), and the snapshot that saw it."""
    row = fetch_one(conn, _LATEST_SEQ)
    return row["seq"], Snapshot.parse(row["snapshot"])
