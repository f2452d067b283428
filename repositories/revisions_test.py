import psycopg2
import pytest

from models.audit import AuditContext
from models.ids import new_id
from models.paging import PageRequest
from repositories import applications, configurations, revisions


@pytest.fixture
def configuration(conn) -> dict:
    app_id = applications.insert(conn, id=new_id(), name="payments", comments=None)["id"]
    return configurations.insert(
        conn,
        AuditContext("alice"),
        id=new_id(),
        event_id=new_id(),
        application_id=app_id,
        name="db",
        comments="c",
        config={"n": 1},
    )


def change(conn, configuration: dict, *, change: str = "updated", **options) -> dict | None:
    """Change it as bob: `options` are configurations.change's, or fields to set."""
    given = {k: options.pop(k) for k in ("rolled_back_from", "note") if k in options}
    row = configurations.change(
        conn,
        configuration["id"],
        AuditContext("bob"),
        event_id=new_id(),
        change=change,
        if_match=None,
        fields=options,
        **given,
    )
    return row if row["written"] else None


def test_creating_a_configuration_records_its_first_revision(conn, configuration):
    assert revisions.get(conn, configuration["id"], 1) == {
        "configuration_id": configuration["id"],
        "version": 1,
        "name": "db",
        "comments": "c",
        "config": {"n": 1},
        "schema_name": None,
        "schema_version": None,
        "created_at": configuration["updated_at"],
        "actor": "alice",
        "change": "created",
        "rolled_back_from": None,
        "note": None,
    }
    assert revisions.get(conn, configuration["id"], 2) is None


def test_each_change_records_a_revision_of_the_new_version(conn, configuration):
    change(conn, configuration, config={"n": 2})
    changed = change(conn, configuration, change="rolled_back", rolled_back_from=1, note="why")

    revision = revisions.get(conn, configuration["id"], 3)
    assert (revision["config"], revision["actor"], revision["change"]) == ({"n": 1}, "bob", "rolled_back")
    assert (revision["rolled_back_from"], revision["note"]) == (1, "why")
    assert revision["created_at"] == changed["updated_at"]


def test_a_change_that_changes_nothing_records_nothing(conn, configuration):
    assert change(conn, configuration) is None
    assert revisions.get(conn, configuration["id"], 2) is None


def test_list_page_is_newest_first(conn, configuration):
    for n in range(2, 5):
        change(conn, configuration, config={"n": n})

    def versions(**page):
        return [r["version"] for r in revisions.list_page(conn, configuration["id"], PageRequest(**page))]

    assert versions() == [4, 3, 2, 1]
    assert versions(limit=2) == [4, 3, 2]  # one beyond the page, to tell that more follow
    assert versions(after=3) == [2, 1]
    assert versions(offset=3) == [1]


def test_a_version_is_recorded_once(conn, configuration):
    with conn.cursor() as cursor, pytest.raises(psycopg2.errors.UniqueViolation):
        cursor.execute(
            "INSERT INTO configuration_revisions (configuration_id, version, name, config, actor, change)"
            " VALUES (%s, 1, 'db', '{}', 'x', 'updated')",
            (configuration["id"],),
        )


def test_revisions_cannot_be_rewritten(conn, configuration):
    with conn.cursor() as cursor, pytest.raises(psycopg2.errors.InsufficientPrivilege):
        cursor.execute("UPDATE configuration_revisions SET actor = 'mallory'")


def test_revisions_go_with_their_configuration(conn, configuration):
    configurations.delete(conn, configuration["id"], AuditContext("t"), event_id=new_id(), if_match=None)
    assert revisions.get(conn, configuration["id"], 1) is None
