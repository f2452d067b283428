import psycopg2
import pytest

from models.errors import SchemaNameTaken
from models.ids import new_id
from models.paging import PageRequest
from repositories import applications, configurations, schemas


@pytest.fixture
def schema(conn):
    row = schemas.insert(
        conn, id=new_id(), name="net", description="d", document={"type": "object"}, actor="a"
    )
    conn.commit()
    return row


def test_a_schema_begins_at_version_1_with_its_document(conn, schema):
    assert schema["latest_version"] == 1
    assert schema["schema"] == {"type": "object"}
    assert schemas.get(conn, "net") == schema
    assert schemas.version(conn, "net", 1)["actor"] == "a"


def test_a_name_is_taken_once(conn, schema):
    with pytest.raises(SchemaNameTaken):
        schemas.insert(conn, id=new_id(), name="net", description=None, document={}, actor="a")


def test_a_new_version_becomes_the_latest_and_the_old_one_stays(conn, schema):
    row = schemas.add_version(conn, id=schema["id"], version=2, document={"type": "array"}, actor="b")

    assert (row["latest_version"], row["schema"]) == (2, {"type": "array"})
    assert schemas.version(conn, "net", 1)["schema"] == {"type": "object"}
    assert [v["version"] for v in schemas.versions_page(conn, "net", PageRequest())] == [2, 1]
    assert [s["name"] for s in schemas.list_page(conn, PageRequest())] == ["net"]


def test_versions_are_immutable(conn, schema):
    with pytest.raises(psycopg2.errors.InsufficientPrivilege), conn.cursor() as cursor:
        cursor.execute("UPDATE schema_versions SET schema = '{}'")


def test_the_database_refuses_to_delete_a_schema_still_bound(conn, schema):
    application = applications.insert(conn, id=new_id(), name="app", comments=None)
    with conn.cursor() as cursor:
        cursor.execute(
            "INSERT INTO configurations (id, application_id, name, config, schema_name)"
            " VALUES (%s, %s, 'c', '{}', 'net')",
            (new_id(), application["id"]),
        )
    assert [row["name"] for row in schemas.bound(conn, "net")] == ["c"]
    assert [row["name"] for row in schemas.following_latest(conn, "net")] == ["c"]
    with pytest.raises(psycopg2.errors.ForeignKeyViolation):
        schemas.delete(conn, schema["id"])
    conn.rollback()


def test_pinned_configurations_do_not_follow_the_latest(conn, schema):
    application = applications.insert(conn, id=new_id(), name="app", comments=None)
    with conn.cursor() as cursor:
        cursor.execute(
            "INSERT INTO configurations (id, application_id, name, config, schema_name, schema_version)"
            " VALUES (%s, %s, 'c', '{}', 'net', 1)",
            (new_id(), application["id"]),
        )
    assert schemas.following_latest(conn, "net") == []
    assert configurations.all_of_application(conn, application["id"])[0]["schema_version"] == 1
