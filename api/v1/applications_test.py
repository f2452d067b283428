import pytest

from models.ids import ULID_PATTERN

URL = "/api/v1/applications"


def create(client, name="payments", **fields):
    response = client.post(URL, json={"name": name, **fields})
    assert response.status_code == 201, response.text
    return response.json()


def test_create_returns_the_application_and_where_it_lives(client):
    response = client.post(URL, json={"name": "payments", "comments": "the payments team"})

    assert response.status_code == 201
    body = response.json()
    assert ULID_PATTERN.fullmatch(body["id"])
    assert body["name"] == "payments"
    assert body["comments"] == "the payments team"
    assert body["configuration_ids"] == []
    assert body["created_at"] == body["updated_at"]
    assert response.headers["location"] == f"http://testserver{URL}/{body['id']}"


def test_comments_are_optional(client):
    assert create(client)["comments"] is None


def test_get_returns_the_application_with_its_configuration_ids(client):
    application = create(client)
    ids = [
        client.post(
            "/api/v1/configurations",
            json={"application_id": application["id"], "name": name, "config": {}},
        ).json()["id"]
        for name in ("b", "a")
    ]

    body = client.get(f"{URL}/{application['id']}").json()

    assert body["configuration_ids"] == ids
    assert {k: v for k, v in body.items() if k != "configuration_ids"} == {
        k: v for k, v in application.items() if k != "configuration_ids"
    }


def test_lowercase_ids_find_the_same_application(client):
    application = create(client)
    assert client.get(f"{URL}/{application['id'].lower()}").json()["id"] == application["id"]


@pytest.mark.parametrize(
    "unknown", ["01ARZ3NDEKTSV4RRFFQ69G5FAV", "not-a-ulid", "8ZZZZZZZZZZZZZZZZZZZZZZZZZ"]
)
def test_unknown_or_impossible_ids_are_404_problems(client, unknown):
    response = client.get(f"{URL}/{unknown}")

    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["status"] == 404
    assert problem["type"].endswith("application-not-found")
    assert unknown in problem["detail"]


def test_duplicate_name_is_a_409(client):
    create(client, "payments")
    response = client.post(URL, json={"name": "payments"})

    assert response.status_code == 409
    assert response.json()["type"].endswith("application-name-taken")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "name"),
        ({"name": ""}, "name"),
        ({"name": "x" * 257}, "name"),
        ({"name": 5}, "name"),
        ({"name": "ok", "comments": "x" * 1025}, "comments"),
        ({"name": "nul\u0000byte"}, "name"),
        ({"name": "ok", "comments": "nul\u0000"}, "comments"),
    ],
)
def test_invalid_bodies_are_400_naming_the_field(client, body, field):
    response = client.post(URL, json=body)

    assert response.status_code == 400
    assert [(e["in"], e["field"]) for e in response.json()["errors"]] == [("body", field)]


def test_longest_allowed_values_are_stored(client):
    body = create(client, "n" * 256, comments="c" * 1024)
    assert len(body["name"]) == 256 and len(body["comments"]) == 1024


def test_unknown_fields_are_400_naming_each(client):
    response = client.post(
        URL, json={"name": "payments", "colour": "blue", "id": "01ARZ3NDEKTSV4RRFFQ69G5FAV"}
    )
    assert response.status_code == 400
    assert [(e["field"], e["message"]) for e in response.json()["errors"]] == [
        ("colour", "Unknown field"),
        ("id", "Unknown field"),
    ]
    assert client.get(URL).json() == []


def test_names_are_one_name_however_they_are_composed(client):
    composed, decomposed = "caf\u00e9", "cafe\u0301"
    assert create(client, decomposed)["name"] == composed
    response = client.post(URL, json={"name": composed})
    assert response.status_code == 409
    assert response.json()["detail"] == f'An application named "{composed}" already exists'
    assert [a["name"] for a in client.get(URL, params={"name": decomposed}).json()] == [composed]


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        (" payments", "name_whitespace"),
        ("payments\n", "name_whitespace"),
        ("\t", "name_blank"),
        ("pay\u202ements", "name_control_character"),
    ],
)
def test_names_breaking_a_rule_are_400_saying_which(client, name, kind):
    for response in (
        client.post(URL, json={"name": name}),
        client.put(f"{URL}/{create(client, f'app-{kind}')['id']}", json={"name": name}),
    ):
        assert response.status_code == 400
        (error,) = response.json()["errors"]
        assert (error["field"], error["type"]) == ("name", kind)


def test_put_changes_only_the_fields_sent(client):
    application = create(client, "payments", comments="before")

    renamed = client.put(f"{URL}/{application['id']}", json={"name": "billing"}).json()
    assert (renamed["name"], renamed["comments"]) == ("billing", "before")
    assert renamed["updated_at"] > application["updated_at"]
    assert renamed["created_at"] == application["created_at"]

    commented = client.put(f"{URL}/{application['id']}", json={"comments": "after"}).json()
    assert (commented["name"], commented["comments"]) == ("billing", "after")


def test_put_with_null_comments_clears_them(client):
    application = create(client, comments="soon gone")
    assert client.put(f"{URL}/{application['id']}", json={"comments": None}).json()["comments"] is None


def test_put_with_null_name_is_a_400(client):
    application = create(client)
    response = client.put(f"{URL}/{application['id']}", json={"name": None})
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "name"


def test_put_to_a_taken_name_is_a_409_and_changes_nothing(client):
    create(client, "payments")
    billing = create(client, "billing")

    response = client.put(f"{URL}/{billing['id']}", json={"name": "payments", "comments": "x"})

    assert response.status_code == 409
    assert client.get(f"{URL}/{billing['id']}").json() == billing


def test_put_unknown_is_404(client):
    response = client.put(f"{URL}/01ARZ3NDEKTSV4RRFFQ69G5FAV", json={"name": "x"})
    assert response.status_code == 404


def test_delete_removes_the_application_and_its_configurations(client):
    application = create(client)
    configuration = client.post(
        "/api/v1/configurations",
        json={"application_id": application["id"], "name": "db", "config": {"a": 1}},
    ).json()

    response = client.delete(f"{URL}/{application['id']}")

    assert response.status_code == 204
    assert response.content == b""
    assert "content-type" not in response.headers  # there is no content to have a type
    assert client.get(f"{URL}/{application['id']}").status_code == 404
    assert client.get(f"/api/v1/configurations/{configuration['id']}").status_code == 404
    assert client.delete(f"{URL}/{application['id']}").status_code == 404


def test_list_is_an_array_in_creation_order(client):
    names = ["c", "a", "b"]
    for name in names:
        create(client, name)

    response = client.get(URL)

    assert response.status_code == 200
    assert [a["name"] for a in response.json()] == names
    assert "link" not in response.headers


def test_list_finds_by_exact_name(client):
    create(client, "payments")
    create(client, "payments-eu")

    assert [a["name"] for a in client.get(URL, params={"name": "payments"}).json()] == ["payments"]
    assert client.get(URL, params={"name": "nobody"}).json() == []


def test_list_pages_follow_the_link_header_to_the_end(client):
    created = [create(client, f"app-{i}")["id"] for i in range(7)]

    seen, url, pages = [], f"{URL}?limit=3", 0
    while url:
        response = client.get(url)
        seen += [a["id"] for a in response.json()]
        pages += 1
        link = response.headers.get("link")
        url = link[1 : link.index(">")] if link else None
        if link:
            assert link.endswith('>; rel="next"')

    assert seen == created
    assert pages == 3


def test_list_with_offset_and_after(client):
    ids = [create(client, f"app-{i}")["id"] for i in range(5)]

    assert [a["id"] for a in client.get(URL, params={"offset": 3}).json()] == ids[3:]
    assert [a["id"] for a in client.get(URL, params={"after": ids[1]}).json()] == ids[2:]
    page = client.get(URL, params={"after": ids[0], "offset": 1, "limit": 2})
    assert [a["id"] for a in page.json()] == ids[2:4]
    assert f"after={ids[3]}" in page.headers["link"]
    assert "offset" not in page.headers["link"]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"limit": 0}, "limit"),
        ({"limit": 1001}, "limit"),
        ({"limit": "many"}, "limit"),
        ({"offset": -1}, "offset"),
        ({"after": "nope"}, "after"),
    ],
)
def test_bad_paging_parameters_are_400_naming_them(client, params, field):
    response = client.get(URL, params=params)
    assert response.status_code == 400
    assert [(e["in"], e["field"]) for e in response.json()["errors"]] == [("query", field)]


def test_configurations_of_an_application(client):
    application = create(client)
    other = create(client, "other")
    for app, name in [(application, "db"), (other, "db"), (application, "cache")]:
        client.post(
            "/api/v1/configurations",
            json={"application_id": app["id"], "name": name, "config": {"n": name}},
        )

    response = client.get(f"{URL}/{application['id']}/configurations")

    assert response.status_code == 200
    assert [(c["name"], c["config"]) for c in response.json()] == [
        ("db", {"n": "db"}),
        ("cache", {"n": "cache"}),
    ]
    assert client.get(f"{URL}/{application['id']}/configurations", params={"limit": 1}).headers["link"]


@pytest.mark.parametrize("unknown", ["01ARZ3NDEKTSV4RRFFQ69G5FAV", "not-a-ulid"])
def test_configurations_of_an_unknown_application_is_404(client, unknown):
    assert client.get(f"{URL}/{unknown}/configurations").status_code == 404


def test_configurations_of_an_application_without_any_is_empty(client):
    application = create(client)
    assert client.get(f"{URL}/{application['id']}/configurations").json() == []


def test_applications_carry_a_version_and_etag(client):
    created = client.post(URL, json={"name": "payments"})
    url = created.headers["location"]

    assert (created.json()["version"], created.headers["etag"]) == (1, '"1"')
    assert client.get(url).headers["etag"] == '"1"'
    updated = client.put(url, json={"comments": "new"})
    assert (updated.json()["version"], updated.headers["etag"]) == (2, '"2"')


def test_an_application_update_that_changes_nothing_keeps_the_version(client):
    application = create(client, comments="same")
    response = client.put(f"{URL}/{application['id']}", json={"name": "payments", "comments": "same"})
    assert response.json() == application


def test_adding_configurations_does_not_change_the_applications_version(client):
    application = create(client)
    client.post(
        "/api/v1/configurations", json={"application_id": application["id"], "name": "db", "config": {}}
    )
    assert client.get(f"{URL}/{application['id']}").json()["version"] == 1


@pytest.mark.parametrize("method", ["PUT", "DELETE"])
def test_if_match_guards_application_writes(client, method):
    application = create(client)
    url = f"{URL}/{application['id']}"

    stale = client.request(method, url, json={"comments": "x"}, headers={"If-Match": '"2"'})
    current = client.request(method, url, json={"comments": "x"}, headers={"If-Match": '"1"'})

    assert stale.status_code == 412
    assert stale.json()["current_version"] == 1
    assert stale.headers["etag"] == '"1"'
    assert current.status_code in (200, 204)


@pytest.mark.parametrize("params", [{"name": "nul\u0000"}, {"offset": 2**63}])
def test_hostile_list_parameters_are_400_not_500(client, params):
    response = client.get(URL, params=params)
    assert response.status_code == 400
    assert [e["field"] for e in response.json()["errors"]] == list(params)
