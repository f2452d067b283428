"""Changes written straight to the audit log, for tests of those who follow them: the
change feed, event streams, long polls."""

from models.audit import AuditContext
from services.audit import record


def record_changes(conn, *application_ids: str, action: str = "application.updated") -> None:
    """One change to each application, in order, in `conn`'s transaction."""
    for application_id in application_ids:
        record(
            conn,
            AuditContext(actor="tester"),
            action,
            entity_type="application",
            entity_id=application_id,
            application_id=application_id,
            version=1,
            before=None,
            after={"name": "x"},
        )
