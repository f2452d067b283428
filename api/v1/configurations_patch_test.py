"""PATCH with an RFC 7396 JSON merge patch."""

import json

import pytest

from tests.fixtures import CONFIGURATIONS, create_application, create_configuration

MERGE_PATCH = {"content-type": "application/merge-patch+json"}


@pytest.fixture
def configuration(client):
    application = create_application(client)
    config = {"pool": {"min": 1, "max": 10}, "legacy_flag": True, "hosts": ["a", "b"]}
    return create_configuration(client, application["id"], config=config, comments="keep me")


def patch(client, configuration: dict, body, headers=MERGE_PATCH):
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    return client.patch(f"{CONFIGURATIONS}/{configuration['id']}", content=content, headers=headers)


def test_a_merge_patch_changes_one_nested_key_and_removes_another(client, configuration):
    response = patch(client, configuration, {"config": {"pool": {"max": 50}, "legacy_flag": None}})

    assert response.status_code == 200
    body = response.json()
    assert body["config"] == {"pool": {"min": 1, "max": 50}, "hosts": ["a", "b"]}
    assert (body["name"], body["comments"], body["version"]) == ("database", "keep me", 2)
    history = client.get(f"{CONFIGURATIONS}/{configuration['id']}/versions").json()
    assert history[0]["change"] == "patched"


def test_arrays_are_replaced_whole_and_comments_can_be_cleared(client, configuration):
    body = patch(client, configuration, {"config": {"hosts": ["c"]}, "comments": None, "name": "db"}).json()
    assert body["config"]["hosts"] == ["c"]
    assert (body["name"], body["comments"]) == ("db", None)


def test_an_empty_patch_changes_nothing(client, configuration):
    response = patch(client, configuration, {})
    assert response.status_code == 200
    assert response.json() == configuration


def test_the_charset_parameter_is_accepted(client, configuration):
    headers = {"content-type": "application/merge-patch+json; charset=utf-8"}
    assert patch(client, configuration, {"comments": "x"}, headers).status_code == 200


@pytest.mark.parametrize(
    "content_type", ["application/json", "application/json-patch+json", "text/plain", None]
)
def test_another_content_type_is_415_naming_the_one_accepted(client, configuration, content_type):
    headers = {"content-type": content_type} if content_type else {}
    response = patch(client, configuration, {"comments": "x"}, headers)

    assert response.status_code == 415
    assert response.headers["accept-patch"] == "application/merge-patch+json"
    assert response.headers["content-type"] == "application/problem+json"
    assert client.get(f"{CONFIGURATIONS}/{configuration['id']}").json() == configuration


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"config": None}, "config"),
        ({"config": [1]}, "config"),
        ({"name": None}, "name"),
        ({"name": ""}, "name"),
        ({"name": "x" * 257}, "name"),
        ({"comments": "x" * 1025}, "comments"),
        ({"config": {"pool": {"max": "nul\u0000"}}}, "config.pool.max"),
        ({"config": {"new\u0000key": 1}}, 'config["new\\u0000key"]'),
    ],
)
def test_a_patch_whose_result_is_invalid_is_400_naming_the_field(client, configuration, body, field):
    response = patch(client, configuration, body)

    assert response.status_code == 400
    assert [e["field"] for e in response.json()["errors"]] == [field]
    assert client.get(f"{CONFIGURATIONS}/{configuration['id']}").json() == configuration


def test_an_invalid_patch_is_400_even_with_an_if_match_that_fails(client, configuration):
    headers = MERGE_PATCH | {"If-Match": '"7"'}

    invalid = patch(client, configuration, {"schema": "not a binding"}, headers=headers)
    valid = patch(client, configuration, {"comments": "fine"}, headers=headers)

    assert (invalid.status_code, valid.status_code) == (400, 412)
    assert [e["field"] for e in invalid.json()["errors"]] == ["schema"]


def test_a_nul_in_a_key_the_patch_removes_is_harmless(client, configuration):
    assert patch(client, configuration, {"config": {"gone\u0000": None}}).status_code == 200


@pytest.mark.parametrize(
    "raw", [b'{"config": ', b"[1, 2]", b'"text"', b"\xff\xfe", b"[" * 5000 + b"]" * 5000, b"NaN"]
)
def test_a_malformed_or_non_object_patch_is_400(client, configuration, raw):
    response = patch(client, configuration, raw)
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/problem+json"


def test_a_patch_making_a_nan_is_400(client, configuration):
    assert patch(client, configuration, b'{"config": {"n": NaN}}').status_code == 400


def test_a_rename_onto_a_sibling_is_409(client, configuration):
    create_configuration(client, configuration["application_id"], "cache")
    assert patch(client, configuration, {"name": "cache"}).status_code == 409


def test_patch_of_an_unknown_configuration_is_404(client):
    response = client.patch(
        f"{CONFIGURATIONS}/01ARZ3NDEKTSV4RRFFQ69G5FAV", content=b"{}", headers=MERGE_PATCH
    )
    assert response.status_code == 404


def test_an_oversized_patch_is_413(client, configuration):
    response = patch(client, configuration, {"config": {"big": "x" * (1024 * 1024)}})
    assert response.status_code == 413
