import psycopg2
import pytest

from models.audit import AuditContext
from models.configurations import Configuration
from models.errors import ApplicationNotFound, ConfigurationNameTaken
from models.ids import new_id
from models.paging import PageRequest
from repositories import applications, configurations

AS_T = AuditContext("t", request_id="r-1")


@pytest.fixture
def app_id(conn) -> str:
    return applications.insert(conn, id=new_id(), name="payments", comments=None)["id"]


def add(conn, application_id: str, name: str = "db", config: dict | None = None) -> dict:
    return configurations.insert(
        conn,
        AS_T,
        id=new_id(),
        event_id=new_id(),
        application_id=application_id,
        name=name,
        comments=None,
        config=config or {},
    )


def change(conn, row: dict, context: AuditContext = AS_T, **options) -> dict | None:
    return configurations.change(
        conn,
        row["id"],
        context,
        event_id=new_id(),
        change=options.pop("change", "updated"),
        if_match=options.pop("if_match", None),
        **options,
    )


def events_of(conn, entity_id: str) -> list[dict]:
    with conn.cursor() as cursor:
        cursor.execute("SELECT * FROM audit_events WHERE entity_id = %s ORDER BY seq", (entity_id,))
        return cursor.fetchall()


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


def test_insert_records_the_first_revision_and_the_event_with_its_image(conn, app_id):
    row = add(conn, app_id, config={"a": 1})
    [event] = events_of(conn, row["id"])
    assert (event["action"], event["actor"], event["request_id"], event["version"]) == (
        "configuration.created",
        "t",
        "r-1",
        1,
    )
    assert event["before"] is None
    assert event["after"] == Configuration.model_validate(row).model_dump(mode="json")


def test_the_images_the_statement_makes_are_the_models_own(conn, app_id):
    """The audit images are made in SQL; they must read as the API writes a configuration,
    timestamps too, with and without a fraction of a second."""
    row = add(conn, app_id, config={"n": 1.5, "deep": {"list": [1, "x", None, True]}})
    for moment in ("2026-01-02T03:04:05Z", "2026-01-02T03:04:05.120000Z", "2026-01-02T03:04:05.000001Z"):
        with conn.cursor() as cursor:
            cursor.execute("UPDATE configurations SET updated_at = %s WHERE id = %s", (moment, row["id"]))
        before = configurations.get(conn, row["id"])
        changed = change(conn, row, fields={"comments": moment})
        [*_, event] = events_of(conn, row["id"])
        assert event["before"] == Configuration.model_validate(before).model_dump(mode="json")
        assert event["before"]["updated_at"] == moment
        assert event["after"] == Configuration.model_validate(changed).model_dump(mode="json")


def test_change_sets_the_fields_given_and_keeps_the_rest(conn, app_id):
    row = add(conn, app_id, config={"a": 1})
    conn.commit()

    renamed = change(conn, row, fields={"name": "renamed", "comments": "c"})
    assert renamed["written"] is True
    assert (renamed["name"], renamed["comments"], renamed["config"]) == ("renamed", "c", {"a": 1})
    assert renamed["updated_at"] > row["updated_at"]
    cleared = change(conn, row, fields={"comments": None, "config": {"b": 2}})
    assert (cleared["name"], cleared["comments"], cleared["config"], cleared["version"]) == (
        "renamed",
        None,
        {"b": 2},
        3,
    )
    assert [e["version"] for e in events_of(conn, row["id"])] == [1, 2, 3]


def test_a_change_that_changes_nothing_writes_nothing(conn, app_id):
    row = add(conn, app_id, config={"a": 1, "b": [1.0, True]})
    same = {"b": [1, True], "a": 1}  # jsonb equality: key order and 1 vs 1.0 do not matter
    unchanged = change(conn, row, fields={"name": "db", "config": same})
    assert unchanged["written"] is False
    assert Configuration.model_validate(unchanged) == Configuration.model_validate(row)
    assert configurations.get(conn, row["id"]) == row
    assert len(events_of(conn, row["id"])) == 1


def test_a_change_of_json_type_is_a_change(conn, app_id):
    row = add(conn, app_id, config={"flag": 1})
    assert change(conn, row, fields={"config": {"flag": True}})["version"] == 2


def test_if_match_and_based_on_must_name_the_current_version(conn, app_id):
    row = add(conn, app_id, config={"n": 1})
    for refused in ({"if_match": [2, 3]}, {"if_match": []}, {"based_on": 2}):
        outcome = change(conn, row, fields={"config": {"n": 2}}, **refused)
        assert (outcome["written"], outcome["current_version"], outcome["config"]) == (False, 1, {"n": 1})
    assert change(conn, row, fields={"config": {"n": 2}}, if_match=[1], based_on=1)["version"] == 2


def test_a_configuration_out_of_reach_is_not_found(conn, app_id):
    row = add(conn, app_id)
    elsewhere = AuditContext("t", reach=frozenset({new_id()}))
    assert change(conn, row, elsewhere, fields={"config": {"n": 2}}) is None
    assert change(conn, {"id": new_id()}, fields={"config": {}}) is None
    assert change(conn, row, AuditContext("t", reach=frozenset({app_id})), fields={"config": {"n": 2}})


def test_a_rollback_restores_a_version_and_is_recorded_even_if_nothing_differs(conn, app_id):
    row = add(conn, app_id, config={"n": 1})
    change(conn, row, fields={"name": "renamed", "config": {"n": 2}})
    restored = change(conn, row, change="rolled_back", rolled_back_from=1, note="why")
    assert (restored["name"], restored["config"], restored["version"]) == ("db", {"n": 1}, 3)
    again = change(conn, row, change="rolled_back", rolled_back_from=1)
    assert (again["written"], again["version"]) == (True, 4)
    missing = change(conn, row, change="rolled_back", rolled_back_from=9)
    assert (missing["written"], missing["restorable"]) == (False, False)
    assert events_of(conn, row["id"])[2]["note"] == "why"


def test_rename_onto_a_sibling_is_a_domain_error(conn, app_id):
    add(conn, app_id, "db")
    cache = add(conn, app_id, "cache")
    with pytest.raises(ConfigurationNameTaken):
        change(conn, cache, fields={"name": "db"})


def test_all_of_application(conn, app_id):
    ids = [add(conn, app_id, name)["id"] for name in ("b", "a")]
    assert [r["id"] for r in configurations.all_of_application(conn, app_id)] == ids
    assert configurations.all_of_application(conn, new_id()) == []


def test_delete_records_the_event_with_the_image_before(conn, app_id):
    row = add(conn, app_id)

    def delete(**options):
        return configurations.delete(conn, row["id"], AS_T, event_id=new_id(), **options)

    assert delete(if_match=[2])["written"] is False
    assert delete(if_match=[1]) == {"id": row["id"], "application_id": app_id, "version": 1, "written": True}
    assert delete(if_match=None) is None
    assert configurations.get(conn, row["id"]) is None
    deleted = events_of(conn, row["id"])[-1]
    assert (deleted["action"], deleted["after"]) == ("configuration.deleted", None)
    assert deleted["before"] == Configuration.model_validate(row).model_dump(mode="json")
