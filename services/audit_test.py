import pytest

from models.audit import AuditContext, AuditFilter
from models.paging import PageRequest
from services.audit import AuditService, record

pytestmark = pytest.mark.anyio


async def test_recorded_events_are_listed_newest_first(database):
    def write(conn):
        for n in range(3):
            record(
                conn,
                AuditContext(actor=f"actor-{n}"),
                "application.created",
                entity_type="application",
                entity_id="01ARZ3NDEKTSV4RRFFQ69G5FAV",
                application_id="01ARZ3NDEKTSV4RRFFQ69G5FAV",
                version=1,
                before=None,
                after={"n": n},
            )

    await database.write(write)
    page = await AuditService(database).list(AuditFilter(), PageRequest(limit=2))

    assert [e.actor for e in page.items] == ["actor-2", "actor-1"]
    assert page.next_after == page.items[-1].id
    assert page.items[0].after == {"n": 2}
