"""The audit log: one event per change, written in the change's own transaction."""

from psycopg2.extensions import connection as Connection

from database.pool import Database
from models.api_keys import within
from models.audit import Action, AuditContext, AuditEvent, AuditFilter, EntityType
from models.errors import ApplicationNotFound
from models.ids import new_id
from models.paging import Page, PageRequest
from repositories import audit


def record(
    conn: Connection,
    context: AuditContext,
    action: Action,
    *,
    entity_type: EntityType,
    entity_id: str,
    application_id: str,
    version: int | None,
    before: dict | None,
    after: dict | None,
    note: str | None = None,
) -> dict:
    """Append the event for a change, in the change's transaction, after the change."""
    return audit.append(
        conn,
        context,
        id=new_id(),
        action=action,
        entity_type=entity_type,
        entity_id=entity_id,
        application_id=application_id,
        version=version,
        before=before,
        after=after,
        note=note,
    )


# An audit event's note, at most (audit_events.note).
MAX_NOTE = 1024


def record_about(
    conn: Connection, context: AuditContext, action: Action, configuration: dict, *, version: int, note: str
) -> dict:
    """Append an event about a configuration that changes none of it (a reveal, a scrub):
    no images, only what was done, in `note` (cut to its length)."""
    return record(
        conn,
        context,
        action,
        entity_type="configuration",
        entity_id=configuration["id"],
        application_id=configuration["application_id"],
        version=version,
        before=None,
        after=None,
        note=note if len(note) <= MAX_NOTE else note[: MAX_NOTE - 1] + "…",
    )


class AuditService:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def list(self, filters: AuditFilter, page: PageRequest) -> Page[AuditEvent]:
        """Events newest first; only those within the filter's reach. Asking for an
        application out of reach is asking for one that does not exist."""
        if filters.application_id is not None and not within(filters.reach, filters.application_id):
            raise ApplicationNotFound(filters.application_id)
        rows = await self._db.read(lambda conn: audit.list_page(conn, filters, page))
        return Page.from_rows([AuditEvent.model_validate(row) for row in rows], page)
