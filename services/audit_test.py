import pytest

from models.audit import AuditContext, AuditFilter
from models.paging import PageRequest
from services.audit import MAX_NOTE, AuditService, record, record_about

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


async def test_an_event_about_a_configuration_keeps_a_note_within_its_length(database):
    configuration = {"id": "01ARZ3NDEKTSV4RRFFQ69G5FAV", "application_id": "01ARZ3NDEKTSV4RRFFQ69G5FAW"}

    await database.write(
        lambda conn: record_about(
            conn, AuditContext(actor="a"), "configuration.revealed", configuration, version=3, note="x" * 2000
        )
    )
    [event] = (await AuditService(database).list(AuditFilter(), PageRequest())).items

    assert (event.entity_id, event.application_id, event.version) == (
        "01ARZ3NDEKTSV4RRFFQ69G5FAV",
        "01ARZ3NDEKTSV4RRFFQ69G5FAW",
        3,
    )
    assert len(event.note) == MAX_NOTE and event.note.endswith("…")
    assert event.before is None and event.after is None
