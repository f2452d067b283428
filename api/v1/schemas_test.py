import socket
import threading

import pytest

from tests.fixtures import CONFIGURATIONS, create_application, create_configuration

URL = "/api/v1/schemas"

POOL = {
    "type": "object",
    "properties": {
        "host": {"type": "string", "format": "hostname"},
        "pool": {
            "type": "object",
            "properties": {
                "min": {"type": "integer", "minimum": 0},
                "max": {"type": "integer", "maximum": 200},
            },
        },
        "replicas": {"type": "array", "items": {"$ref": "#/$defs/replica"}},
    },
    "required": ["host"],
    "$defs": {"replica": {"type": "object", "properties": {"port": {"type": "integer", "maximum": 65535}}}},
}
GOOD = {"host": "db.internal", "pool": {"min": 1, "max": 20}, "replicas": [{"port": 5432}]}


def create_schema(client, name="database", schema=None, **fields):
    response = client.post(URL, json={"name": name, "schema": POOL if schema is None else schema, **fields})
    assert response.status_code == 201, response.text
    return response.json()


def add_version(client, name, schema, headers=None, **params):
    return client.post(f"{URL}/{name}/versions", json={"schema": schema}, params=params, headers=headers)


@pytest.fixture
def application(client):
    return create_application(client)


def test_a_schema_is_made_at_version_1_and_read_back(client):
    created = create_schema(client, description="the database settings")

    assert created["name"] == "database"
    assert created["version"] == 1
    assert created["schema"] == POOL
    assert created["description"] == "the database settings"
    assert client.get(f"{URL}/database").json() == created
    assert [s["name"] for s in client.get(URL).json()] == ["database"]


def test_versions_are_numbered_and_each_stays_as_it_was(client):
    create_schema(client)
    stricter = POOL | {"required": ["host", "pool"]}

    response = add_version(client, "database", stricter)

    assert response.status_code == 201, response.text
    assert response.json()["version"] == 2
    assert client.get(f"{URL}/database").json()["schema"] == stricter
    assert client.get(f"{URL}/database/versions/1").json()["schema"] == POOL
    assert [v["version"] for v in client.get(f"{URL}/database/versions").json()] == [2, 1]
    assert client.get(f"{URL}/database/versions/3").status_code == 404
    assert client.get(f"{URL}/nothing/versions/1").status_code == 404


def test_a_duplicate_name_is_a_conflict(client):
    create_schema(client)
    response = client.post(URL, json={"name": "database", "schema": {}})
    assert response.status_code == 409
    assert response.json()["type"].endswith("schema-name-taken")


def test_unknown_members_and_bad_names_are_refused(client):
    assert client.post(URL, json={"name": "x", "schema": {}, "shema": {}}).status_code == 400
    assert client.post(URL, json={"name": " ", "schema": {}}).status_code == 400
    slash = client.post(URL, json={"name": "a/b", "schema": {}})
    assert slash.status_code == 400 and slash.json()["errors"][0]["field"] == "name"
    assert client.post(URL, json={"name": "x"}).json()["errors"][0]["field"] == "schema"


def test_a_schema_that_is_not_json_schema_2020_12_is_refused_with_every_reason(client):
    response = client.post(URL, json={"name": "bad", "schema": {"type": 5, "minimum": "x"}})

    assert response.status_code == 400
    body = response.json()
    assert body["type"].endswith("invalid-schema")
    assert {error["path"] for error in body["errors"]} == {"/type", "/minimum"}
    assert client.get(f"{URL}/bad").status_code == 404


def test_another_dialect_is_refused(client):
    response = client.post(
        URL, json={"name": "old", "schema": {"$schema": "http://json-schema.org/draft-04/schema#"}}
    )
    assert response.status_code == 400
    assert "2020-12" in response.json()["errors"][0]["message"]


def test_a_pattern_that_is_no_regular_expression_is_refused(client):
    response = client.post(URL, json={"name": "bad", "schema": {"properties": {"a": {"pattern": "(["}}}})
    assert response.status_code == 400


def test_a_remote_ref_is_refused_and_never_fetched(client):
    # A server that would see the fetch: it records every connection it accepts.
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.2)
    port = listener.getsockname()[1]
    accepted = []
    stop = threading.Event()

    def serve():
        while not stop.is_set():
            try:
                connection, _ = listener.accept()
            except TimeoutError:
                continue
            accepted.append(connection)

    server = threading.Thread(target=serve)
    server.start()
    try:
        for ref in (f"http://127.0.0.1:{port}/schema.json", f"http://127.0.0.1:{port}/s.json#/$defs/a"):
            response = client.post(URL, json={"name": "remote", "schema": {"$ref": ref}})
            assert response.status_code == 400, response.text
            assert "outside this schema" in response.json()["errors"][0]["message"]
        relative = {"$id": f"http://127.0.0.1:{port}/root", "properties": {"a": {"$ref": "other.json"}}}
        assert client.post(URL, json={"name": "remote", "schema": relative}).status_code == 400
    finally:
        stop.set()
        server.join()
        listener.close()
    assert accepted == []


def test_a_ref_inside_the_document_works_and_a_dangling_one_is_refused(client):
    create_schema(client)  # POOL refers to #/$defs/replica
    dangling = {"properties": {"a": {"$ref": "#/$defs/missing"}}}
    assert client.post(URL, json={"name": "dangling", "schema": dangling}).status_code == 400


def test_binding_validates_and_reports_every_error_by_json_pointer(client, application):
    create_schema(client)
    bad = {"host": 5, "pool": {"max": 500}, "replicas": [{"port": 1}, {"port": 70000}]}

    response = client.post(
        CONFIGURATIONS,
        json={
            "application_id": application["id"],
            "name": "db",
            "config": bad,
            "schema": {"name": "database"},
        },
    )

    assert response.status_code == 400
    body = response.json()
    assert body["type"].endswith("schema-validation")
    assert body["schema"] == {"name": "database", "version": 1}
    found = {(e["path"], e["keyword"]) for e in body["errors"]}
    assert found == {("/host", "type"), ("/pool/max", "maximum"), ("/replicas/1/port", "maximum")}
    port = next(e for e in body["errors"] if e["path"] == "/replicas/1/port")
    assert port["schema_path"] == "/$defs/replica/properties/port/maximum"
    assert client.get(CONFIGURATIONS, params={"application_id": application["id"]}).json() == []


def test_every_write_of_a_bound_configuration_is_validated(client, application):
    create_schema(client)
    configuration = create_configuration(
        client, application["id"], "db", config=GOOD, schema={"name": "database"}
    )
    assert configuration["schema"] == {"name": "database", "version": None}
    url = f"{CONFIGURATIONS}/{configuration['id']}"

    put = client.put(url, json={"config": {"pool": {"max": 1}}})
    patch = client.patch(
        url,
        content=b'{"config": {"pool": {"max": 999}}}',
        headers={"Content-Type": "application/merge-patch+json"},
    )
    assert (put.status_code, patch.status_code) == (400, 400)
    assert put.json()["errors"][0]["keyword"] == "required"
    assert patch.json()["errors"][0]["path"] == "/pool/max"

    # A version written unbound is restored, but the binding stays, and refuses it.
    assert client.put(url, json={"schema": None}).json()["version"] == 2
    assert client.put(url, json={"config": {"anything": True}}).status_code == 200
    assert client.put(url, json={"schema": {"name": "database"}}).status_code == 400  # binding validates
    assert client.put(url, json={"config": GOOD, "schema": {"name": "database"}}).json()["version"] == 4
    rollback = client.post(f"{url}/rollback", json={"version": 3})
    assert rollback.status_code == 400, rollback.text
    assert client.post(f"{url}/rollback", json={"version": 1}).json()["version"] == 5

    good_patch = client.patch(
        url,
        content=b'{"config": {"pool": {"max": 5}}}',
        headers={"Content-Type": "application/merge-patch+json"},
    )
    assert good_patch.status_code == 200, good_patch.text
    assert good_patch.json()["config"]["pool"]["max"] == 5
    versions = client.get(f"{url}/versions").json()
    assert [v["version"] for v in versions] == [6, 5, 4, 3, 2, 1]
    assert versions[0]["schema"] == {"name": "database", "version": None}
    assert versions[2]["schema"] == {"name": "database", "version": None}
    assert versions[3]["schema"] is None and versions[4]["schema"] is None


def test_a_binding_to_an_unknown_schema_or_version_is_404(client, application):
    create_schema(client)
    body = {"application_id": application["id"], "name": "db", "config": GOOD}
    assert client.post(CONFIGURATIONS, json=body | {"schema": {"name": "nope"}}).status_code == 404
    assert (
        client.post(CONFIGURATIONS, json=body | {"schema": {"name": "database", "version": 2}}).status_code
        == 404
    )
    assert (
        client.post(CONFIGURATIONS, json=body | {"schema": {"name": "database", "extra": 1}}).status_code
        == 400
    )


def test_pinned_configurations_keep_their_version_and_following_ones_take_the_latest(client, application):
    create_schema(client)
    pinned = create_configuration(
        client, application["id"], "pinned", config=GOOD, schema={"name": "database", "version": 1}
    )
    following = create_configuration(
        client, application["id"], "following", config=GOOD, schema={"name": "database"}
    )
    assert (
        add_version(
            client, "database", POOL | {"properties": POOL["properties"] | {"tls": {"type": "boolean"}}}
        ).status_code
        == 201
    )

    with_tls = GOOD | {"tls": "yes"}
    assert client.put(f"{CONFIGURATIONS}/{pinned['id']}", json={"config": with_tls}).status_code == 200
    refused = client.put(f"{CONFIGURATIONS}/{following['id']}", json={"config": with_tls})
    assert refused.status_code == 400
    assert refused.json()["schema"] == {"name": "database", "version": 2}


def test_a_breaking_version_is_refused_naming_the_configurations_that_follow_the_latest(client, application):
    create_schema(client)
    following = create_configuration(
        client, application["id"], "following", config=GOOD, schema={"name": "database"}
    )
    create_configuration(
        client, application["id"], "pinned", config=GOOD, schema={"name": "database", "version": 1}
    )
    breaking = POOL | {"required": ["host", "tls"]}

    dry = add_version(client, "database", breaking, dry_run="true")
    refused = add_version(client, "database", breaking)

    assert dry.status_code == 200
    assert dry.json()["compatible"] is False
    assert [b["id"] for b in dry.json()["breaking"]] == [following["id"]]
    assert refused.status_code == 409
    assert refused.json()["breaking"] == dry.json()["breaking"]
    assert refused.json()["breaking"][0]["errors"][0]["keyword"] == "required"
    assert client.get(f"{URL}/database").json()["version"] == 1
    fine = add_version(client, "database", POOL, dry_run="true")
    assert fine.json() == {"compatible": True, "breaking": [], "breaking_count": 0}
    assert client.get(f"{URL}/database").json()["version"] == 1


def test_dry_run_against_a_schema(client):
    create_schema(client)
    create_schema(client, "open", {"type": "object"})
    assert add_version(client, "database", POOL | {"required": []}).status_code == 201

    valid = client.post(f"{URL}/database/validate", json={"config": {}})
    invalid = client.post(f"{URL}/database/validate", json={"config": {}, "version": 1})

    assert valid.json() == {"valid": True, "errors": []}
    assert invalid.json()["valid"] is False
    assert invalid.json()["errors"][0]["keyword"] == "required"
    assert client.post(f"{URL}/database/validate", json={"config": {}, "version": 3}).status_code == 404
    assert client.post(f"{URL}/nope/validate", json={"config": {}}).status_code == 404


def test_dry_run_of_a_change_to_a_configuration_writes_nothing(client, application):
    create_schema(client)
    configuration = create_configuration(
        client, application["id"], "db", config=GOOD, schema={"name": "database"}
    )
    url = f"{CONFIGURATIONS}/{configuration['id']}/validate"

    put = client.post(url, json={"config": {"host": 1}})
    patch = client.post(
        url,
        content=b'{"config": {"pool": {"min": -1}}}',
        headers={"Content-Type": "application/merge-patch+json"},
    )
    unbinding = client.post(url, json={"config": {"host": 1}, "schema": None})

    assert put.json()["valid"] is False and put.json()["errors"][0]["path"] == "/host"
    assert patch.json()["errors"][0]["path"] == "/pool/min"
    assert unbinding.json() == {"valid": True, "errors": []}
    assert client.post(url, json={"confg": {}}).status_code == 400
    assert client.get(f"{CONFIGURATIONS}/{configuration['id']}").json()["version"] == 1


def test_a_schema_in_use_cannot_be_deleted(client, application):
    create_schema(client)
    configuration = create_configuration(
        client, application["id"], "db", config=GOOD, schema={"name": "database"}
    )

    refused = client.delete(f"{URL}/database")

    assert refused.status_code == 409
    assert refused.json()["configurations"] == [
        {"id": configuration["id"], "application_id": application["id"], "name": "db"}
    ]
    assert client.put(f"{CONFIGURATIONS}/{configuration['id']}", json={"schema": None}).status_code == 200
    assert client.delete(f"{URL}/database").status_code == 204
    assert client.get(f"{URL}/database").status_code == 404
    assert client.get(f"{URL}/database/versions/1").status_code == 404


def test_schema_changes_are_audited(client):
    created = create_schema(client)
    assert add_version(client, "database", {"type": "object"}).status_code == 201
    assert client.delete(f"{URL}/database").status_code == 204

    events = client.get("/api/v1/audit-events", params={"entity_type": "schema"}).json()

    assert [e["action"] for e in events] == ["schema.deleted", "schema.versioned", "schema.created"]
    assert events[2]["after"]["schema"] == POOL
    assert events[1]["before"]["version"] == 1 and events[1]["after"]["version"] == 2
    assert events[0]["before"]["schema"] == {"type": "object"} and events[0]["after"] is None
    assert {e["entity_id"] for e in events} == {created["id"]}


def test_any_key_reads_schemas_but_only_keys_that_reach_every_application_change_them(client, application):
    create_schema(client)

    def key(name, scopes, **fields):
        made = client.post("/api/v1/api-keys", json={"name": name, "scopes": scopes, **fields})
        assert made.status_code == 201, made.text
        return {"Authorization": f"Bearer {made.json()['key']}"}

    reader = key("reader", ["read"])
    restricted = key("restricted", ["write"], application_ids=[application["id"]])
    writer = key("writer", ["write"])
    body = {"name": "other", "schema": {}}

    for headers in (reader, restricted, writer):
        assert client.get(f"{URL}/database", headers=headers).status_code == 200
        assert client.post(f"{URL}/database/validate", json={"config": GOOD}, headers=headers).json()["valid"]
    assert client.post(URL, json=body, headers=reader).status_code == 403
    refused = client.post(URL, json=body, headers=restricted)
    assert refused.status_code == 403 and "schemas" in refused.json()["detail"]
    assert add_version(client, "database", {}, headers=restricted).status_code == 403
    assert client.delete(f"{URL}/database", headers=restricted).status_code == 403
    assert client.post(URL, json=body, headers=writer).status_code == 201
    # A restricted key may still bind its own configurations.
    bound = client.post(
        CONFIGURATIONS,
        json={
            "application_id": application["id"],
            "name": "db",
            "config": GOOD,
            "schema": {"name": "database"},
        },
        headers=restricted,
    )
    assert bound.status_code == 201, bound.text


def test_any_name_is_found_where_location_says(client):
    response = client.post(URL, json={"name": "Ę Ô?#%", "schema": {}})

    assert response.status_code == 201, response.text
    location = response.headers["location"]
    assert location.isascii()
    assert client.get(location).json()["name"] == "Ę Ô?#%"


def test_a_dry_run_of_a_change_needs_a_json_body(client, application):
    configuration = create_configuration(client, application["id"], "db", config=GOOD)
    url = f"{CONFIGURATIONS}/{configuration['id']}/validate"

    assert client.post(url).status_code == 415
    empty = client.post(url, content=b"", headers={"Content-Type": "application/json"})
    assert empty.status_code == 400 and empty.json()["errors"][0]["type"] == "json_invalid"
    assert client.post(url, json=[1]).status_code == 400
    assert client.post(url, json={}).json() == {"valid": True, "errors": []}


@pytest.mark.parametrize("path", ["%00", "%00/versions", "%00/versions/1"])
def test_a_name_that_could_not_be_stored_names_nothing(client, path):
    assert client.get(f"{URL}/{path}").status_code == 404
    assert client.delete(f"{URL}/%00").status_code == 404
    assert client.post(f"{URL}/%00/validate", json={"config": {}}).status_code == 404


@pytest.mark.parametrize("name", [".", ".."])
def test_dot_names_are_refused(client, name):
    assert client.post(URL, json={"name": name, "schema": {}}).status_code == 400


@pytest.mark.parametrize("version", [True, "2", 1.5])
def test_a_version_is_a_json_integer(client, version):
    create_schema(client)
    response = client.post(f"{URL}/database/validate", json={"config": {}, "version": version})
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "version"


def test_numbers_beyond_a_float_are_checked_exactly(client, application):
    huge = b'{"name": "huge", "schema": {"properties": {"n": {"maximum": 1e400}}}}'
    assert client.post(URL, content=huge, headers={"Content-Type": "application/json"}).status_code == 201
    body = '{"application_id": "%s", "name": "c", "config": {"n": 1e401}, "schema": {"name": "huge"}}'

    refused = client.post(
        CONFIGURATIONS, content=body % application["id"], headers={"Content-Type": "application/json"}
    )
    dry = client.post(
        f"{URL}/huge/validate",
        content=b'{"config": {"n": 1e399}}',
        headers={"Content-Type": "application/json"},
    )

    assert refused.status_code == 400 and refused.json()["errors"][0]["path"] == "/n"
    assert dry.json() == {"valid": True, "errors": []}


def test_conflicts_name_at_most_100_configurations_and_count_them_all(client, application, monkeypatch):
    monkeypatch.setattr("services.schemas.MAX_LISTED", 2)
    create_schema(client)
    for n in range(3):
        create_configuration(client, application["id"], f"c{n}", config=GOOD, schema={"name": "database"})

    breaking = add_version(client, "database", POOL | {"required": ["tls"]})
    dry = add_version(client, "database", POOL | {"required": ["tls"]}, dry_run="true")
    in_use = client.delete(f"{URL}/database")

    assert (len(breaking.json()["breaking"]), breaking.json()["breaking_count"]) == (2, 3)
    assert (len(dry.json()["breaking"]), dry.json()["breaking_count"]) == (2, 3)
    assert (len(in_use.json()["configurations"]), in_use.json()["configurations_count"]) == (2, 3)
