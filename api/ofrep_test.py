"""OFREP: the endpoints in-process, then the official OpenFeature provider against a running
service, agreeing with our native evaluation for every flag of tests/flag_cases.py."""

from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from openfeature import api
from openfeature.client import OpenFeatureClient
from openfeature.contrib.provider.ofrep import OFREPProvider
from openfeature.evaluation_context import EvaluationContext
from openfeature.exception import ErrorCode

from models.ids import new_id
from tests.apps import ADMIN_KEY
from tests.fixtures import create_application
from tests.flag_cases import FLAGS, contexts
from tests.postgres import TestServer
from tests.server import Service, service_on_new_database

FLAG = {
    "key": "checkout",
    "enabled": True,
    "variants": {"on": True, "off": False},
    "default_variant": "off",
    "off_variant": "off",
    "rules": [
        {
            "conditions": [{"attribute": "targeting_key", "operator": "in", "values": ["alice"]}],
            "variant": "on",
        },
        {"rollout": [{"variant": "on", "weight": 5000}, {"variant": "off", "weight": 5000}]},
    ],
}
COLOUR = {
    "key": "colour",
    "enabled": True,
    "variants": {"red": "red", "blue": "blue"},
    "default_variant": "red",
    "off_variant": "red",
    "rules": [
        {"conditions": [{"attribute": "country", "operator": "in", "values": ["NZ"]}], "variant": "blue"}
    ],
}


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def ofrep_url(application_id: str | None, key: str | None = None) -> str:
    base = "" if application_id is None else f"/api/v1/applications/{application_id}"
    return f"{base}/ofrep/v1/evaluate/flags" + ("" if key is None else f"/{key}")


def create_flag(client, application_id: str, body: dict[str, Any]) -> None:
    response = client.post(f"/api/v1/applications/{application_id}/flags", json=body)
    assert response.status_code == 201, response.text


def make_key(client, name: str, application_ids: list[str] | None, scopes=("read",)) -> str:
    body = {"name": name, "scopes": list(scopes), "application_ids": application_ids}
    response = client.post("/api/v1/api-keys", json=body)
    assert response.status_code == 201, response.text
    return response.json()["key"]


@pytest.fixture
def application_id(client) -> str:
    application = create_application(client)
    create_flag(client, application["id"], FLAG)
    create_flag(client, application["id"], COLOUR)
    return application["id"]


# --- one flag ----------------------------------------------------------------------------------


def test_a_flag_is_evaluated_in_ofreps_own_shape(client, application_id):
    response = client.post(ofrep_url(application_id, "colour"), json={"context": {"country": "NZ"}})

    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {
        "key": "colour",
        "reason": "TARGETING_MATCH",
        "variant": "blue",
        "value": "blue",
        "metadata": {},
    }


def test_no_context_or_no_body_is_an_empty_context(client, application_id):
    for sent in ({"json": {}}, {"content": b""}):
        response = client.post(ofrep_url(application_id, "colour"), **sent)
        assert response.status_code == 200, (sent, response.text)
        assert response.json()["reason"] == "DEFAULT" and response.json()["value"] == "red"
    # A context that is there must be an object: null is no context of OFREP's.
    null = client.post(ofrep_url(application_id, "colour"), json={"context": None})
    assert (null.status_code, null.json()["errorCode"]) == (400, "INVALID_CONTEXT")


def test_targeting_key_is_our_targeting_key(client, application_id):
    matched = client.post(ofrep_url(application_id, "checkout"), json={"context": {"targetingKey": "alice"}})
    assert matched.json()["reason"] == "TARGETING_MATCH"

    for user in ("user-1", "user-2", "user-3"):
        ofrep = client.post(ofrep_url(application_id, "checkout"), json={"context": {"targetingKey": user}})
        native = client.post(
            f"/api/v1/applications/{application_id}/flags/evaluate",
            json={"context": {"targeting_key": user}, "flags": ["checkout"]},
        ).json()["flags"]["checkout"]
        # Without the renaming the rollout would have no stickiness value: DEFAULT, not SPLIT.
        assert ofrep.json()["reason"] == native["reason"] == "SPLIT"
        assert (ofrep.json()["variant"], ofrep.json()["value"]) == (native["variant"], native["value"])


def test_an_unknown_flag_is_a_404_flag_not_found(client, application_id):
    response = client.post(ofrep_url(application_id, "nope"), json={"context": {}})

    assert response.status_code == 404
    body = response.json()
    assert body["key"] == "nope" and body["errorCode"] == "FLAG_NOT_FOUND" and "nope" in body["errorDetails"]


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (b"{not json", "PARSE_ERROR"),
        (b'{"context": {"age": NaN}}', "PARSE_ERROR"),
        (b"\xff\xfe{", "PARSE_ERROR"),
        (b"[]", "INVALID_CONTEXT"),
        (b'"context"', "INVALID_CONTEXT"),
        (b'{"context": [1, 2]}', "INVALID_CONTEXT"),
        (b'{"context": "alice"}', "INVALID_CONTEXT"),
    ],
)
def test_a_bad_body_is_a_400_with_ofreps_error_code(client, application_id, body, code):
    headers = {"content-type": "application/json"}
    single = client.post(ofrep_url(application_id, "colour"), content=body, headers=headers)
    bulk = client.post(ofrep_url(application_id), content=body, headers=headers)

    assert single.status_code == bulk.status_code == 400
    assert single.json()["key"] == "colour" and single.json()["errorCode"] == code
    assert single.json()["errorDetails"]
    assert set(bulk.json()) == {"errorCode", "errorDetails"} and bulk.json()["errorCode"] == code


def test_an_unknown_or_unreached_application_is_a_404(client, application_id):
    other = create_application(client, name="other")["id"]
    key = make_key(client, "other-only", [other])

    for url, headers in (
        (ofrep_url("01JNOSUCHAPPLICATION0000000", "colour"), {}),
        (ofrep_url(application_id, "colour"), bearer(key)),
        (ofrep_url(application_id), bearer(key)),
    ):
        response = client.post(url, json={"context": {}}, headers=headers)
        assert response.status_code == 404, (url, response.text)
        assert response.json()["errorCode"] == "GENERAL"
        assert "does not exist" in response.json()["errorDetails"]


# --- bulk --------------------------------------------------------------------------------------


def bulk(client, application_id: str | None, context: dict, **headers: str) -> httpx.Response:
    return client.post(ofrep_url(application_id), json={"context": context}, headers=headers)


def test_bulk_evaluates_every_flag(client, application_id):
    response = bulk(client, application_id, {"targetingKey": "alice", "country": "NZ"})

    assert response.status_code == 200, response.text
    assert response.json() == {
        "flags": [
            {"key": "checkout", "reason": "TARGETING_MATCH", "variant": "on", "value": True, "metadata": {}},
            {
                "key": "colour",
                "reason": "TARGETING_MATCH",
                "variant": "blue",
                "value": "blue",
                "metadata": {},
            },
        ]
    }
    assert response.headers["etag"].startswith('"')


def test_bulk_is_not_modified_until_a_flag_or_the_context_changes(client, application_id):
    context = {"targetingKey": "bob", "country": "NZ"}
    first = bulk(client, application_id, context)
    tag = first.headers["etag"]

    again = bulk(client, application_id, context, **{"if-none-match": tag})
    assert again.status_code == 304 and again.headers["etag"] == tag and again.content == b""
    listed = bulk(client, application_id, context, **{"if-none-match": f'"other", W/{tag}'})
    assert listed.status_code == 304
    reordered = bulk(
        client, application_id, {"country": "NZ", "targetingKey": "bob"}, **{"if-none-match": tag}
    )
    assert reordered.status_code == 304

    # Another context: another answer, whatever the flags.
    elsewhere = bulk(
        client, application_id, {"targetingKey": "bob", "country": "AU"}, **{"if-none-match": tag}
    )
    assert elsewhere.status_code == 200 and elsewhere.headers["etag"] != tag
    assert elsewhere.json()["flags"][1]["value"] == "red"

    killed = client.patch(
        f"/api/v1/applications/{application_id}/flags/colour",
        content=b'{"enabled": false}',
        headers={"content-type": "application/merge-patch+json"},
    )
    assert killed.status_code == 200, killed.text
    changed = bulk(client, application_id, context, **{"if-none-match": tag})
    assert changed.status_code == 200 and changed.headers["etag"] != tag
    assert changed.json()["flags"][1]["reason"] == "DISABLED"
    assert (
        bulk(client, application_id, context, **{"if-none-match": changed.headers["etag"]}).status_code == 304
    )


# --- at the root -------------------------------------------------------------------------------


def test_the_root_serves_a_key_restricted_to_one_application(client, application_id):
    key = make_key(client, "one-app", [application_id])

    single = client.post(ofrep_url(None, "colour"), json={"context": {"country": "NZ"}}, headers=bearer(key))
    assert single.status_code == 200, single.text
    assert single.json()["value"] == "blue"
    everything = bulk(client, None, {"country": "NZ"}, authorization=f"Bearer {key}")
    assert everything.status_code == 200
    assert [flag["key"] for flag in everything.json()["flags"]] == ["checkout", "colour"]
    missing = client.post(ofrep_url(None, "nope"), json={}, headers=bearer(key))
    assert missing.status_code == 404 and missing.json()["errorCode"] == "FLAG_NOT_FOUND"


def test_the_root_refuses_a_key_of_several_or_all_applications(client, application_id):
    other = create_application(client, name="other")["id"]
    two = make_key(client, "two-apps", [application_id, other])

    for headers in ({}, bearer(two)):  # the admin key, and one of two applications
        single = client.post(ofrep_url(None, "colour"), json={}, headers=headers)
        assert single.status_code == 400, single.text
        assert single.json()["key"] == "colour" and single.json()["errorCode"] == "GENERAL"
        assert "/api/v1/applications/" in single.json()["errorDetails"]
        assert "restricted to exactly one application" in single.json()["errorDetails"]
        many = client.post(ofrep_url(None), json={}, headers=headers)
        assert many.status_code == 400 and many.json()["errorCode"] == "GENERAL"


def test_the_root_needs_a_key_as_api_v1_does(client, application_id):
    for url in (ofrep_url(None, "colour"), ofrep_url(None)):
        response = client.post(url, json={}, headers={"Authorization": ""})
        assert response.status_code == 401, response.text
        refused = client.post(url, json={}, headers=bearer("cs_not-a-key"))
        assert refused.status_code == 401


# --- the official provider ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def service(postgres: TestServer) -> Iterator[Service]:
    """One running service for the module, on a database of its own; its keys' rate is far
    above the thousands of evaluations a test here makes in seconds."""
    with service_on_new_database(
        postgres, {"RATE_LIMIT_PER_SECOND": "1000000", "LOG_LEVEL": "warning"}
    ) as running:
        yield running


@pytest.fixture
def served_application(service: Service) -> Iterator[tuple[httpx.Client, str]]:
    """An application of this test's own on the running service, with every flag of FLAGS."""
    with service.client(timeout=30) as http:
        created = http.post("/api/v1/applications", json={"name": f"ofrep-{new_id().lower()}"})
        assert created.status_code == 201, created.text
        application_id = created.json()["id"]
        for body in FLAGS:
            create_flag(http, application_id, body)
        yield http, application_id


@pytest.fixture
def openfeature_client() -> Iterator[Callable[[OFREPProvider], OpenFeatureClient]]:
    """An OpenFeature client of a provider, under a domain of its own; the providers are
    cleared afterwards, so that none outlives its test."""
    providers: list[OFREPProvider] = []

    def client_of(provider: OFREPProvider) -> OpenFeatureClient:
        domain = f"ofrep-test-{new_id()}"
        api.set_provider(provider, domain)
        providers.append(provider)
        return api.get_client(domain)

    try:
        yield client_of
    finally:
        api.clear_providers()
        for provider in providers:
            provider.session.close()


def flag_type_of(body: dict[str, Any]) -> str:
    """Which typed resolution a flag's variants call for (OFREP's provider checks the type)."""
    kinds = {type(value) for value in body["variants"].values()}
    assert len(kinds) == 1, body["key"]
    kind = kinds.pop()
    return {bool: "boolean", str: "string", int: "integer", float: "float", dict: "object", list: "object"}[
        kind
    ]


def resolve(client: OpenFeatureClient, body: dict[str, Any], context: EvaluationContext):
    match flag_type_of(body):
        case "boolean":
            return client.get_boolean_details(body["key"], False, context)
        case "string":
            return client.get_string_details(body["key"], "", context)
        case "integer":
            return client.get_integer_details(body["key"], -1, context)
        case "float":
            return client.get_float_details(body["key"], -1.0, context)
        case _:
            return client.get_object_details(body["key"], {}, context)


def evaluation_context(context: dict[str, Any]) -> EvaluationContext:
    attributes = {name: value for name, value in context.items() if name != "targeting_key"}
    return EvaluationContext(targeting_key=context.get("targeting_key"), attributes=attributes)


def test_the_official_provider_agrees_with_native_evaluation(served_application, service, openfeature_client):
    http, application_id = served_application
    provider = OFREPProvider(
        f"{service.url}/api/v1/applications/{application_id}", headers_factory=lambda: bearer(ADMIN_KEY)
    )
    client = openfeature_client(provider)
    reasons: Counter[str] = Counter()
    variants: dict[str, set[str]] = {body["key"]: set() for body in FLAGS}

    for context in contexts(300, seed=20240601):
        native = http.post(f"/api/v1/applications/{application_id}/flags/evaluate", json={"context": context})
        assert native.status_code == 200, native.text
        expected = native.json()["flags"]
        for body in FLAGS:
            key = body["key"]
            details = resolve(client, body, evaluation_context(context))
            want = expected[key]
            assert details.error_code is None, (key, context, details.error_message)
            assert (details.value, details.variant) == (want["value"], want["variant"]), (key, context)
            assert getattr(details.reason, "value", details.reason) == want["reason"], (key, context)
            reasons[want["reason"]] += 1
            variants[key].add(want["variant"])

    # Not vacuous: every reason was given, and every flag with rules served several variants.
    assert set(reasons) == {"STATIC", "TARGETING_MATCH", "SPLIT", "DISABLED", "DEFAULT"}, reasons
    for body in FLAGS:
        if body["enabled"] and body["rules"]:
            assert len(variants[body["key"]]) >= 2, (body["key"], variants[body["key"]])


def test_the_official_provider_at_the_root_with_a_one_application_key(
    served_application, service, openfeature_client
):
    http, application_id = served_application
    key = make_key(http, f"ofrep-{new_id().lower()}", [application_id])
    client = openfeature_client(OFREPProvider(service.url, headers_factory=lambda: bearer(key)))

    context = {"targeting_key": "user-7", "country": "NZ", "plan": "pro", "age": 30}
    expected = http.post(
        f"/api/v1/applications/{application_id}/flags/evaluate", json={"context": context}
    ).json()["flags"]
    for body in FLAGS:
        details = resolve(client, body, evaluation_context(context))
        assert details.error_code is None, (body["key"], details.error_message)
        assert (details.value, details.variant) == (
            expected[body["key"]]["value"],
            expected[body["key"]]["variant"],
        )
    missing = client.get_boolean_details("no-such-flag", True, evaluation_context(context))
    assert missing.error_code == ErrorCode.FLAG_NOT_FOUND and missing.value is True


# --- the shared cases --------------------------------------------------------------------------


def test_the_cases_are_deterministic_and_leave_attributes_out(client):
    made = contexts(200, seed=7)
    assert made == contexts(200, seed=7) and made != contexts(200, seed=8)
    for name in ("targeting_key", "country", "plan", "version", "age", "email", "signed_up", "beta"):
        present = sum(name in context for context in made)
        assert 0 < present < len(made), name
    application = create_application(client, name="cases")
    for body in FLAGS:  # each is a flag the service accepts
        create_flag(client, application["id"], body)
    operators = {c["operator"] for body in FLAGS for rule in body["rules"] for c in rule["conditions"]}
    assert len(operators) == 15
