from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest
from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel

from api.exact_numbers import ExactNumbersRoute
from api.v1 import applications, audit, configurations
from tests.apps import SyncClient, sync_client


class Echo(BaseModel):
    config: dict[str, Any]


router = APIRouter(route_class=ExactNumbersRoute)


@router.post("/echo")
async def echo(body: Echo) -> Echo:
    return body


@router.post("/types")
async def types(request: Request) -> dict[str, Any]:
    return {key: type(value).__name__ for key, value in (await request.json()).items()}


@router.get("/stream")
async def stream() -> StreamingResponse:
    return StreamingResponse(iter([b'"\\u00001\\u0000"']))


@pytest.fixture
def client() -> Iterator[SyncClient]:
    app = FastAPI()
    app.state.settings = SimpleNamespace(unknown_fields="reject", admin_api_key=None)
    app.include_router(router)
    with sync_client(app) as client:
        yield client


def post(client: SyncClient, url: str, body: str):
    return client.post(url, content=body, headers={"content-type": "application/json"})


def test_a_body_is_read_with_its_numbers_exact(client):
    response = post(client, "/types", '{"f": 0.1, "i": 1, "d": 1e-400}')
    assert response.json() == {"f": "float", "i": "int", "d": "ExactNumber"}


def test_a_response_shows_exact_numbers_bare_with_its_length_corrected(client):
    response = post(client, "/echo", '{"config": {"n": 1e-400, "f": 0.5, "s": "\\\\u00001\\\\u0000"}}')

    assert response.text == '{"config":{"n":1E-400,"f":0.5,"s":"\\\\u00001\\\\u0000"}}'
    assert response.headers["content-length"] == str(len(response.content))


def test_a_streamed_response_is_passed_on_untouched(client):
    assert client.get("/stream").text == '"\\u00001\\u0000"'


def test_the_routes_that_answer_stored_json_keep_its_numbers_exact():
    for resource in (configurations, applications, audit):
        assert all(isinstance(route, ExactNumbersRoute) for route in resource.router.routes)
