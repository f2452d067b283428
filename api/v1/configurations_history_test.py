"""Every change is a revision: history, single versions, diffs and rollback."""

import copy

import jsonpatch
import pytest

from tests.fixtures import CONFIGURATIONS, create_application, create_configuration


@pytest.fixture
def application(client):
    return create_application(client)


def url(configuration: dict, suffix: str = "") -> str:
    return f"{CONFIGURATIONS}/{configuration['id']}{suffix}"


def put(client, configuration: dict, **body) -> dict:
    response = client.put(url(configuration), json=body)
    assert response.status_code == 200, response.text
    return response.json()


def test_each_change_adds_a_version_and_a_revision(client, application):
    configuration = create_configuration(client, application["id"], config={"n": 1}, comments="first")
    put(client, configuration, config={"n": 2})
    put(client, configuration, name="renamed", comments=None)

    history = client.get(url(configuration, "/versions"), headers={"X-Actor": "alice"}).json()

    assert [r["version"] for r in history] == [3, 2, 1]
    assert [(r["name"], r["comments"], r["config"]) for r in history] == [
        ("renamed", None, {"n": 2}),
        ("database", "first", {"n": 2}),
        ("database", "first", {"n": 1}),
    ]
    assert [r["change"] for r in history] == ["updated", "updated", "created"]
    assert history[0]["created_at"] == client.get(url(configuration)).json()["updated_at"]
    assert all(r["configuration_id"] == configuration["id"] for r in history)


def test_a_revision_records_who_made_it(client, application):
    """The key that made it, by name, as the audit log does (which keeps X-Actor beside it)."""
    configuration = create_configuration(client, application["id"])
    deployer = client.post("/api/v1/api-keys", json={"name": "deployer", "scopes": ["write"]}).json()["key"]
    headers = {"Authorization": f"Bearer {deployer}", "X-Actor": "alice@example.com"}
    client.put(url(configuration), json={"config": {"b": 1}}, headers=headers)

    assert [r["actor"] for r in client.get(url(configuration, "/versions")).json()] == [
        "deployer",
        "bootstrap",
    ]


def test_changes_that_change_nothing_add_no_revision(client, application):
    configuration = create_configuration(client, application["id"], config={"n": 1, "flag": True})

    put(client, configuration, config={"flag": True, "n": 1})  # same object, other key order
    put(client, configuration, name="database", comments=None)
    put(client, configuration)

    assert [r["version"] for r in client.get(url(configuration, "/versions")).json()] == [1]
    assert client.get(url(configuration)).json()["updated_at"] == configuration["updated_at"]


def test_a_change_of_type_is_a_change(client, application):
    configuration = create_configuration(client, application["id"], config={"flag": 1})
    assert put(client, configuration, config={"flag": True})["version"] == 2


def test_history_pages_newest_first_with_a_next_link(client, application):
    configuration = create_configuration(client, application["id"], config={"n": 0})
    for n in range(1, 7):
        put(client, configuration, config={"n": n})

    seen, next_url = [], url(configuration, "/versions?limit=3")
    while next_url:
        response = client.get(next_url)
        seen += [r["version"] for r in response.json()]
        link = response.headers.get("link")
        next_url = link[1 : link.index(">")] if link else None

    assert seen == [7, 6, 5, 4, 3, 2, 1]
    assert [r["version"] for r in client.get(url(configuration, "/versions?offset=5")).json()] == [2, 1]
    assert [r["version"] for r in client.get(url(configuration, "/versions?after=3")).json()] == [2, 1]


def test_one_version(client, application):
    configuration = create_configuration(client, application["id"], config={"n": 1})
    put(client, configuration, config={"n": 2})

    first = client.get(url(configuration, "/versions/1"))

    assert first.status_code == 200
    assert (first.json()["version"], first.json()["config"]) == (1, {"n": 1})


@pytest.mark.parametrize("version", ["3", "0", "-1", "one", "1.0"])
def test_a_version_that_does_not_exist_is_404(client, application, version):
    configuration = create_configuration(client, application["id"])
    response = client.get(url(configuration, f"/versions/{version}"))
    assert response.status_code == 404
    assert response.json()["type"].endswith(":revision-not-found")


@pytest.mark.parametrize("suffix", ["/versions", "/versions/1", "/diff?from=1"])
def test_history_of_an_unknown_configuration_is_404(client, suffix):
    for unknown in ("01ARZ3NDEKTSV4RRFFQ69G5FAV", "nope"):
        response = client.get(f"{CONFIGURATIONS}/{unknown}{suffix}")
        assert response.status_code == 404
        assert response.json()["type"].endswith(":configuration-not-found")


def test_history_of_a_deleted_configuration_is_gone_with_it(client, application):
    configuration = create_configuration(client, application["id"])
    client.delete(url(configuration))
    assert client.get(url(configuration, "/versions")).status_code == 404


CHANGES = [
    ({"a": 1}, {"a": 1, "b": 2}),  # add
    ({"a": 1, "b": 2}, {"a": 1}),  # remove
    ({"a": 1}, {"a": "one"}),  # replace
    ({"a": {"b": {"c": [1, 2, 3]}}}, {"a": {"b": {"c": [1, 3, 4], "d": None}}}),  # nested, arrays
    ({"list": [{"id": 1}, {"id": 2}]}, {"list": [{"id": 2}]}),  # array of objects
    ({"x": [1, 2]}, {"x": {"0": 1}}),  # array to object
    ({"same": True}, {"same": True}),  # nothing
]


@pytest.mark.parametrize(("before", "after"), CHANGES)
def test_diff_is_a_json_patch_from_one_config_to_the_other(client, application, before, after):
    configuration = create_configuration(client, application["id"], config=before)
    put(client, configuration, config=after, name="changed")  # the name keeps a no-op a change

    diff = client.get(url(configuration, "/diff"), params={"from": 1, "to": 2}).json()
    reverse = client.get(url(configuration, "/diff"), params={"from": 2, "to": 1}).json()

    assert (diff["from"], diff["to"]) == (1, 2)
    assert jsonpatch.apply_patch(copy.deepcopy(before), diff["patch"]) == after
    assert jsonpatch.apply_patch(copy.deepcopy(after), reverse["patch"]) == before
    if before == after:
        assert diff["patch"] == []


def test_diff_to_defaults_to_the_current_version(client, application):
    configuration = create_configuration(client, application["id"], config={"n": 1})
    put(client, configuration, config={"n": 2})
    put(client, configuration, config={"n": 3})

    diff = client.get(url(configuration, "/diff"), params={"from": 1}).json()

    assert (diff["from"], diff["to"]) == (1, 3)
    assert diff["patch"] == [{"op": "replace", "path": "/n", "value": 3}]


@pytest.mark.parametrize(
    ("params", "status"),
    [
        ({}, 400),
        ({"from": "one"}, 400),
        ({"from": 0}, 400),
        ({"from": 1, "to": "x"}, 400),
        ({"from": 9}, 404),
        ({"from": 1, "to": 9}, 404),
    ],
)
def test_diff_with_a_malformed_or_unknown_version(client, application, params, status):
    configuration = create_configuration(client, application["id"])
    assert client.get(url(configuration, "/diff"), params=params).status_code == status


def test_rollback_makes_a_new_version_equal_to_the_old_one(client, application):
    configuration = create_configuration(
        client, application["id"], config={"pool": {"max": 10}}, comments="v1"
    )
    put(client, configuration, config={"pool": {"max": 50}}, comments="v2", name="db2")

    response = client.post(
        url(configuration, "/rollback"),
        json={"version": 1, "comment": "max 50 overloaded the db"},
        headers={"X-Actor": "oncall"},
    )

    assert response.status_code == 200
    assert response.headers["etag"] == '"3"'
    rolled = response.json()
    assert (rolled["version"], rolled["name"], rolled["comments"], rolled["config"]) == (
        3,
        "database",
        "v1",
        {"pool": {"max": 10}},
    )
    history = client.get(url(configuration, "/versions")).json()
    assert [r["version"] for r in history] == [3, 2, 1]
    assert (
        history[0]["change"],
        history[0]["rolled_back_from"],
        history[0]["note"],
        history[0]["actor"],
    ) == ("rolled_back", 1, "max 50 overloaded the db", "bootstrap")


def test_a_rollback_to_the_current_content_is_still_recorded_as_a_new_version(client, application):
    configuration = create_configuration(client, application["id"])

    response = client.post(url(configuration, "/rollback"), json={"version": 1, "comment": "re-pin"})

    assert response.json()["version"] == 2
    newest = client.get(url(configuration, "/versions")).json()[0]
    assert (newest["version"], newest["change"], newest["rolled_back_from"]) == (2, "rolled_back", 1)
    assert newest["config"] == configuration["config"]
    events = client.get("/api/v1/audit-events", params={"entity_id": configuration["id"]}).json()
    assert (events[0]["action"], events[0]["note"]) == ("configuration.rolled_back", "re-pin")


def test_rollback_to_a_name_now_taken_by_a_sibling_is_409(client, application):
    configuration = create_configuration(client, application["id"], "database")
    put(client, configuration, name="old-database")
    create_configuration(client, application["id"], "database")

    response = client.post(url(configuration, "/rollback"), json={"version": 1})

    assert response.status_code == 409
    assert client.get(url(configuration)).json()["version"] == 2


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"version": 5}, 404),
        ({"version": 0}, 400),
        ({"version": "one"}, 400),
        ({"version": "1"}, 400),
        ({"version": True}, 400),
        ({"version": 1.5}, 400),
        ({}, 400),
        ({"version": 1, "comment": "x" * 1025}, 400),
    ],
)
def test_rollback_to_an_unknown_or_malformed_version(client, application, body, status):
    configuration = create_configuration(client, application["id"])
    put(client, configuration, config={"changed": True})
    assert client.post(url(configuration, "/rollback"), json=body).status_code == status
    assert client.get(url(configuration)).json()["version"] == 2


def test_rollback_of_an_unknown_configuration_is_404(client):
    response = client.post(f"{CONFIGURATIONS}/01ARZ3NDEKTSV4RRFFQ69G5FAV/rollback", json={"version": 1})
    assert response.status_code == 404


def test_revisions_cannot_be_changed_through_the_api(client, application):
    configuration = create_configuration(client, application["id"])
    for method in ("PUT", "PATCH", "DELETE"):
        assert client.request(method, url(configuration, "/versions/1"), json={}).status_code == 405


@pytest.mark.parametrize(
    ("suffix", "status"),
    [
        ("/versions/99999999999999999999", 404),
        ("/versions/٣", 404),  # a digit, but not an ASCII one
        ("/versions?after=99999999999999999999", 400),
        ("/diff?from=99999999999999999999", 400),
    ],
)
def test_version_numbers_beyond_range_are_not_500(client, application, suffix, status):
    configuration = create_configuration(client, application["id"])
    assert client.get(url(configuration, suffix)).status_code == status


def test_rollback_to_a_version_beyond_range_is_400(client, application):
    configuration = create_configuration(client, application["id"])
    assert client.post(url(configuration, "/rollback"), json={"version": 2**40}).status_code == 400
