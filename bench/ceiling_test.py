"""The ceiling app, called in-process: the body it is given, as JSON, and a health check."""

import importlib.util
import json
from types import ModuleType

import httpx
import pytest

pytestmark = pytest.mark.anyio


def fresh_ceiling() -> ModuleType:
    """bench.ceiling imported anew, so it reads CEILING_BODY now; sys.modules keeps its own."""
    spec = importlib.util.find_spec("bench.ceiling")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


async def get(module: ModuleType, path: str) -> httpx.Response:
    transport = httpx.ASGITransport(app=module.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://ceiling") as client:
        return await client.get(path)


async def test_it_answers_the_configured_body_as_json(tmp_path, monkeypatch):
    body = {"pool": {"size": 20, "hosts": ["a", "b"]}, "feature": True, "name": "données"}
    (tmp_path / "response.json").write_text(json.dumps(body))
    monkeypatch.setenv("CEILING_BODY", str(tmp_path / "response.json"))

    response = await get(fresh_ceiling(), "/ceiling")

    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.json() == body


async def test_without_a_body_it_answers_an_empty_object(monkeypatch):
    monkeypatch.delenv("CEILING_BODY", raising=False)
    assert (await get(fresh_ceiling(), "/ceiling")).json() == {}


async def test_it_has_a_health_check(monkeypatch):
    monkeypatch.delenv("CEILING_BODY", raising=False)
    response = await get(fresh_ceiling(), "/health")
    assert (response.status_code, response.json()) == (200, {"status": "ok"})
