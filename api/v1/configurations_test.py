import json

import pytest

from models.fields import MAX_JSON_DEPTH

URL = "/api/v1/configurations"


@pytest.fixture
def application(client):
    response = client.post("/api/v1/applications", json={"name": "payments"})
    return response.json()


def create(client, application, name="database", config=None, **fields):
    body = {"application_id": application["id"], "name": name, "config": config or {"a": 1}}
    response = client.post(URL, json=body | fields)
    assert response.status_code == 201, response.text
    return response.json()


def post_raw(client, text: str):
    return client.post(URL, content=text.encode(), headers={"content-type": "application/json"})


def test_create_returns_the_configuration_and_where_it_lives(client, application):
    config = {"host": "db", "port": 5432, "replicas": [1, 2.5, None, True], "tls": {"on": False}}

    response = client.post(
        URL,
        json={"application_id": application["id"], "name": "database", "comments": "c", "config": config},
    )

    assert response.status_code == 201
    body = response.json()
    assert body["application_id"] == application["id"]
    assert (body["name"], body["comments"], body["config"]) == ("database", "c", config)
    assert body["created_at"] == body["updated_at"]
    assert response.headers["location"] == f"http://testserver{URL}/{body['id']}"
    assert client.get(f"{URL}/{body['id']}").json() == body


def test_application_id_in_lower_case_is_accepted(client, application):
    body = create(client, application, application_id=application["id"].lower())
    assert body["application_id"] == application["id"]


def test_create_for_an_unknown_application_is_404(client):
    response = client.post(
        URL, json={"application_id": "01ARZ3NDEKTSV4RRFFQ69G5FAV", "name": "x", "config": {}}
    )
    assert response.status_code == 404
    assert response.json()["type"].endswith("application-not-found")


def test_malformed_application_id_in_the_body_is_400(client):
    response = client.post(URL, json={"application_id": "nope", "name": "x", "config": {}})
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "application_id"


def test_same_name_in_one_application_is_409_but_fine_in_another(client, application):
    create(client, application, "database")
    other = client.post("/api/v1/applications", json={"name": "other"}).json()

    duplicate = client.post(URL, json={"application_id": application["id"], "name": "database", "config": {}})

    assert duplicate.status_code == 409
    assert duplicate.json()["type"].endswith("configuration-name-taken")
    assert create(client, other, "database")["application_id"] == other["id"]


@pytest.mark.parametrize(
    ("config", "field"),
    [
        ([1, 2], "config"),
        ("text", "config"),
        (None, "config"),
        ({"a": {"b": ["ok", "bad\u0000"]}}, "config.a.b[1]"),
        ({"bad\u0000key": 1}, 'config["bad\\u0000key"]'),
        ({"a": {"nested key": "\u0000"}}, 'config.a["nested key"]'),
    ],
)
def test_invalid_config_is_400_naming_the_path(client, application, config, field):
    response = client.post(URL, json={"application_id": application["id"], "name": "x", "config": config})

    assert response.status_code == 400
    assert [e["field"] for e in response.json()["errors"]] == [field]


def test_missing_config_is_400(client, application):
    response = client.post(URL, json={"application_id": application["id"], "name": "x"})
    assert [e["field"] for e in response.json()["errors"]] == ["config"]


@pytest.mark.parametrize("number", ["NaN", "Infinity", "-Infinity"])  # 1e999 is a number: kept
def test_non_finite_numbers_are_400_not_500(client, application, number):
    response = post_raw(
        client, f'{{"application_id": "{application["id"]}", "name": "x", "config": {{"n": {number}}}}}'
    )
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "config.n"


def test_lone_surrogates_are_400_not_500(client, application):
    response = post_raw(
        client, f'{{"application_id": "{application["id"]}", "name": "x", "config": {{"s": "\\ud800"}}}}'
    )
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "config.s"


def test_malformed_json_is_400(client):
    response = post_raw(client, '{"name": ')

    assert response.status_code == 400
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["errors"][0]["type"] == "json_invalid"


def nested(depth: int) -> dict:
    value = 1
    for _ in range(depth):
        value = {"d": value}
    return value


def test_config_nested_to_the_limit_round_trips(client, application):
    config = nested(MAX_JSON_DEPTH)
    assert create(client, application, config=config)["config"] == config


@pytest.mark.parametrize("depth", [MAX_JSON_DEPTH + 1, 600, 900])
def test_config_nested_beyond_the_limit_is_400_and_not_stored(client, application, depth):
    response = client.post(
        URL, json={"application_id": application["id"], "name": "deep", "config": nested(depth)}
    )
    assert response.status_code == 400
    assert "nested deeper" in response.json()["errors"][0]["message"]
    assert client.get(URL).json() == []


def test_a_one_megabyte_config_round_trips(client, application):
    config = {f"key-{i:06d}": "v" * 82 for i in range(10_000)}
    body = {"application_id": application["id"], "name": "big", "config": config}
    assert 1_000_000 < len(json.dumps(body)) < 1024 * 1024

    created = client.post(URL, json=body)
    fetched = client.get(f"{URL}/{created.json()['id']}")

    assert created.status_code == 201
    assert fetched.json()["config"] == config


def test_unicode_survives_the_round_trip(client, application):
    config = {"grüße": "日本語 😀", "quote": "\"'\\", "control": "\t\n\u0001"}
    assert create(client, application, "ünïcødé 😀", config=config)["config"] == config


def test_body_over_the_limit_is_413_even_without_content_length(client, application):
    padding = "x" * (1024 * 1024)
    body = json.dumps({"application_id": application["id"], "name": "x", "config": {"p": padding}})

    async def chunks():  # no Content-Length: the body is counted as it streams in
        yield body[:1000].encode()
        yield body[1000:].encode()

    declared = client.post(URL, content=body, headers={"content-type": "application/json"})
    streamed = client.post(URL, content=chunks(), headers={"content-type": "application/json"})

    for response in (declared, streamed):
        assert response.status_code == 413
        assert response.headers["content-type"] == "application/problem+json"
    assert client.get(URL).json() == []


def test_put_changes_only_the_fields_sent(client, application):
    configuration = create(client, application, comments="keep", config={"a": 1})
    url = f"{URL}/{configuration['id']}"

    updated = client.put(url, json={"config": {"b": 2}})

    assert updated.status_code == 200
    body = updated.json()
    assert (body["name"], body["comments"], body["config"]) == ("database", "keep", {"b": 2})
    assert body["updated_at"] > configuration["updated_at"]
    assert client.put(url, json={"name": "db", "comments": None}).json()["comments"] is None
    assert client.get(url).json()["name"] == "db"


@pytest.mark.parametrize("body", [{"config": None}, {"name": None}, {"config": [1]}, {"name": ""}])
def test_put_with_invalid_fields_is_400(client, application, body):
    configuration = create(client, application)
    response = client.put(f"{URL}/{configuration['id']}", json=body)
    assert response.status_code == 400
    assert client.get(f"{URL}/{configuration['id']}").json() == configuration


def test_rename_onto_a_sibling_is_409_and_changes_nothing(client, application):
    create(client, application, "database")
    cache = create(client, application, "cache")

    response = client.put(f"{URL}/{cache['id']}", json={"name": "database", "config": {"z": 1}})

    assert response.status_code == 409
    assert client.get(f"{URL}/{cache['id']}").json() == cache


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE"])
@pytest.mark.parametrize("unknown", ["01ARZ3NDEKTSV4RRFFQ69G5FAV", "no\u00e9", "x" * 300])
def test_unknown_ids_are_404(client, method, unknown):
    response = client.request(method, f"{URL}/{unknown}", json={"name": "x"})
    assert response.status_code == 404
    assert response.json()["type"].endswith("configuration-not-found")


def test_delete_is_204_then_404(client, application):
    configuration = create(client, application)

    deleted = client.delete(f"{URL}/{configuration['id']}")
    assert (deleted.status_code, deleted.content) == (204, b"")
    assert "content-type" not in deleted.headers
    assert client.get(f"{URL}/{configuration['id']}").status_code == 404
    assert client.get(f"/api/v1/applications/{application['id']}").json()["configuration_ids"] == []


def test_list_filters_by_application_and_name(client, application):
    other = client.post("/api/v1/applications", json={"name": "other"}).json()
    mine = create(client, application, "database")
    create(client, application, "cache")
    theirs = create(client, other, "database")

    def names(**params):
        return [(c["application_id"], c["name"]) for c in client.get(URL, params=params).json()]

    assert len(names()) == 3
    assert names(name="database") == [(application["id"], "database"), (other["id"], "database")]
    assert names(application_id=application["id"], name="database") == [(mine["application_id"], "database")]
    assert names(application_id=other["id"]) == [(theirs["application_id"], "database")]
    assert names(name="nothing") == []


def test_list_for_an_unknown_application_is_404_and_a_malformed_one_400(client):
    assert client.get(URL, params={"application_id": "01ARZ3NDEKTSV4RRFFQ69G5FAV"}).status_code == 404
    malformed = client.get(URL, params={"application_id": "nope"})
    assert malformed.status_code == 400
    assert malformed.json()["errors"][0]["field"] == "application_id"


def test_list_pages_by_keyset(client, application):
    ids = [create(client, application, f"c{i}")["id"] for i in range(5)]

    first = client.get(URL, params={"limit": 2, "application_id": application["id"]})
    link = first.headers["link"]
    second = client.get(link[1 : link.index(">")])

    assert [c["id"] for c in first.json()] == ids[:2]
    assert f"application_id={application['id']}" in link
    assert [c["id"] for c in second.json()] == ids[2:4]


@pytest.mark.parametrize(
    "raw",
    [
        b'{"name": "\xff"}',  # not UTF-8
        b"[" * 3000 + b"]" * 3000,  # deeper than the parser goes
    ],
)
def test_bodies_the_parser_cannot_read_are_400_in_the_usual_shape(client, raw):
    response = client.post(URL, content=raw, headers={"content-type": "application/json"})

    assert response.status_code == 400
    assert response.headers["content-type"] == "application/problem+json"
    (error,) = response.json()["errors"]
    assert (error["in"], error["type"]) == ("body", "json_invalid")


@pytest.mark.parametrize(
    "params",
    [
        {"name": "a\u0000b"},
        {"name": "x" * 257},
        {"offset": 2**31},
        {"offset": 99999999999999999999},
        {"application_id": "01ARZ3NDEKTſV4RRFFQ69G5FAV"},
    ],
)
def test_hostile_query_parameters_are_400_not_500(client, params):
    response = client.get(URL, params=params)
    assert response.status_code == 400
    assert [e["field"] for e in response.json()["errors"]] == list(params)


def test_a_non_ascii_look_alike_id_is_404(client, application):
    configuration = create(client, application)
    look_alike = configuration["id"].replace("S", "ſ").replace("1", "١")
    assert look_alike != configuration["id"]
    assert client.get(f"{URL}/{look_alike}").status_code == 404
    assert client.delete(f"{URL}/{look_alike}").status_code == 404
    assert client.get(f"{URL}/{configuration['id']}").status_code == 200
