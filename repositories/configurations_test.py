import psycopg2
import pytest

from models.errors import ApplicationNotFound, ConfigurationNameTaken
from models.ids import new_id
from models.paging import PageRequest
from repositories import applications, configurations


@pytest.fixture
def app_id(conn) -> str:
    return applications.insert(conn, id=new_id(), name="payments", comments=None)["id"]


def add(conn, application_id: str, name: str = "db", config: dict | None = None) -> dict:
    return configurations.insert(
        conn,
        id=new_id(),
        application_id=application_id,
        name=name,
        comments=None,
        config=config or {},
        actor="t",
    )


def test_insert_stores_the_config_as_json(conn, app_id):
    config = {"a": [1, 2.5, None, True, "x"], "b": {"c": {}}}
    row = add(conn, app_id, config=config)

    assert row["config"] == config
    assert configurations.get(conn, row["id"]) == row
    with conn.cursor() as cursor:
        cursor.execute("SELECT jsonb_typeof(config) AS kind FROM configurations")
        assert cursor.fetchone()["kind"] == "object"


def test_insert_for_an_unknown_application_is_a_domain_error(conn):
    with pytest.raises(ApplicationNotFound):
        add(conn, new_id())


def test_insert_of_a_name_taken_in_the_application_is_a_domain_error(conn, app_id):
    add(conn, app_id, "db")
    with pytest.raises(ConfigurationNameTaken):
        add(conn, app_id, "db")


def test_the_database_itself_refuses_a_config_that_is_not_an_object(conn, app_id):
    with conn.cursor() as cursor, pytest.raises(psycopg2.errors.CheckViolation):
        cursor.execute(
            "INSERT INTO configurations (id, application_id, name, config) VALUES (%s, %s, 'x', '[1]')",
            (new_id(), app_id),
        )


def test_list_page_filters_by_application_and_name(conn, app_id):
    other = applications.insert(conn, id=new_id(), name="other", comments=None)["id"]
    mine = [add(conn, app_id, name)["id"] for name in ("db", "cache")]
    theirs = add(conn, other, "db")["id"]

    def listed(**filters):
        page = PageRequest(limit=filters.pop("limit", 100), after=filters.pop("after", None))
        return [r["id"] for r in configurations.list_page(conn, page, **filters)]

    assert listed() == [*mine, theirs]
    assert listed(application_id=app_id) == mine
    assert listed(name="db") == [mine[0], theirs]
    assert listed(application_id=other, name="cache") == []
    assert listed(after=mine[0], limit=1) == [mine[1], theirs]


def test_update_replaces_the_fields(conn, app_id):
    row = add(conn, app_id, config={"a": 1})
    conn.commit()

    updated = configurations.update(
        conn, row["id"], name="renamed", comments="c", config={"b": 2}, actor="t", change="updated"
    )

    assert (updated["name"], updated["comments"], updated["config"]) == ("renamed", "c", {"b": 2})
    assert updated["updated_at"] > row["updated_at"]
    assert (row["version"], updated["version"]) == (1, 2)


def test_an_update_that_changes_nothing_writes_nothing(conn, app_id):
    row = add(conn, app_id, config={"a": 1, "b": [1.0, True]})
    same = {"b": [1, True], "a": 1}  # jsonb equality: key order and 1 vs 1.0 do not matter
    assert (
        configurations.update(
            conn, row["id"], name="db", comments=None, config=same, actor="t", change="updated"
        )
        is None
    )
    assert configurations.get(conn, row["id"]) == row


def test_a_change_of_json_type_is_a_change(conn, app_id):
    row = add(conn, app_id, config={"flag": 1})
    changed = configurations.update(
        conn, row["id"], name="db", comments=None, config={"flag": True}, actor="t", change="updated"
    )
    assert changed["version"] == 2


def test_rename_onto_a_sibling_is_a_domain_error(conn, app_id):
    add(conn, app_id, "db")
    cache = add(conn, app_id, "cache")
    with pytest.raises(ConfigurationNameTaken):
        configurations.update(
            conn, cache["id"], name="db", comments=None, config={}, actor="t", change="updated"
        )


def test_all_of_application(conn, app_id):
    ids = [add(conn, app_id, name)["id"] for name in ("b", "a")]
    assert [r["id"] for r in configurations.all_of_application(conn, app_id)] == ids
    assert configurations.all_of_application(conn, new_id()) == []


def test_delete(conn, app_id):
    row = add(conn, app_id)
    assert configurations.delete(conn, row["id"]) is True
    assert configurations.delete(conn, row["id"]) is False
    assert configurations.get(conn, row["id"]) is None
