import json

import pytest
from fastapi import FastAPI
from pydantic import BaseModel
from starlette.requests import ClientDisconnect

from api.errors import _dotted, _field_error, install_error_handlers, problem, status_phrase
from database.errors import DatabaseBusy, DatabaseUnavailable
from models.errors import ApplicationNameTaken, ConfigurationNotFound
from tests.apps import sync_client


def test_a_problem_document():
    response = problem(404, "thing-not-found", "No such thing", headers={"X-A": "1"}, extra=[1])

    assert response.status_code == 404
    assert response.media_type == "application/problem+json"
    assert response.headers["x-a"] == "1"
    assert json.loads(response.body) == {
        "type": "urn:config-service:problem:thing-not-found",
        "title": "Not Found",
        "status": 404,
        "detail": "No such thing",
        "extra": [1],
    }


def test_a_problem_without_detail_leaves_it_out():
    assert "detail" not in json.loads(problem(405, "method-not-allowed").body)


def test_status_phrases_follow_rfc_9110():
    assert status_phrase(413) == "Content Too Large"
    assert status_phrase(503) == "Service Unavailable"


def test_dotted_paths():
    assert _dotted(["config", "a", 0, "b"]) == "config.a[0].b"
    assert _dotted([]) == ""


def test_field_errors_name_the_field_and_strip_pydantic_prefixes():
    error = {"loc": ("body", "name"), "msg": "Value error, bad", "type": "value_error"}
    assert _field_error("body", ["name"], error).model_dump(by_alias=True) == {
        "in": "body",
        "field": "name",
        "message": "bad",
        "type": "value_error",
    }


def test_malformed_json_points_at_the_character():
    error = {
        "loc": ("body", 7),
        "msg": "JSON decode error",
        "type": "json_invalid",
        "ctx": {"error": "Expecting value"},
    }
    assert _field_error("body", [7], error).model_dump(by_alias=True) == {
        "in": "body",
        "field": "",
        "message": "Malformed JSON at character 7: Expecting value",
        "type": "json_invalid",
    }


@pytest.fixture
def client():
    app = FastAPI()
    install_error_handlers(app)

    class Body(BaseModel):
        n: int

    raising = {
        "taken": ApplicationNameTaken("pay"),
        "missing": ConfigurationNotFound("C1"),
        "down": DatabaseUnavailable("no route to host"),
        "busy": DatabaseBusy(2.5),
        "gone": ClientDisconnect(),
    }

    @app.get("/raise/{kind}")
    async def raise_(kind: str):
        raise raising[kind]

    @app.post("/body")
    async def body(body: Body):
        return body

    with sync_client(app) as test_client:
        yield test_client


@pytest.mark.parametrize(
    ("kind", "status", "code", "retry_after"),
    [
        ("taken", 409, "application-name-taken", None),
        ("missing", 404, "configuration-not-found", None),
        ("down", 503, "database-unavailable", "5"),
        ("busy", 503, "database-unavailable", "1"),
    ],
)
def test_domain_and_database_errors_map_to_statuses(client, kind, status, code, retry_after):
    response = client.get(f"/raise/{kind}")

    assert response.status_code == status
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["type"] == f"urn:config-service:problem:{code}"
    assert response.headers.get("retry-after") == retry_after


def test_validation_errors_are_400_with_every_field(client):
    response = client.post("/body", json={"n": "many"})

    assert response.status_code == 400
    assert response.json() == {
        "type": "urn:config-service:problem:validation-error",
        "title": "Bad Request",
        "status": 400,
        "detail": "The request is invalid: body.n",
        "errors": [
            {
                "in": "body",
                "field": "n",
                "message": "Input should be a valid integer, unable to parse string as an integer",
                "type": "int_parsing",
            }
        ],
    }


def test_a_departed_client_is_logged_as_499_not_500(client):
    response = client.get("/raise/gone")
    assert (response.status_code, response.content) == (499, b"")


def test_framework_http_errors_become_problems(client):
    not_found = client.get("/nowhere")
    not_allowed = client.delete("/body")

    assert not_found.status_code == 404
    assert not_found.json()["type"].endswith(":not-found")
    assert not_allowed.status_code == 405
    assert not_allowed.headers["allow"] == "POST"
    assert not_allowed.headers["content-type"] == "application/problem+json"


@pytest.mark.anyio
async def test_a_body_cut_short_is_the_client_leaving_not_a_bad_body():
    app = FastAPI()
    install_error_handlers(app)

    class Body(BaseModel):
        n: int

    @app.post("/body")
    async def body(body: Body):
        return body

    messages = iter(
        [{"type": "http.request", "body": b'{"n":', "more_body": True}, {"type": "http.disconnect"}]
    )
    sent = []

    async def receive():
        return next(messages)

    async def send(message):
        sent.append(message)

    headers = [(b"content-type", b"application/json"), (b"content-length", b"20")]
    scope = {"type": "http", "method": "POST", "path": "/body", "headers": headers, "query_string": b""}
    await app(scope, receive, send)

    assert sent[0]["status"] == 499  # FastAPI alone would call it a 400, an unparseable body


@pytest.fixture
def two_routes_one_path():
    app = FastAPI()
    install_error_handlers(app)

    @app.get("/things")
    async def list_things():
        return []

    @app.post("/things")
    async def add_thing():
        return {}

    with sync_client(app) as test_client:
        yield test_client


@pytest.mark.parametrize("method", ["OPTIONS", "DELETE", "PUT"])
def test_a_405_allows_every_method_of_the_path_and_says_so(two_routes_one_path, method):
    response = two_routes_one_path.request(method, "/things")

    assert response.status_code == 405
    assert response.headers["allow"] == "GET, POST"  # Starlette alone: the first route's, "GET"
    assert response.json()["detail"] == f"{method} is not a method of /things; its methods are GET, POST"


@pytest.mark.parametrize("path", ["/", "/api", "/nowhere"])
def test_a_path_nobody_serves_points_to_the_api_and_its_docs(client, path):
    response = client.get(path)
    assert response.status_code == 404
    assert response.json()["detail"] == "Nothing here; the API is under /api/v1, its documentation at /docs"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"[" * 100_000 + b"]" * 100_000, "The body is nested too deeply to read"),
        (b'{"n": "\xff"}', "The body is not valid UTF-8"),
    ],
)
def test_an_unreadable_body_is_explained_in_the_request_s_terms(client, body, message):
    response = client.post("/body", content=body, headers={"content-type": "application/json"})
    assert response.status_code == 400
    (error,) = response.json()["errors"]
    assert error["message"] == message  # not "maximum recursion depth exceeded while decoding…"


@pytest.mark.parametrize(
    ("error", "message"),
    [
        ({"type": "dict_type", "msg": "Input should be a valid dictionary"}, "Input should be a JSON object"),
        (
            {
                "type": "model_attributes_type",
                "msg": "Input should be a valid dictionary or object to extract",
            },
            "Input should be a JSON object",
        ),
        ({"type": "list_type", "msg": "Input should be a valid list"}, "Input should be a JSON array"),
        ({"type": "extra_forbidden", "msg": "Extra inputs are not permitted"}, "Unknown field"),
        ({"type": "literal_error", "msg": "Input should be 'a' or 'b'"}, 'Input should be "a" or "b"'),
        ({"type": "dict_type", "msg": "A merge patch is a JSON object"}, "A merge patch is a JSON object"),
    ],
)
def test_pydantic_s_words_become_the_request_s(error, message):
    assert _field_error("body", ["x"], {"loc": ("body", "x")} | error).message == message
