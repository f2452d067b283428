"""The audit log: one event per write, none for a write that failed or changed nothing."""

from datetime import UTC, datetime, timedelta

import pytest

from tests.fixtures import APPLICATIONS, CONFIGURATIONS, create_application, create_configuration

AUDIT = "/api/v1/audit-events"
MERGE_PATCH = {"content-type": "application/merge-patch+json"}


def events(client, **params) -> list[dict]:
    response = client.get(AUDIT, params=params)
    assert response.status_code == 200, response.text
    return response.json()


def test_every_kind_of_write_appends_one_event_with_images(client):
    application = create_application(client, comments="c")
    configuration = create_configuration(client, application["id"], config={"n": 1})
    cid, url = configuration["id"], f"{CONFIGURATIONS}/{configuration['id']}"
    updated = client.put(url, json={"config": {"n": 2}}).json()
    patched = client.patch(url, content=b'{"comments": "p"}', headers=MERGE_PATCH).json()
    rolled = client.post(f"{url}/rollback", json={"version": 1, "comment": "why"}).json()
    renamed = client.put(f"{APPLICATIONS}/{application['id']}", json={"name": "billing"}).json()
    client.delete(url)
    client.delete(f"{APPLICATIONS}/{application['id']}")

    log = list(reversed(events(client, application_id=application["id"])))

    assert [(e["action"], e["entity_id"], e["version"]) for e in log] == [
        ("application.created", application["id"], 1),
        ("configuration.created", cid, 1),
        ("configuration.updated", cid, 2),
        ("configuration.patched", cid, 3),
        ("configuration.rolled_back", cid, 4),
        ("application.updated", application["id"], 2),
        ("configuration.deleted", cid, 4),
        ("application.deleted", application["id"], 2),
    ]
    assert all(e["application_id"] == application["id"] for e in log)
    assert [e["entity_type"] for e in log] == ["application"] + ["configuration"] * 4 + [
        "application"
    ] * 1 + ["configuration", "application"]
    application_image = {k: v for k, v in application.items()}
    assert (log[0]["before"], log[0]["after"]) == (None, application_image)
    assert (log[1]["before"], log[1]["after"]) == (None, configuration)
    assert (log[2]["before"], log[2]["after"]) == (configuration, updated)
    assert (log[3]["before"], log[3]["after"]) == (updated, patched)
    assert (log[4]["before"], log[4]["after"], log[4]["note"]) == (patched, rolled, "why")
    assert log[5]["after"] == renamed
    assert (log[6]["before"], log[6]["after"]) == (rolled, None)
    assert log[7]["after"] is None
    assert log[7]["before"]["name"] == "billing"
    assert log[7]["before"]["configurations"] == []


def test_deleting_an_application_keeps_images_of_its_configurations(client):
    application = create_application(client)
    configurations = [create_configuration(client, application["id"], name) for name in ("a", "b")]

    client.delete(f"{APPLICATIONS}/{application['id']}")

    (deleted,) = events(client, action="application.deleted")
    assert deleted["before"]["configurations"] == configurations
    assert deleted["before"]["configuration_ids"] == [c["id"] for c in configurations]
    assert len(events(client, application_id=application["id"])) == 4


def test_an_event_records_who_and_from_where(client):
    response = client.post(
        APPLICATIONS, json={"name": "payments"}, headers={"X-Actor": "alice", "User-Agent": "deploy-bot/2.1"}
    )

    (event,) = events(client, entity_type="application")
    assert (event["actor"], event["on_behalf_of"]) == ("bootstrap", "alice")  # the key's name, and whom for
    assert event["request_id"] == response.headers["x-request-id"]
    assert event["user_agent"] == "deploy-bot/2.1"
    assert event["client_ip"] == "127.0.0.1"
    occurred = datetime.fromisoformat(event["occurred_at"])
    assert abs(occurred - datetime.now(UTC)) < timedelta(minutes=1)


@pytest.mark.parametrize(
    ("sent", "recorded"),
    [
        (None, None),
        ("", None),
        ("  bob  ", "bob"),
        ("eve\tthe\nhacker", "eve the hacker"),
        ("x" * 300, "x" * 256),
        ("zoë".encode(), "zoë"),  # UTF-8 bytes, as clients send them
        ("bad \xff byte".encode("latin-1"), "bad \ufffd byte"),
    ],
)
def test_the_actor_header_is_sanitized(client, sent, recorded):
    headers = {"X-Actor": sent} if sent is not None else {}
    assert client.post(APPLICATIONS, json={"name": "a"}, headers=headers).status_code == 201
    assert events(client)[0]["on_behalf_of"] == recorded


def test_writes_that_fail_or_change_nothing_leave_no_event(client):
    application = create_application(client)
    configuration = create_configuration(client, application["id"])
    url = f"{CONFIGURATIONS}/{configuration['id']}"
    before = len(events(client))

    failures = [
        client.post(APPLICATIONS, json={"name": "payments"}),  # 409
        client.post(APPLICATIONS, json={"name": ""}),  # 400
        client.put(url, json={"config": {"n": 2}}, headers={"If-Match": '"9"'}),  # 412
        client.patch(url, content=b"{}", headers={"content-type": "application/json"}),  # 415
        client.patch(url, content=b'{"config": null}', headers=MERGE_PATCH),  # 400
        client.post(f"{url}/rollback", json={"version": 7}),  # 404
        client.delete(f"{CONFIGURATIONS}/01ARZ3NDEKTSV4RRFFQ69G5FAV"),  # 404
        client.put(url, json={"config": configuration["config"]}),  # 200, but a no-op
        client.put(f"{APPLICATIONS}/{application['id']}", json={"name": "payments"}),  # no-op
    ]

    assert [r.status_code for r in failures] == [409, 400, 412, 415, 400, 404, 404, 200, 200]
    assert len(events(client)) == before


def test_filters(client):
    payments = create_application(client, "payments")
    billing = create_application(client, "billing")
    configuration = create_configuration(client, payments["id"])
    client.put(
        f"{CONFIGURATIONS}/{configuration['id']}", json={"config": {"b": 1}}, headers={"X-Actor": "alice"}
    )

    def actions(**params):
        return [e["action"] for e in events(client, **params)]

    assert actions(application_id=billing["id"]) == ["application.created"]
    assert actions(application_id=payments["id"]) == [
        "configuration.updated",
        "configuration.created",
        "application.created",
    ]
    assert actions(entity_type="configuration") == ["configuration.updated", "configuration.created"]
    assert actions(entity_id=configuration["id"], action="configuration.created") == ["configuration.created"]
    assert actions(on_behalf_of="alice") == ["configuration.updated"]
    assert len(actions(actor="bootstrap")) == 4  # every write here was made with the suite's key
    assert actions(actor="nobody") == []
    assert actions(entity_type="api_key") == ["api_key.created"]  # the bootstrap key, at start

    now = datetime.now(UTC)
    assert len(actions(since=(now - timedelta(minutes=5)).isoformat())) == 5
    assert actions(since=(now + timedelta(minutes=5)).isoformat()) == []
    assert actions(until=(now - timedelta(minutes=5)).isoformat()) == []
    naive_future = (now + timedelta(minutes=5)).replace(tzinfo=None).isoformat()
    assert len(actions(until=naive_future)) == 5


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"application_id": "nope"}, "application_id"),
        ({"entity_id": "nope"}, "entity_id"),
        ({"entity_type": "planet"}, "entity_type"),
        ({"action": "configuration.exploded"}, "action"),
        ({"since": "yesterday"}, "since"),
        ({"limit": 0}, "limit"),
        # Offsets Python accepts and PostgreSQL refuses: once a 500.
        ({"since": "2020-01-01T00:00:00+16:00"}, "since"),
        ({"until": "2020-01-01T00:00:00-23:59"}, "until"),
    ],
)
def test_malformed_filters_are_400_naming_them(client, params, field):
    response = client.get(AUDIT, params=params)
    assert response.status_code == 400
    assert [e["field"] for e in response.json()["errors"]] == [field]


def test_the_log_pages_newest_first(client):
    ids = [create_application(client, f"app-{i}")["id"] for i in range(5)]

    seen, url = [], f"{AUDIT}?limit=2&entity_type=application"
    while url:
        response = client.get(url)
        seen += [e["entity_id"] for e in response.json()]
        link = response.headers.get("link")
        url = link[1 : link.index(">")] if link else None

    assert seen == list(reversed(ids))


def test_the_log_cannot_be_written_through_the_api(client):
    create_application(client)
    event_id = events(client)[0]["id"]
    assert client.post(AUDIT, json={}).status_code == 405
    assert client.delete(f"{AUDIT}/{event_id}").status_code == 404


def test_a_nul_in_the_actor_filter_is_400(client):
    response = client.get(AUDIT, params={"actor": "a\u0000"})
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "actor"


@pytest.mark.parametrize("moment", ["0001-01-01T00:00:00+15:59", "9999-12-31T23:59:59-15:59"])
def test_the_extremes_python_allows_are_answered(client, moment):
    create_application(client)
    # Beyond Python's years once in UTC, still within PostgreSQL's.
    assert len(client.get(AUDIT, params={"since": moment, "until": moment}).json()) == 0
    assert client.get(AUDIT, params={"since": moment}).status_code == 200
