from datetime import UTC, datetime, timedelta

import psycopg2
import pytest
from psycopg2.extras import RealDictCursor

from models.audit import AuditContext, AuditFilter
from models.ids import new_id
from models.paging import PageRequest
from repositories import audit
from tests.waiting import wait_until

CONTEXT = AuditContext(actor="alice", request_id="req-1", client_ip="10.0.0.1", user_agent="cli/1")


def append(conn, action="application.created", entity_id=None, **fields) -> dict:
    entity_id = entity_id or new_id()
    values = {
        "id": new_id(),
        "action": action,
        "entity_type": action.split(".")[0],
        "entity_id": entity_id,
        "application_id": fields.pop("application_id", entity_id),
        "version": 1,
        "before": None,
        "after": {"name": "x", "nested": {"list": [1, None]}},
    }
    return audit.append(conn, CONTEXT, **(values | fields))


def test_append_stores_the_event_with_its_context(conn):
    event = append(conn, note="because")

    assert (event["actor"], event["request_id"], event["client_ip"], event["user_agent"]) == (
        "alice",
        "req-1",
        "10.0.0.1",
        "cli/1",
    )
    assert event["after"] == {"name": "x", "nested": {"list": [1, None]}}
    assert event["before"] is None
    assert event["note"] == "because"
    assert abs(event["occurred_at"] - datetime.now(UTC)) < timedelta(minutes=1)


def test_list_filters_newest_first(conn):
    app_id = new_id()
    first = append(conn, entity_id=app_id)
    second = append(conn, "configuration.created", application_id=app_id)
    other = append(conn)

    def listed(**filters):
        return [e["id"] for e in audit.list_page(conn, AuditFilter(**filters), PageRequest())]

    assert listed() == [other["id"], second["id"], first["id"]]
    assert listed(application_id=app_id) == [second["id"], first["id"]]
    assert listed(entity_type="configuration") == [second["id"]]
    assert listed(action="application.created", entity_id=app_id) == [first["id"]]
    assert listed(actor="alice") == listed()
    assert listed(actor="bob") == []
    later = datetime.now(UTC) + timedelta(hours=1)
    assert listed(since=later) == [] and len(listed(until=later)) == 3
    assert [e["id"] for e in audit.list_page(conn, AuditFilter(), PageRequest(after=second["id"]))] == [
        first["id"]
    ]


def test_the_log_is_in_commit_order_whatever_the_ids_say(conn):
    # Ids are made before the transaction commits, by any process: a later change may have
    # the smaller id.
    smaller_id, larger_id = sorted(new_id() for _ in range(2))
    committed_first = append(conn, id=larger_id)
    committed_second = append(conn, id=smaller_id)

    listed = audit.list_page(conn, AuditFilter(), PageRequest(limit=1))
    after = audit.list_page(conn, AuditFilter(), PageRequest(after=committed_second["id"]))

    assert listed[0]["id"] == committed_second["id"]
    assert [e["id"] for e in after] == [committed_first["id"]]
    assert audit.list_page(conn, AuditFilter(), PageRequest(after=new_id())) == []


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_events SET actor = 'mallory'",
        "DELETE FROM audit_events",
        "TRUNCATE audit_events",
    ],
)
def test_events_cannot_be_altered_with_sql(conn, statement):
    append(conn)
    conn.commit()

    with (
        conn.cursor() as cursor,
        pytest.raises(psycopg2.errors.InsufficientPrivilege, match="permanent record"),
    ):
        cursor.execute(statement)
    conn.rollback()

    with conn.cursor() as cursor:
        cursor.execute("SELECT actor FROM audit_events")
        assert cursor.fetchall() == [{"actor": "alice"}]


def test_changes_are_numbered_in_increasing_order(conn):
    events = [append(conn, note=str(n)) for n in range(3)]
    assert [e["seq"] for e in events] == [1, 2, 3]
    conn.commit()
    latest, _ = audit.latest_seq(conn)
    assert latest == 3


def test_a_second_writer_takes_its_number_without_waiting_for_the_first_to_commit(database_url):
    first, second, reader = (psycopg2.connect(database_url, cursor_factory=RealDictCursor) for _ in range(3))
    reader.autocommit = True
    try:
        earlier = append(first)  # holds number 1, not yet committed
        later = append(second)  # would have waited for the first to commit, under the old counter row
        second.commit()
        assert (earlier["seq"], later["seq"]) == (1, 2)

        # Number 2 is visible, number 1 is not: the reader's snapshot lists the first writer
        # as in progress, which is how the change feed knows to hold 2 back.
        changes, snapshot = audit.changes_in_snapshot(reader, 0, 10)
        assert [c["seq"] for c in changes] == [2]
        with first.cursor() as cursor:
            cursor.execute("SELECT pg_current_xact_id()::text::bigint AS xid")
            first_xid = cursor.fetchone()["xid"]
        assert not snapshot.finished(first_xid)

        first.commit()
        changes, snapshot = audit.changes_in_snapshot(reader, 0, 10)
        assert [c["seq"] for c in changes] == [1, 2]
        assert snapshot.finished(first_xid)
    finally:
        for connection in (first, second, reader):
            connection.close()


def test_the_id_bound_is_above_every_transaction_begun_even_those_a_snapshot_does_not_list(database_url):
    older, younger, reader = (psycopg2.connect(database_url, cursor_factory=RealDictCursor) for _ in range(3))
    reader.autocommit = True
    try:
        older_xid, younger_xid = (audit.transaction_id_bound(connection) for connection in (older, younger))
        older.commit()
        _, snapshot = audit.latest_seq(reader)
        assert younger_xid >= snapshot.xmax and younger_xid not in snapshot.in_progress  # unlisted
        bound = audit.transaction_id_bound(reader)
        assert bound > younger_xid > older_xid
        assert not audit.latest_seq(reader)[1].finished_below(bound)
        younger.commit()
        # Other programs on a shared server may have transactions of their own in progress.
        wait_until(lambda: audit.latest_seq(reader)[1].finished_below(bound), what="all below the bound end")
    finally:
        for connection in (older, younger, reader):
            connection.close()


def test_a_write_that_rolls_back_leaves_its_number_unused(conn):
    append(conn)
    conn.rollback()
    assert append(conn)["seq"] == 2


def test_the_latest_number_comes_with_the_snapshot_it_was_read_in(conn):
    conn.autocommit = True
    assert audit.latest_seq(conn)[0] == 0
    append(conn)
    with conn.cursor() as cursor:
        cursor.execute("SELECT pg_current_xact_id()::text::bigint AS xid")  # in a moment now past
        earlier_xid = cursor.fetchone()["xid"]
    latest, snapshot = audit.latest_seq(conn)
    assert latest == 1
    assert snapshot.finished(earlier_xid)


def test_changes_after_are_small_and_in_order(conn):
    app_id = new_id()
    append(conn, entity_id=app_id, after={"name": "payments", "big": "x" * 1000})
    append(conn, "configuration.deleted", application_id=app_id, before={"name": "db"}, after=None, version=4)

    changes = audit.changes_after(conn, 0, 10)

    assert [(c["seq"], c["action"], c["name"], c["version"]) for c in changes] == [
        (1, "application.created", "payments", 1),
        (2, "configuration.deleted", "db", 4),
    ]
    assert set(changes[0]) == {
        "seq",
        "action",
        "entity_type",
        "entity_id",
        "application_id",
        "version",
        "occurred_at",
        "actor",
        "name",
    }
    assert audit.changes_after(conn, 1, 10) == changes[1:]
    assert audit.changes_after(conn, 0, 1) == changes[:1]
