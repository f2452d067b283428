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
