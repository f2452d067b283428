import psycopg2
import pytest

from models.audit import AuditContext
from models.errors import ApplicationNameTaken
from models.ids import new_id
from models.paging import PageRequest
from repositories import applications, configurations
from services.audit import record


def add(conn, name: str, comments: str | None = None) -> dict:
    return applications.insert(conn, id=new_id(), name=name, comments=comments)


def test_insert_returns_the_stored_row(conn):
    row = add(conn, "payments", "team")
    assert row["name"] == "payments"
    assert row["comments"] == "team"
    assert row["configuration_ids"] == []
    assert row["created_at"] == row["updated_at"]
    assert row["created_at"].utcoffset().total_seconds() == 0
    assert applications.get(conn, row["id"]) == row


def test_insert_of_a_taken_name_is_a_domain_error(conn):
    add(conn, "payments")
    with pytest.raises(ApplicationNameTaken):
        add(conn, "payments")


def test_get_unknown_is_none(conn):
    assert applications.get(conn, new_id()) is None
    assert applications.exists(conn, new_id()) is False


def test_an_application_is_known_while_it_exists_and_after_by_its_history(conn):
    kept, deleted, unrecorded = add(conn, "kept"), add(conn, "deleted"), add(conn, "unrecorded")
    record(
        conn,
        AuditContext(),
        "application.deleted",
        entity_type="application",
        entity_id=deleted["id"],
        application_id=deleted["id"],
        version=1,
        before={"name": "deleted"},
        after=None,
    )
    applications.delete(conn, deleted["id"])
    applications.delete(conn, unrecorded["id"])

    assert applications.known(conn, kept["id"]) is True
    assert applications.known(conn, deleted["id"]) is True
    assert applications.known(conn, unrecorded["id"]) is False
    assert applications.known(conn, new_id()) is False


def test_configuration_ids_are_listed_in_id_order(conn):
    app = add(conn, "payments")
    ids = [
        configurations.insert(
            conn,
            AuditContext("t"),
            id=new_id(),
            event_id=new_id(),
            application_id=app["id"],
            name=name,
            comments=None,
            config={},
        )["id"]
        for name in ("z", "a", "m")
    ]
    assert applications.get(conn, app["id"])["configuration_ids"] == ids
    assert applications.exists(conn, app["id"]) is True


def test_list_page_filters_and_pages(conn):
    ids = [add(conn, f"app-{i}")["id"] for i in range(5)]

    def listed(**kwargs):
        page = PageRequest(**{k: v for k, v in kwargs.items() if k != "name"})
        return [r["id"] for r in applications.list_page(conn, page, name=kwargs.get("name"))]

    assert listed() == ids
    assert listed(limit=2) == ids[:3]  # one extra row tells the caller another page follows
    assert listed(offset=3) == ids[3:]
    assert listed(after=ids[2]) == ids[3:]
    assert listed(name="app-1") == [ids[1]]
    assert listed(name="app-1", after=ids[1]) == []


def test_update_sets_fields_and_the_update_time(conn):
    row = add(conn, "payments")
    conn.commit()  # now() is the transaction's start: a new transaction for a later time

    updated = applications.update(conn, row["id"], name="billing", comments="new")

    assert (updated["name"], updated["comments"]) == ("billing", "new")
    assert updated["updated_at"] > row["updated_at"]
    assert updated["created_at"] == row["created_at"]
    assert (row["version"], updated["version"]) == (1, 2)


def test_an_update_that_changes_nothing_writes_nothing(conn):
    row = add(conn, "payments", "c")
    assert applications.update(conn, row["id"], name="payments", comments="c") is None
    assert applications.get(conn, row["id"]) == row
    assert applications.update(conn, row["id"], name="payments", comments=None)["comments"] is None


def test_update_to_a_taken_name_is_a_domain_error(conn):
    add(conn, "payments")
    billing = add(conn, "billing")
    with pytest.raises(ApplicationNameTaken):
        applications.update(conn, billing["id"], name="payments", comments=None)


def test_get_for_update_locks_the_row(conn, database_url):
    row = add(conn, "payments")
    conn.commit()
    applications.get(conn, row["id"], for_update=True)

    with (
        psycopg2.connect(database_url) as other,
        other.cursor() as cursor,
        pytest.raises(psycopg2.errors.LockNotAvailable),
    ):
        cursor.execute("SELECT 1 FROM applications WHERE id = %s FOR UPDATE NOWAIT", (row["id"],))


def test_delete_cascades_to_configurations(conn):
    app = add(conn, "payments")
    configuration = configurations.insert(
        conn,
        AuditContext("t"),
        id=new_id(),
        event_id=new_id(),
        application_id=app["id"],
        name="db",
        comments=None,
        config={},
    )

    assert applications.delete(conn, app["id"]) is True
    assert applications.delete(conn, app["id"]) is False
    assert configurations.get(conn, configuration["id"]) is None
