"""API keys through the API: made, listed, revoked; and what each kind of key may reach."""

import logging
from datetime import UTC, datetime, timedelta

from main import create_app
from models.ids import new_id
from repositories import api_keys
from services.api_keys import digest
from tests.apps import settings_for, sync_client
from tests.fixtures import create_application, create_configuration
from tests.waiting import wait_until

KEYS = "/api/v1/api-keys"


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def made_by_hand(conn, secret: str, *, name: str, **fields) -> None:
    """An admin key written straight into the database, as the API would refuse to make it."""
    values = {"scopes": ["admin"], "application_ids": None, "expires_at": None, "rate_limit_per_second": None}
    api_keys.insert(
        conn, id=new_id(), name=name, prefix="", secret_sha256=digest(secret), **(values | fields)
    )
    conn.commit()


def make_key(client, name: str, scopes: list[str], **fields) -> dict:
    response = client.post(KEYS, json={"name": name, "scopes": scopes, **fields})
    assert response.status_code == 201, response.text
    return response.json()


def test_create_shows_the_secret_once(client):
    created = make_key(client, "ci", ["read"])
    assert created["key"].startswith("cs_") and created["key"].startswith(created["prefix"])
    assert len(created["key"]) >= 3 + 43  # 256 random bits, base64url
    assert created["application_ids"] is None and created["rate_limit_per_second"] == 100
    assert created["last_used_at"] is None
    shown = client.get(f"{KEYS}/{created['id']}")
    assert shown.status_code == 200 and "key" not in shown.json()
    listed = client.get(KEYS).json()
    assert created["key"] not in str(listed) and "ci" in [k["name"] for k in listed]


def test_names_are_unique(client):
    make_key(client, "ci", ["read"])
    assert client.post(KEYS, json={"name": "ci", "scopes": ["write"]}).status_code == 409


def test_bad_requests_name_the_field(client):
    refused = client.post(KEYS, json={"name": "ci", "scopes": ["root"]})
    assert refused.status_code == 400 and "scopes" in refused.json()["detail"]
    refused = client.post(KEYS, json={"name": "ci", "scopes": ["read"], "expires_at": "2001-01-01T00:00:00Z"})
    assert refused.status_code == 400 and "expires_at" in refused.json()["detail"]


def test_revoked_at_once(client):
    created = make_key(client, "ci", ["read"])
    assert client.get("/api/v1/applications", headers=bearer(created["key"])).status_code == 200
    assert client.delete(f"{KEYS}/{created['id']}").status_code == 204
    refused = client.get("/api/v1/applications", headers=bearer(created["key"]))
    assert refused.status_code == 401
    assert client.get(f"{KEYS}/{created['id']}").status_code == 404
    assert client.delete(f"{KEYS}/{created['id']}").status_code == 404


def test_each_way_of_failing_authentication_is_a_401(settings, conn):
    with sync_client(create_app(settings), key=None) as anonymous:
        missing = anonymous.get("/api/v1/applications")
        assert missing.status_code == 401
        assert missing.headers["www-authenticate"].startswith("Bearer")
        assert missing.headers["content-type"] == "application/problem+json"
        for header in ("Basic dXNlcjpwYXNz", "Bearer", "Bearer two words", "Bearer \u00e9t\u00e9".encode()):
            malformed = anonymous.get("/api/v1/applications", headers={"Authorization": header})
            assert malformed.status_code == 401, header
        unknown = anonymous.get("/api/v1/applications", headers=bearer("cs_" + "x" * 43))
        assert unknown.status_code == 401 and "invalid_token" in unknown.headers["www-authenticate"]

        made_by_hand(
            conn,
            "cs_expired-key-0000000000000000000000000000",
            name="old",
            expires_at=datetime.now(UTC) - timedelta(seconds=1),
        )
        expired = anonymous.get(
            "/api/v1/applications", headers=bearer("cs_expired-key-0000000000000000000000000000")
        )
        assert expired.status_code == 401 and "expired" in expired.json()["detail"]


def test_open_paths_need_no_key(settings):
    with sync_client(create_app(settings), key=None) as anonymous:
        for path in ("/health", "/health/db", "/docs", "/openapi.json", "/metrics"):
            assert anonymous.get(path).status_code == 200, path


def test_metrics_can_require_a_key(database_url):
    settings = settings_for(database_url, metrics_require_key=True)
    with sync_client(create_app(settings), key=None) as anonymous:
        assert anonymous.get("/metrics").status_code == 401
    with sync_client(create_app(settings)) as admin:
        assert admin.get("/metrics").status_code == 200


def test_anonymous_scopes_admit_requests_without_a_key_but_not_bad_keys(database_url, caplog):
    caplog.set_level(logging.WARNING)
    settings = settings_for(database_url, anonymous_scopes="read")
    with sync_client(create_app(settings), key=None) as anonymous:
        assert anonymous.get("/api/v1/applications").status_code == 200
        assert anonymous.post("/api/v1/applications", json={"name": "x"}).status_code == 403
        assert anonymous.get("/api/v1/applications", headers=bearer("cs_wrong")).status_code == 401
    assert "ANONYMOUS_SCOPES" in caplog.text


def test_a_read_key_cannot_write_and_only_admins_see_keys(client):
    reader = bearer(make_key(client, "reader", ["read"])["key"])
    writer = bearer(make_key(client, "writer", ["write"])["key"])
    forbidden = client.post("/api/v1/applications", json={"name": "x"}, headers=reader)
    assert forbidden.status_code == 403 and "write" in forbidden.json()["detail"]
    assert client.get(KEYS, headers=writer).status_code == 403
    assert client.post(KEYS, json={"name": "y", "scopes": ["admin"]}, headers=writer).status_code == 403
    assert client.post("/api/v1/applications", json={"name": "x"}, headers=writer).status_code == 201
    assert client.get("/api/v1/applications", headers=reader).status_code == 200


def test_the_audit_log_names_the_key_and_whom_it_acts_for(client):
    writer = make_key(client, "deployer", ["write"])
    headers = bearer(writer["key"]) | {"X-Actor": "alice"}
    app = client.post("/api/v1/applications", json={"name": "payments"}, headers=headers).json()
    events = client.get("/api/v1/audit-events", params={"entity_id": app["id"]}).json()
    assert (events[0]["actor"], events[0]["on_behalf_of"]) == ("deployer", "alice")
    by_alice = client.get("/api/v1/audit-events", params={"on_behalf_of": "alice"}).json()
    assert [e["entity_id"] for e in by_alice] == [app["id"]]


def test_the_secret_is_in_no_log_response_or_audit_row(client, conn, caplog):
    caplog.set_level(logging.DEBUG)
    created = make_key(client, "ci", ["admin"])
    secret = created["key"]
    client.get("/api/v1/applications", headers=bearer(secret))
    client.delete(f"{KEYS}/{created['id']}")
    client.get("/api/v1/applications", headers=bearer(secret))  # refused now
    with conn.cursor() as cursor:
        cursor.execute("SELECT to_jsonb(a)::text AS row FROM audit_events a")
        rows = " ".join(r["row"] for r in cursor.fetchall())
    responses = client.get(KEYS).text + client.get("/api/v1/audit-events").text
    for place in (caplog.text, rows, responses):
        assert secret not in place and secret[len(created["prefix"]) :] not in place
    assert created["id"] in rows  # the events are there, without the secret


def test_last_used_is_kept(client):
    created = make_key(client, "ci", ["read"])
    client.get("/api/v1/applications", headers=bearer(created["key"]))
    wait_until(lambda: client.get(f"{KEYS}/{created['id']}").json()["last_used_at"], what="last_used_at set")


def test_rate_limit_headers_and_429(client):
    created = make_key(client, "slow", ["read"], rate_limit_per_second=1)
    answers = [client.get("/api/v1/applications", headers=bearer(created["key"])) for _ in range(4)]
    assert answers[0].headers["ratelimit-limit"] == "2"  # the bucket: twice the rate
    assert int(answers[0].headers["ratelimit-remaining"]) == 1
    assert answers[0].headers["ratelimit-policy"] == "2;w=2"
    assert "ratelimit-reset" in answers[0].headers
    refused = [a for a in answers if a.status_code == 429]
    assert refused, [a.status_code for a in answers]
    assert int(refused[0].headers["retry-after"]) >= 1
    assert refused[0].headers["content-type"] == "application/problem+json"


def test_failed_authentication_is_limited_per_address(settings):
    with sync_client(create_app(settings), key=None) as anonymous:
        statuses = [
            anonymous.get("/api/v1/applications", headers=bearer(f"cs_guess{n:040d}")).status_code
            for n in range(40)
        ]
    assert statuses[0] == 401 and 429 in statuses


def test_a_restricted_key_sees_only_its_applications(client):
    mine = create_application(client, "mine")
    theirs = create_application(client, "theirs")
    my_config = create_configuration(client, mine["id"], "db")
    their_config = create_configuration(client, theirs["id"], "db")
    client.put(f"/api/v1/configurations/{their_config['id']}", json={"config": {"a": 2}})
    client.get(f"/api/v1/configurations/{their_config['id']}")  # now cached: the fast path is asked too
    key = make_key(client, "scoped", ["write"], application_ids=[mine["id"]])
    scoped = bearer(key["key"])

    assert [a["id"] for a in client.get("/api/v1/applications", headers=scoped).json()] == [mine["id"]]
    listed = client.get("/api/v1/configurations", headers=scoped).json()
    assert [c["id"] for c in listed] == [my_config["id"]]
    audit = client.get("/api/v1/audit-events", headers=scoped).json()
    assert audit and {e["application_id"] for e in audit} == {mine["id"]}
    assert client.get(f"/api/v1/configurations/{my_config['id']}", headers=scoped).status_code == 200

    other = f"/api/v1/configurations/{their_config['id']}"
    hidden = [
        client.get(f"/api/v1/applications/{theirs['id']}", headers=scoped),
        client.get(f"/api/v1/applications/{theirs['id']}/configurations", headers=scoped),
        client.get(other, headers=scoped),
        client.get(other, params={"wait": 1, "version": 1}, headers=scoped),
        client.get(f"{other}/versions", headers=scoped),
        client.get(f"{other}/versions/1", headers=scoped),
        client.get(f"{other}/diff", params={"from": 1}, headers=scoped),
        client.get("/api/v1/configurations", params={"application_id": theirs["id"]}, headers=scoped),
        client.get("/api/v1/audit-events", params={"application_id": theirs["id"]}, headers=scoped),
        client.get("/api/v1/events", params={"application_id": theirs["id"]}, headers=scoped),
        client.put(other, json={"config": {}}, headers=scoped),
        client.patch(
            other, json={"config": {}}, headers=scoped | {"Content-Type": "application/merge-patch+json"}
        ),
        client.post(f"{other}/rollback", json={"version": 1}, headers=scoped),
        client.delete(other, headers=scoped),
        client.put(f"/api/v1/applications/{theirs['id']}", json={"comments": "x"}, headers=scoped),
        client.delete(f"/api/v1/applications/{theirs['id']}", headers=scoped),
        client.post(
            "/api/v1/configurations",
            json={"application_id": theirs["id"], "name": "new", "config": {}},
            headers=scoped,
        ),
    ]
    assert [r.status_code for r in hidden] == [404] * len(hidden), [(r.request.url, r.text) for r in hidden]
    assert client.get(other).json()["version"] == 2  # nothing was written
    assert client.post("/api/v1/applications", json={"name": "new"}, headers=scoped).status_code == 403


def test_cors_is_off_unless_origins_are_listed(database_url):
    preflight = {
        "Origin": "https://ops.example.com",
        "Access-Control-Request-Method": "GET",
        "Access-Control-Request-Headers": "authorization",
    }
    with sync_client(create_app(settings_for(database_url))) as plain:
        answer = plain.request("OPTIONS", "/api/v1/applications", headers=preflight)
        assert "access-control-allow-origin" not in answer.headers
        read = plain.get("/api/v1/applications", headers={"Origin": "https://ops.example.com"})
        assert "access-control-allow-origin" not in read.headers
    settings = settings_for(database_url, cors_origins="https://ops.example.com")
    with sync_client(create_app(settings), key=None) as browser:
        answer = browser.request("OPTIONS", "/api/v1/applications", headers=preflight)
        assert answer.status_code == 200  # a preflight carries no key, and needs none
        assert answer.headers["access-control-allow-origin"] == "https://ops.example.com"
        assert "authorization" in answer.headers["access-control-allow-headers"].lower()
        refused = browser.request(
            "OPTIONS", "/api/v1/applications", headers=preflight | {"Origin": "https://evil.example"}
        )
        assert "access-control-allow-origin" not in refused.headers


def test_a_key_that_must_be_looked_up_while_the_database_is_down_is_503(database_url, stoppable_postgres):
    with sync_client(create_app(settings_for(database_url))) as client:
        stoppable_postgres.stop()
        answer = client.get("/api/v1/applications", headers=bearer("cs_" + "n" * 43))
    assert answer.status_code == 503
    assert answer.headers["retry-after"] and answer.json()["type"].endswith(":database-unavailable")


def test_an_admin_key_cannot_be_restricted_and_a_restricted_key_never_acts_as_admin(client, conn):
    app = create_application(client, "mine")
    refused = client.post(KEYS, json={"name": "x", "scopes": ["admin"], "application_ids": [app["id"]]})
    assert refused.status_code == 400 and refused.json()["errors"][0]["field"] == "application_ids"
    # One made by hand in the database holds at most write.
    made_by_hand(
        conn, "cs_restricted-admin-by-hand-000000000000000", name="by-hand", application_ids=[app["id"]]
    )
    by_hand = bearer("cs_restricted-admin-by-hand-000000000000000")
    assert client.get(KEYS, headers=by_hand).status_code == 403
    assert client.post(KEYS, json={"name": "y", "scopes": ["admin"]}, headers=by_hand).status_code == 403


def test_the_bearer_scheme_is_case_insensitive(client):
    created = make_key(client, "ci", ["read"])
    for scheme in ("Bearer", "bearer", "BEARER"):
        answer = client.get("/api/v1/applications", headers={"Authorization": f"{scheme} {created['key']}"})
        assert answer.status_code == 200, scheme


def test_a_forbidden_request_counts_and_says_so(client):
    reader = make_key(client, "reader", ["read"], rate_limit_per_second=5)
    refused = client.post("/api/v1/applications", json={"name": "x"}, headers=bearer(reader["key"]))
    assert refused.status_code == 403
    assert refused.headers["ratelimit-limit"] == "10" and refused.headers["ratelimit-remaining"] == "9"


def test_an_admin_api_key_of_any_visible_ascii_works(database_url):
    chosen = "Operator!Chosen:Secret#42"
    with sync_client(create_app(settings_for(database_url, admin_api_key=chosen))) as client:
        assert client.get("/api/v1/applications").status_code == 200
        (key,) = client.get(KEYS).json()
        assert key["prefix"] == "" and chosen not in str(key)  # nothing of a chosen secret shown
