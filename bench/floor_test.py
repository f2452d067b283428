"""The floor app: in-process, it sends the body it is given byte for byte; served by uvicorn
as the suite starts it, it answers over HTTP."""

import importlib.util
import sys
from types import ModuleType

import httpx
import pytest

from tests.server import service_process

pytestmark = pytest.mark.anyio


def fresh_floor() -> ModuleType:
    """bench.floor imported anew, so it reads FLOOR_BODY now; sys.modules keeps its own."""
    spec = importlib.util.find_spec("bench.floor")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


async def get(module: ModuleType, path: str) -> httpx.Response:
    transport = httpx.ASGITransport(app=module.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://floor") as client:
        return await client.get(path)


async def test_it_sends_the_body_it_is_given_as_it_is(tmp_path, monkeypatch):
    body = '{"name": "données",  "spaced":  true}'.encode()  # not re-serialized: spaces kept
    (tmp_path / "response.json").write_bytes(body)
    monkeypatch.setenv("FLOOR_BODY", str(tmp_path / "response.json"))

    response = await get(fresh_floor(), "/floor")

    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.headers["content-length"] == str(len(body))
    assert response.content == body


async def test_without_a_body_it_answers_an_empty_object_on_any_path(monkeypatch):
    monkeypatch.delenv("FLOOR_BODY", raising=False)
    module = fresh_floor()
    for path in ("/floor", "/health"):
        response = await get(module, path)
        assert (response.status_code, response.json()) == (200, {})


def test_it_answers_under_uvicorn_as_the_suite_starts_it(tmp_path):
    (tmp_path / "body.json").write_text('{"ok": 1}')
    env = {"WEB_CONCURRENCY": "1", "FLOOR_BODY": str(tmp_path / "body.json")}
    with service_process(env, command=[sys.executable, "-m", "bench.floor"]) as floor:
        response = httpx.get(f"{floor.url}/floor")
    assert (response.status_code, response.content) == (200, b'{"ok": 1}')
