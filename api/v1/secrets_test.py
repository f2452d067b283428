"""Secrets end to end: sealed in every table, masked on every read, revealed only with the
secrets scope, and audited when they are."""

import psycopg2
import pytest

from tests.fixtures import CONFIGURATIONS, create_application, create_configuration
from tests.stored import tables_holding

SCHEMAS = "/api/v1/schemas"
KEYS = "/api/v1/api-keys"
PASSWORD = "hunter2-the-database-password"
TOKEN = "tok-3f9a-the-api-token"
SCHEMA = {
    "type": "object",
    "properties": {
        "host": {"type": "string"},
        "password": {"type": "string", "writeOnly": True},
        "upstreams": {"type": "array", "items": {"$ref": "#/$defs/upstream"}},
    },
    "$defs": {"upstream": {"type": "object", "properties": {"token": {"x-secret": True}}}},
}
CONFIG = {"host": "db", "password": PASSWORD, "upstreams": [{"url": "u", "token": TOKEN}]}
MASKED = {"host": "db", "password": "********", "upstreams": [{"url": "u", "token": "********"}]}
MERGE = {"Content-Type": "application/merge-patch+json"}


@pytest.fixture
def bound(client):
    assert client.post(SCHEMAS, json={"name": "db", "schema": SCHEMA}).status_code == 201
    application = create_application(client)
    return create_configuration(client, application["id"], "db", config=CONFIG, schema={"name": "db"})


def key(client, name, scopes, **fields):
    made = client.post(KEYS, json={"name": name, "scopes": scopes, **fields})
    assert made.status_code == 201, made.text
    return {"Authorization": f"Bearer {made.json()['key']}"}


def test_secrets_are_sealed_in_every_table(client, bound, database_url):
    url = f"{CONFIGURATIONS}/{bound['id']}"
    client.put(url, json={"config": CONFIG | {"host": "db2"}})
    client.post(f"{url}/rollback", json={"version": 1})

    assert tables_holding(database_url, PASSWORD) == []
    assert tables_holding(database_url, TOKEN) == []
    assert tables_holding(database_url, "$secret") == [
        "configurations",
        "configuration_revisions",
        "audit_events",
    ]


def test_every_read_shows_secrets_masked(client, bound):
    url = f"{CONFIGURATIONS}/{bound['id']}"
    assert bound["config"] == MASKED
    assert client.put(url, json={"config": CONFIG | {"password": "another-one"}}).json()["config"] == MASKED

    assert client.get(url).json()["config"] == MASKED
    assert client.get(url).json()["config"] == MASKED  # from the cache too
    assert client.get(url, params={"wait": 0, "version": 0}).json()["config"] == MASKED  # a long poll
    assert [c["config"] for c in client.get(CONFIGURATIONS).json()] == [MASKED]
    assert [v["config"] for v in client.get(f"{url}/versions").json()] == [MASKED, MASKED]
    assert client.get(f"{url}/versions/1").json()["config"] == MASKED
    events = client.get("/api/v1/audit-events", params={"entity_id": bound["id"]}).json()
    assert [e["after"]["config"] for e in events] == [MASKED, MASKED]
    assert events[0]["before"]["config"] == MASKED
    diff = client.get(f"{url}/diff", params={"from": 1}).json()["patch"]
    assert diff == [{"op": "replace", "path": "/password", "value": "********"}]


def test_an_unchanged_secret_makes_no_diff_and_no_version(client, bound):
    url = f"{CONFIGURATIONS}/{bound['id']}"
    same = client.put(url, json={"config": CONFIG})
    assert same.json()["version"] == 1
    changed = client.put(url, json={"config": CONFIG | {"host": "db2"}}).json()
    assert client.get(f"{url}/diff", params={"from": 1}).json()["patch"] == [
        {"op": "replace", "path": "/host", "value": "db2"}
    ]
    assert changed["version"] == 2


def test_a_masked_read_written_back_keeps_the_secrets(client, bound):
    url = f"{CONFIGURATIONS}/{bound['id']}"
    read = client.get(url).json()["config"]

    put = client.put(url, json={"config": read | {"host": "db2"}})
    patch = client.patch(url, content=b'{"config": {"password": "********", "host": "db3"}}', headers=MERGE)

    assert put.status_code == 200 and patch.status_code == 200, (put.text, patch.text)
    revealed = client.get(url, params={"reveal": "true"}).json()["config"]
    assert revealed == CONFIG | {"host": "db3"}


def test_a_reveal_needs_the_secrets_scope_and_is_audited(client, bound):
    url = f"{CONFIGURATIONS}/{bound['id']}"
    reader = key(client, "reader", ["read"])
    writer = key(client, "writer", ["write"])
    revealer = key(client, "revealer", ["read", "secrets"])

    for headers in (reader, writer):
        refused = client.get(url, params={"reveal": "true"}, headers=headers)
        assert refused.status_code == 403 and "secrets" in refused.json()["detail"]
        assert client.get(f"{url}/versions/1", params={"reveal": "true"}, headers=headers).status_code == 403
    revealed = client.get(url, params={"reveal": "true"}, headers=revealer)
    version = client.get(f"{url}/versions/1", params={"reveal": "true"}, headers=revealer)
    by_admin = client.get(url, params={"reveal": "true"})

    assert revealed.status_code == 200 and revealed.json()["config"] == CONFIG
    assert revealed.headers["cache-control"] == "no-store"
    assert version.json()["config"] == CONFIG
    assert by_admin.json()["config"] == CONFIG
    assert client.get(url).json()["config"] == MASKED  # the cache never holds a revealed form
    events = client.get("/api/v1/audit-events", params={"action": "configuration.revealed"}).json()
    assert [e["actor"] for e in events] == ["bootstrap", "revealer", "revealer"]
    assert events[1]["note"] == "revealed /password, /upstreams/0/token"
    assert PASSWORD not in str(events) and TOKEN not in str(events)


def test_a_restricted_key_reveals_only_within_its_reach(client, bound):
    other = create_application(client, "other")
    restricted = key(client, "restricted", ["read", "secrets"], application_ids=[other["id"]])
    url = f"{CONFIGURATIONS}/{bound['id']}"
    assert client.get(url, params={"reveal": "true"}, headers=restricted).status_code == 404


def test_a_long_poll_may_reveal_what_it_waited_for(client, bound):
    url = f"{CONFIGURATIONS}/{bound['id']}"
    reader = key(client, "reader", ["read"])
    newer = client.get(url, params={"reveal": "true", "wait": 0, "version": 0})
    unchanged = client.get(url, params={"reveal": "true", "wait": 0, "version": 1})

    assert newer.status_code == 200 and newer.json()["config"] == CONFIG
    assert unchanged.status_code == 304
    assert (
        client.get(url, params={"reveal": "true", "wait": 0, "version": 0}, headers=reader).status_code == 403
    )
    assert client.get(url, params={"reveal": "maybe"}).status_code == 400


def test_a_sealed_value_copied_elsewhere_does_not_open(client, bound, database_url):
    with psycopg2.connect(database_url) as conn, conn.cursor() as cursor:
        cursor.execute("SELECT config -> 'password' FROM configurations WHERE id = %s", (bound["id"],))
        sealed = cursor.fetchone()[0]
    other = create_configuration(
        client, bound["application_id"], "other", config=CONFIG, schema={"name": "db"}
    )

    to_another_configuration = client.put(
        f"{CONFIGURATIONS}/{other['id']}", json={"config": CONFIG | {"password": sealed}}
    )
    to_another_place = client.put(
        f"{CONFIGURATIONS}/{bound['id']}", json={"config": CONFIG | {"upstreams": [{"token": sealed}]}}
    )

    for refused in (to_another_configuration, to_another_place):
        assert refused.status_code == 400, refused.text
        assert refused.json()["type"].endswith("secret-unreadable")


def test_binding_seals_what_is_stored_and_its_history(client, database_url):
    application = create_application(client)
    plain = create_configuration(client, application["id"], "db", config=CONFIG)
    url = f"{CONFIGURATIONS}/{plain['id']}"
    client.put(url, json={"config": CONFIG | {"host": "db2"}})
    assert client.post(SCHEMAS, json={"name": "db", "schema": SCHEMA}).status_code == 201
    assert tables_holding(database_url, PASSWORD)  # unbound, it was kept in plain

    bound = client.put(url, json={"schema": {"name": "db"}})

    assert bound.status_code == 200, bound.text
    assert bound.json()["config"] == MASKED | {"host": "db2"}
    assert tables_holding(database_url, PASSWORD) == []
    assert tables_holding(database_url, TOKEN) == []
    assert client.get(f"{url}/versions/1", params={"reveal": "true"}).json()["config"] == CONFIG
    # Unbinding decrypts nothing; the secret stays one.
    unbound = client.put(url, json={"schema": None, "config": MASKED | {"host": "db4"}})
    assert unbound.status_code == 200, unbound.text
    assert tables_holding(database_url, PASSWORD) == []
    assert client.get(url, params={"reveal": "true"}).json()["config"] == CONFIG | {"host": "db4"}


def test_a_new_version_that_marks_a_secret_seals_the_configurations_following_it(client, database_url):
    open_schema = {"type": "object", "properties": {"password": {"type": "string"}}}
    assert client.post(SCHEMAS, json={"name": "db", "schema": open_schema}).status_code == 201
    application = create_application(client)
    configuration = create_configuration(
        client, application["id"], "db", config=CONFIG, schema={"name": "db"}
    )
    assert tables_holding(database_url, PASSWORD)

    assert client.get(f"{CONFIGURATIONS}/{configuration['id']}").json()["config"] == CONFIG  # now cached
    marked = {"type": "object", "properties": {"password": {"type": "string", "writeOnly": True}}}
    assert client.post(f"{SCHEMAS}/db/versions", json={"schema": marked}).status_code == 201

    assert tables_holding(database_url, PASSWORD) == []
    assert client.get(f"{CONFIGURATIONS}/{configuration['id']}").json()["config"]["password"] == "********"
    assert client.get(f"{CONFIGURATIONS}/{configuration['id']}").json()["version"] == 1


def test_a_mask_where_no_secret_is_stored_is_just_text(client, bound):
    url = f"{CONFIGURATIONS}/{bound['id']}"
    response = client.put(url, json={"config": CONFIG | {"host": "********"}})
    assert response.json()["config"]["host"] == "********"


def test_an_error_never_shows_a_secret(client, bound):
    url = f"{CONFIGURATIONS}/{bound['id']}"
    properties = SCHEMA["properties"] | {"password": {"type": "string", "writeOnly": True, "minLength": 64}}
    strict = SCHEMA | {"properties": properties, "not": {"required": ["host", "password"]}}

    breaking = client.post(f"{SCHEMAS}/db/versions", json={"schema": strict}, params={"dry_run": "true"})
    assert (
        client.post(
            f"{SCHEMAS}/db/versions", json={"schema": SCHEMA | {"properties": properties}}
        ).status_code
        == 409
    )
    refused = client.put(
        url,
        json={"config": CONFIG | {"password": "short-but-secret"}, "schema": {"name": "db", "version": 1}},
    )
    assert (
        client.post(f"{SCHEMAS}/db/versions", json={"schema": strict}).status_code == 201
    )  # pinned: not concerned
    pinned_write = client.put(
        url, json={"config": CONFIG | {"password": "short-but-secret"}, "schema": {"name": "db"}}
    )

    assert breaking.json()["compatible"] is False
    assert {e["keyword"] for e in breaking.json()["breaking"][0]["errors"]} == {"minLength", "not"}
    assert refused.status_code == 200
    assert pinned_write.status_code == 400
    shown = breaking.text + pinned_write.text
    assert PASSWORD not in shown and "short-but-secret" not in shown


def test_a_forged_sealed_value_is_refused_even_unbound(client):
    application = create_application(client)
    forged = {"password": {"$secret": "v1:00000000:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}}
    body = {"application_id": application["id"], "name": "forged", "config": forged}
    created = client.post(CONFIGURATIONS, json=body)
    plain = create_configuration(client, application["id"], "plain", config={"a": 1})
    changed = client.put(f"{CONFIGURATIONS}/{plain['id']}", json={"config": forged})
    assert (created.status_code, changed.status_code) == (400, 400)
    assert created.json()["type"].endswith("secret-unreadable")
