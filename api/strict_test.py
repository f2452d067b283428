from collections.abc import Iterator

import pytest
from fastapi import FastAPI, Response
from fastapi.routing import iter_route_contexts

from api.strict import StrictRoute, add_warnings, declared_query_parameters, is_json
from api.v1 import configurations
from api.v1.router import include_api_v1
from main import create_app
from tests.apps import SyncClient, settings_for, sync_client

CONFIGURATIONS = "/api/v1/configurations"
MERGE_PATCH = {"content-type": "application/merge-patch+json"}


@pytest.fixture
def configuration(client) -> dict:
    application = client.post("/api/v1/applications", json={"name": "payments"}).json()
    body = {"application_id": application["id"], "name": "database", "config": {"a": 1}}
    return client.post(CONFIGURATIONS, json=body).json()


@pytest.fixture
def warning_client(database_url) -> Iterator[SyncClient]:
    with sync_client(create_app(settings_for(database_url, unknown_fields="warn"))) as client:
        yield client


def test_every_api_v1_route_is_strict():
    app = FastAPI()
    include_api_v1(app)
    contexts = iter_route_contexts(app.routes)
    api_v1 = [context.original_route for context in contexts if context.path_format.startswith("/api/v1")]
    assert len(api_v1) > 10
    assert all(isinstance(route, StrictRoute) for route in api_v1)


def test_the_parameters_of_a_route_are_those_declared_and_those_read_by_hand():
    routes = {(route.path, *route.methods): route for route in configurations.router.routes}
    listing = routes["/configurations", "GET"]
    assert declared_query_parameters(listing) == {"limit", "offset", "after", "application_id", "name"}
    reading = routes["/configurations/{configuration_id}", "GET"]
    assert declared_query_parameters(reading) == {"wait", "version", "reveal"}
    assert declared_query_parameters(routes["/configurations/{configuration_id}", "PUT"]) == set()


def test_an_unknown_field_is_400_and_changes_nothing(client, configuration):
    url = f"{CONFIGURATIONS}/{configuration['id']}"
    response = client.put(url, json={"confg": {"a": 2}})

    assert response.status_code == 400
    assert response.json()["detail"] == "The request is invalid: body.confg"
    assert response.json()["errors"] == [
        {"in": "body", "field": "confg", "message": "Unknown field", "type": "extra_forbidden"}
    ]
    assert client.get(url).json()["version"] == 1


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/api/v1/applications", {"name": "x", "nmae": "y"}),
        ("POST", "{configuration}/rollback", {"version": 1, "comments": "typo of comment"}),
        ("PATCH", "{configuration}", {"confg": None}),
    ],
)
def test_unknown_fields_are_400_in_every_body(client, configuration, method, path, body):
    url = path.format(configuration=f"{CONFIGURATIONS}/{configuration['id']}")
    headers = MERGE_PATCH if method == "PATCH" else {}
    response = client.request(method, url, json=body, headers=headers)
    assert response.status_code == 400
    assert [e["type"] for e in response.json()["errors"]] == ["extra_forbidden"]


@pytest.mark.parametrize(
    "url",
    [
        "/api/v1/configurations?aplication_id=01ARZ3NDEKTSV4RRFFQ69G5FAV",
        "/api/v1/applications?limit=1&nmae=x",
        "/api/v1/audit-events?sine=2020-01-01",
        "/api/v1/configurations/{id}?wiat=30",  # read by hand, outside FastAPI's parameters
        "/api/v1/configurations/{id}/versions?from=1",
        "/api/v1/configurations/{id}/diff?from=1&too=2",
        "/health?verbose=1",
    ],
)
def test_an_unknown_query_parameter_is_400_naming_it(client, configuration, url):
    response = client.get(url.format(id=configuration["id"]))
    assert response.status_code == 400, response.text
    (error,) = response.json()["errors"]
    assert error["in"] == "query"
    assert error["field"] in ("aplication_id", "nmae", "sine", "wiat", "from", "too", "verbose")
    assert error["message"] == "Unknown query parameter"


def test_declared_query_parameters_still_work(client, configuration):
    url = f"{CONFIGURATIONS}/{configuration['id']}"
    assert client.get(url, params={"wait": 0, "version": 0}).status_code == 200
    assert client.get(CONFIGURATIONS, params={"limit": 1, "name": "database"}).status_code == 200
    assert client.get(f"{url}/diff", params={"from": 1, "to": 1}).status_code == 200


def test_tolerated_unknown_fields_are_answered_with_a_warning_each(warning_client):
    application = warning_client.post("/api/v1/applications", json={"name": "a", "colour": "blue"})
    assert application.status_code == 201
    assert application.headers.get_list("warning") == ['299 - "unknown field \\"colour\\""']
    body = {"application_id": application.json()["id"], "name": "db", "config": {"a": 1}}
    url = f"{CONFIGURATIONS}/{warning_client.post(CONFIGURATIONS, json=body).json()['id']}"

    updated = warning_client.put(url, json={"confg": {"a": 2}, "comments": "c"})
    assert updated.status_code == 200
    assert updated.json()["comments"] == "c"
    assert updated.headers["warning"] == '299 - "unknown field \\"confg\\""'

    patched = warning_client.patch(url, json={"confg": None, "config": {"b": 1}}, headers=MERGE_PATCH)
    assert patched.json()["config"] == {"a": 1, "b": 1}
    assert patched.headers["warning"] == '299 - "unknown field \\"confg\\""'

    listed = warning_client.get(CONFIGURATIONS, params={"aplication_id": "x", "limit": 5})
    assert listed.status_code == 200
    assert listed.headers["warning"] == '299 - "unknown query parameter \\"aplication_id\\""'


def test_known_fields_get_no_warning(warning_client):
    response = warning_client.post("/api/v1/applications", json={"name": "a"})
    assert response.status_code == 201
    assert "warning" not in response.headers


def test_warnings_stay_ascii_and_few():
    response = Response()
    add_warnings(response, ["café\n"], [f"f{i}" for i in range(30)])
    warnings = response.headers.getlist("warning")
    assert warnings[0] == '299 - "unknown query parameter \\"caf\\\\u00e9\\\\n\\""'
    assert len(warnings) == 20
    assert warnings[-1] == '299 - "and 12 more unknown fields"'


@pytest.mark.parametrize(
    "content_type",
    ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", None],
)
@pytest.mark.parametrize(
    ("method", "path"),
    [("POST", "/api/v1/applications"), ("PUT", "{configuration}"), ("POST", "{configuration}/rollback")],
)
def test_a_body_that_is_not_json_is_415(client, configuration, method, path, content_type):
    url = path.format(configuration=f"{CONFIGURATIONS}/{configuration['id']}")
    headers = {"content-type": content_type} if content_type else {}
    response = client.request(method, url, content=b'{"name": "x", "version": 1}', headers=headers)
    assert response.status_code == 415
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["detail"].startswith("The body must be JSON (Content-Type: application/json)")


@pytest.mark.parametrize("content_type", ["application/json; charset=utf-8", "application/vnd.config+json"])
def test_json_by_any_json_media_type_is_read(client, content_type):
    response = client.post(
        "/api/v1/applications", content=b'{"name": "x"}', headers={"content-type": content_type}
    )
    assert response.status_code == 201


def test_no_body_at_all_is_400_saying_it_is_required(client):
    response = client.post("/api/v1/applications")
    assert response.status_code == 400
    assert response.json()["errors"][0]["type"] == "missing"


@pytest.mark.parametrize(
    ("content_type", "json"),
    [
        ("application/json", True),
        ("Application/JSON; charset=utf-8", True),
        ("application/problem+json", True),
        ("text/json", False),
        ("application/jsonx", False),
        ("", False),
    ],
)
def test_json_media_types(content_type, json):
    assert is_json(content_type) is json
