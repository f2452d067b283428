import pytest

from tests.fixtures import create_application, create_configuration

CHECKOUT = {
    "key": "new-checkout",
    "description": "The one-page checkout",
    "enabled": True,
    "variants": {"on": True, "off": False},
    "default_variant": "off",
    "off_variant": "off",
    "rules": [
        {"conditions": [{"attribute": "country", "operator": "in", "values": ["NZ"]}], "variant": "on"},
        {"rollout": [{"variant": "on", "weight": 1000}, {"variant": "off", "weight": 9000}]},
    ],
}

MERGE_PATCH = {"content-type": "application/merge-patch+json"}


def rule_with(condition):
    return {"rules": [{"conditions": [condition], "variant": "on"}]}


@pytest.fixture
def application(client):
    return create_application(client)


def flags_url(application, key=""):
    return f"/api/v1/applications/{application['id']}/flags" + (f"/{key}" if key else "")


def create_flag(client, application, **fields):
    response = client.post(flags_url(application), json=CHECKOUT | fields)
    assert response.status_code == 201, response.text
    return response.json()


def evaluate(client, application, context, flags=None):
    body = {"context": context} | ({} if flags is None else {"flags": flags})
    response = client.post(flags_url(application, "evaluate"), json=body)
    assert response.status_code == 200, response.text
    return response.json()["flags"]


def test_a_flag_is_created_at_version_1_and_read_back(client, application):
    created = create_flag(client, application)

    assert created["key"] == "new-checkout"
    assert created["version"] == 1
    assert created["rules"][1] == {"conditions": [], **CHECKOUT["rules"][1]}  # no stickiness: unset
    response = client.get(flags_url(application, "new-checkout"))
    assert response.json() == created
    assert response.headers["etag"] == '"1"'
    assert client.get(flags_url(application)).json() == [created]


def test_a_flag_is_off_unless_created_enabled(client, application):
    definition = {k: v for k, v in CHECKOUT.items() if k != "enabled"}
    response = client.post(flags_url(application), json=definition)

    assert response.json()["enabled"] is False
    assert evaluate(client, application, {"country": "NZ"}) == {
        "new-checkout": {"value": False, "variant": "off", "reason": "DISABLED", "error_code": None}
    }


def test_flags_are_no_configurations_and_keep_their_own_names(client, application):
    configuration = create_configuration(client, application["id"], name="new-checkout")
    flag = create_flag(client, application)

    assert client.get(f"/api/v1/configurations/{flag['id']}").status_code == 404
    assert client.get(f"/api/v1/applications/{application['id']}").json()["configuration_ids"] == [
        configuration["id"]
    ]
    assert client.post(flags_url(application), json=CHECKOUT).status_code == 409


def test_evaluation_follows_the_rules_in_order(client, application):
    create_flag(client, application)

    results = evaluate(client, application, {"targeting_key": "user-1", "country": "NZ"})
    assert results["new-checkout"]["reason"] == "TARGETING_MATCH"
    assert results["new-checkout"]["value"] is True
    split = evaluate(client, application, {"targeting_key": "user-1", "country": "AU"})["new-checkout"]
    assert split["reason"] == "SPLIT"
    missing = evaluate(client, application, {"country": "AU"})["new-checkout"]
    assert missing == {"value": True, "variant": "on", "reason": "DEFAULT", "error_code": None}
    unknown = evaluate(client, application, {}, flags=["nope"])["nope"]
    assert unknown["reason"] == "ERROR" and unknown["error_code"] == "FLAG_NOT_FOUND"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"default_variant": "maybe"}, "body.default_variant"),
        ({"variants": {"on": True, "off": "no"}}, "body.variants.off"),
        (
            {"rules": [{"rollout": [{"variant": "on", "weight": 10}, {"variant": "off", "weight": 20}]}]},
            "body.rules[0].rollout",
        ),
        ({"rules": [{"variant": "sideways"}]}, "body.rules[0].variant"),
        (
            rule_with({"attribute": "a", "operator": "like", "values": []}),
            "body.rules[0].conditions[0].operator",
        ),
        (
            rule_with({"attribute": "v", "operator": "semver_gt", "values": ["1.x"]}),
            "body.rules[0].conditions[0].values",
        ),
        ({"rules": [{"variant": "on", "rollout": [{"variant": "on", "weight": 10000}]}]}, "body.rules[0]"),
        ({"colour": "red"}, "body.colour"),
    ],
)
def test_an_invalid_flag_is_a_400_naming_the_rule_and_field(client, application, change, field):
    response = client.post(flags_url(application), json=CHECKOUT | change)

    assert response.status_code == 400, response.text
    assert field in [f"{e['in']}.{e['field']}" for e in response.json()["errors"]]
    assert client.get(flags_url(application)).json() == []


def test_the_kill_switch_is_a_merge_patch_with_if_match(client, application):
    create_flag(client, application)
    url = flags_url(application, "new-checkout")

    stale = client.patch(url, content=b'{"enabled": false}', headers=MERGE_PATCH | {"if-match": '"7"'})
    assert stale.status_code == 412
    killed = client.patch(url, content=b'{"enabled": false}', headers=MERGE_PATCH | {"if-match": '"1"'})
    assert killed.status_code == 200, killed.text
    assert killed.json()["version"] == 2
    assert evaluate(client, application, {"country": "NZ"})["new-checkout"]["reason"] == "DISABLED"


def test_history_diff_and_rollback(client, application):
    created = create_flag(client, application)
    url = flags_url(application, "new-checkout")
    ramped = [
        *CHECKOUT["rules"][:1],
        {"rollout": [{"variant": "on", "weight": 5000}, {"variant": "off", "weight": 5000}]},
    ]
    definition = {k: v for k, v in CHECKOUT.items() if k != "key"}
    assert client.put(url, json=definition | {"rules": ramped}).status_code == 200

    versions = client.get(f"{url}/versions").json()
    assert [(v["version"], v["change"]) for v in versions] == [(2, "updated"), (1, "created")]
    diff = client.get(f"{url}/diff", params={"from": 1}).json()
    assert {"op": "replace", "path": "/rules/1/rollout/0/weight", "value": 5000} in diff["patch"]

    rolled = client.post(f"{url}/rollback", json={"version": 1, "comment": "too fast"})
    assert rolled.status_code == 200, rolled.text
    assert rolled.json()["version"] == 3
    assert rolled.json()["rules"] == created["rules"]
    assert client.get(f"{url}/versions/3").json()["note"] == "too fast"
    assert client.post(f"{url}/rollback", json={"version": 9}).status_code == 404

    events = client.get("/api/v1/audit-events", params={"entity_type": "flag"}).json()
    assert sorted(e["action"] for e in events) == ["flag.created", "flag.rolled_back", "flag.updated"]
    assert {e["entity_id"] for e in events} == {created["id"]}


def test_a_deleted_flag_is_gone_and_evaluates_as_not_found(client, application):
    create_flag(client, application)
    url = flags_url(application, "new-checkout")

    assert client.delete(url, headers={"if-match": '"4"'}).status_code == 412
    assert client.delete(url).status_code == 204
    assert client.get(url).status_code == 404
    assert client.delete(url).status_code == 404
    assert evaluate(client, application, {}, ["new-checkout"])["new-checkout"]["reason"] == "ERROR"


def test_an_unknown_application_has_no_flags(client):
    url = "/api/v1/applications/01J00000000000000000000000/flags"
    assert client.get(url).status_code == 404
    assert client.post(url, json=CHECKOUT).status_code == 404
    assert client.post(f"{url}/evaluate", json={"context": {}}).status_code == 404


def test_a_read_only_key_evaluates_but_changes_nothing(client, application):
    create_flag(client, application)
    created = client.post(
        "/api/v1/api-keys",
        json={"name": "reader", "scopes": ["read"], "application_ids": [application["id"]]},
    )
    reader = {"authorization": f"Bearer {created.json()['key']}"}

    evaluated = client.post(flags_url(application, "evaluate"), json={"context": {}}, headers=reader)
    assert evaluated.status_code == 200, evaluated.text
    killed = client.patch(
        flags_url(application, "new-checkout"), content=b'{"enabled": false}', headers=MERGE_PATCH | reader
    )
    assert killed.status_code == 403
    assert (
        client.post(flags_url(application), json=CHECKOUT | {"key": "other"}, headers=reader).status_code
        == 403
    )


def test_evaluate_is_no_flag_key(client, application):
    response = client.post(flags_url(application), json=CHECKOUT | {"key": "evaluate"})

    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "key"


def test_a_context_is_evaluated_never_stored_so_any_json_object_will_do(client, application):
    create_flag(client, application)

    odd = {"targeting_key": "user-1", "a\u0000b": "\u0000", "nested": {"deep": [1, {"x": None}]}}
    assert evaluate(client, application, odd)["new-checkout"]["reason"] == "SPLIT"
