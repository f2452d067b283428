"""The audit log: one event per change, written in the change's own transaction."""

from psycopg2.extensions import connection as Connection

from database.pool import Database
from models.audit import Action, AuditContext, AuditEvent, AuditFilter, EntityType
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


class AuditService:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def list(self, filters: AuditFilter, page: PageRequest) -> Page[AuditEvent]:
        rows = await self._db.read(lambda conn: audit.list_page(conn, filters, page))
        return Page.from_rows([AuditEvent.model_validate(row) for row in rows], page)
