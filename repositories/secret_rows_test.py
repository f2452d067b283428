import psycopg2
import psycopg2.errors
import pytest

from models.audit import AuditContext
from models.ids import new_id
from repositories import applications, secret_rows
from services.audit import record
from tests.stored import configuration_with_versions

AS_T = AuditContext("t")
SEALED = {"$secret": "v1:00000000:bm90IHJlYWxseSBzZWFsZWQ="}  # the SQL looks for the key only


@pytest.fixture
def app_id(conn) -> str:
    return applications.insert(conn, id=new_id(), name="payments", comments=None)["id"]


def add(conn, application_id: str, name: str, *configs: dict) -> str:
    """A configuration with a version for each of `configs`."""
    return configuration_with_versions(conn, application_id, name, list(configs))


@pytest.fixture
def rows(conn, app_id) -> dict[str, str]:
    """Configurations, by name: one sealed throughout, one never, one sealed only at first
    (deep in an array), one only now."""
    made = {
        "sealed": add(conn, app_id, "sealed", {"p": SEALED}, {"p": SEALED, "v": 2}),
        "plain": add(conn, app_id, "plain", {"p": "x"}, {"p": "y"}),
        "once": add(conn, app_id, "once", {"a": [{"b": SEALED}]}, {"a": []}),
        "lately": add(conn, app_id, "lately", {"p": "x"}, {"p": SEALED}),
    }
    conn.commit()
    return made


def walk_all(fetch, start, key) -> list[dict]:
    """Every row `fetch` gives, batch by batch, each after the `key` of the last."""
    found, after = [], start
    while batch := fetch(after=after, limit=2):
        found += batch
        after = key(batch[-1])
    return found


def test_counts_the_rows_that_hold_a_sealed_value(conn, rows):
    # configurations: sealed, lately; revisions: sealed v1 v2, once v1, lately v2; events:
    # sealed created and updated, once created and updated (before), lately updated (after).
    assert secret_rows.count_holding_sealed(conn) == {"configurations": 2, "revisions": 4, "events": 5}


def test_configurations_are_walked_in_id_order(conn, rows):
    found = walk_all(
        lambda **page: secret_rows.configs_holding_sealed(conn, **page),
        secret_rows.FIRST_CONFIGURATION,
        lambda row: row["id"],
    )
    assert [row["id"] for row in found] == sorted([rows["sealed"], rows["lately"]])


def test_revisions_are_walked_by_configuration_and_version(conn, rows):
    found = walk_all(
        lambda **page: secret_rows.revisions_holding_sealed(conn, **page),
        secret_rows.FIRST_REVISION,
        lambda row: (row["configuration_id"], row["version"]),
    )
    found = [(row["configuration_id"], row["version"]) for row in found]
    expected = [(rows["sealed"], 1), (rows["sealed"], 2), (rows["once"], 1), (rows["lately"], 2)]
    assert found == sorted(expected)


def test_events_are_walked_by_seq_configuration_events_only(conn, rows, app_id):
    record(  # an image that is not a configuration's is not walked
        conn,
        AS_T,
        "application.updated",
        entity_type="application",
        entity_id=app_id,
        application_id=app_id,
        version=None,
        before=None,
        after={"name": SEALED},
    )
    conn.commit()
    found = walk_all(
        lambda **page: secret_rows.events_holding_sealed(conn, **page),
        secret_rows.FIRST_EVENT,
        lambda row: row["seq"],
    )
    found = [(row["entity_id"], row["after"]["version"]) for row in found]
    expected = [
        (rows["sealed"], 1),
        (rows["sealed"], 2),
        (rows["once"], 1),
        (rows["once"], 2),
        (rows["lately"], 2),
    ]
    assert found == expected


def test_a_batch_locks_its_rows_until_its_transaction_ends(conn, rows, database_url):
    locked = secret_rows.configs_holding_sealed(conn, after=secret_rows.FIRST_CONFIGURATION, limit=1)[0]["id"]
    revisions = secret_rows.revisions_holding_sealed(conn, after=secret_rows.FIRST_REVISION, limit=1)
    events = secret_rows.events_holding_sealed(conn, after=secret_rows.FIRST_EVENT, limit=1)
    other = psycopg2.connect(database_url)
    try:
        for sql, params in [
            ("SELECT 1 FROM configurations WHERE id = %s FOR UPDATE NOWAIT", (locked,)),
            (
                "SELECT 1 FROM configuration_revisions WHERE configuration_id = %s AND version = %s "
                "FOR UPDATE NOWAIT",
                (revisions[0]["configuration_id"], revisions[0]["version"]),
            ),
            ("SELECT 1 FROM audit_events WHERE seq = %s FOR UPDATE NOWAIT", (events[0]["seq"],)),
        ]:
            with pytest.raises(psycopg2.errors.LockNotAvailable), other.cursor() as cursor:
                cursor.execute(sql, params)
            other.rollback()
        conn.rollback()
        with other.cursor() as cursor:
            cursor.execute("SELECT 1 FROM configurations WHERE id = %s FOR UPDATE NOWAIT", (locked,))
    finally:
        other.close()
