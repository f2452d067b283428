import io
import json
import logging
import re

import pytest
from fastapi import FastAPI, Request

from api.errors import install_error_handlers
from api.middleware import BodyLimitMiddleware, RequestContextMiddleware, log_access
from config.logging import JsonFormatter, configure_logging, request_id_var, sole_handler
from main import create_app
from tests.apps import ADMIN_KEY, sync_client


@pytest.fixture
def client():
    app = FastAPI()
    install_error_handlers(app)
    app.add_middleware(BodyLimitMiddleware, max_body_bytes=10)
    app.add_middleware(RequestContextMiddleware)

    @app.get("/id")
    async def current_request_id():
        return {"request_id": request_id_var.get()}

    @app.get("/boom")
    async def boom():
        raise RuntimeError("secret internals")

    @app.post("/echo")
    async def echo(request: Request):
        return {"length": len(await request.body())}

    with sync_client(app) as test_client:
        yield test_client


def test_a_request_id_is_made_and_returned(client):
    response = client.get("/id")
    request_id = response.headers["x-request-id"]
    assert re.fullmatch(r"[0-9a-f]{20}", request_id)
    assert response.json() == {"request_id": request_id}
    assert client.get("/id").headers["x-request-id"] != request_id


def test_a_sent_request_id_is_echoed(client):
    response = client.get("/id", headers={"X-Request-ID": "trace-42.a:b"})
    assert response.headers["x-request-id"] == "trace-42.a:b"
    assert response.json() == {"request_id": "trace-42.a:b"}


@pytest.mark.parametrize("sent", ["has space", "x" * 129, "semi;colon", 'quote"', ""])
def test_an_unsafe_request_id_is_replaced(client, sent):
    assert client.get("/id", headers={"X-Request-ID": sent}).headers["x-request-id"] != sent


def test_one_access_line_per_request(client, caplog):
    caplog.set_level(logging.INFO, logger="config_service.access")

    client.get("/id", headers={"X-Request-ID": "req-7"})

    (record,) = [r for r in caplog.records if r.name == "config_service.access"]
    assert (record.method, record.path, record.status) == ("GET", "/id", 200)
    assert record.duration_ms >= 0
    assert record.getMessage().startswith("GET /id 200 ")


def test_an_unexpected_error_is_a_500_problem_without_internals(client, caplog):
    response = client.get("/boom", headers={"X-Request-ID": "req-500"})

    assert response.status_code == 500
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["x-request-id"] == "req-500"
    assert "secret" not in response.text
    assert response.json()["type"].endswith(":internal-error")
    logged = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert "secret internals" in logged[0].exc_text or "secret internals" in str(logged[0].exc_info[1])


def test_a_body_within_the_limit_passes(client):
    assert client.post("/echo", content=b"0123456789").json() == {"length": 10}


def test_a_declared_oversized_body_is_refused_unread(client):
    response = client.post("/echo", content=b"x" * 11)
    assert response.status_code == 413
    assert response.json()["detail"] == "The request body is larger than 10 bytes"


def test_a_streamed_oversized_body_is_refused(client):
    async def chunks():
        yield b"123456"
        yield b"789012"

    response = client.post("/echo", content=chunks())
    assert response.status_code == 413
    assert response.headers["content-type"] == "application/problem+json"


def test_access_lines_name_the_route_template_and_the_actor(settings, caplog):
    """The actor is the key's name (the suite's admin key is the bootstrap key), never the
    X-Actor a client claims, nor the key itself."""
    caplog.set_level(logging.INFO, logger="config_service.access")
    with sync_client(create_app(settings)) as client:
        application = client.post("/api/v1/applications", json={"name": "p"}).json()
        client.get(f"/api/v1/applications/{application['id']}", headers={"X-Actor": "alice"})

    record = [r for r in caplog.records if r.name == "config_service.access"][-1]
    assert (record.route, record.actor, record.status) == (
        "/api/v1/applications/{application_id}",
        "bootstrap",
        200,
    )
    assert ADMIN_KEY not in caplog.text
    assert json.loads(JsonFormatter().format(record))["route"] == "/api/v1/applications/{application_id}"


@pytest.fixture
def configured_logging():
    """configure_logging's handler, writing to a string; the root logger as it was afterwards."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield lambda log_format: _configured(root, log_format)
    root.handlers[:] = handlers
    root.setLevel(level)
    logging.getLogger("uvicorn.access").disabled = False


def _configured(root: logging.Logger, log_format: str) -> io.StringIO:
    configure_logging("INFO", log_format)
    stream = io.StringIO()
    root.handlers[0].setStream(stream)
    return stream


@pytest.mark.parametrize("log_format", ["text", "json"])
def test_an_access_line_written_directly_is_the_line_a_record_makes(configured_logging, log_format):
    """Alone, configure_logging's handler is written to directly; with another beside it (a
    test's caplog), the line goes through the logging module: the same line either way."""
    stream = configured_logging(log_format)
    line = ("req-5", "GET", "/api/v1/x", "/api/v1/x", 200, 0.0001234, "ci")

    assert sole_handler(logging.getLogger("config_service.access"), logging.INFO)
    log_access(*line)
    beside = logging.NullHandler()
    logging.getLogger().addHandler(beside)
    log_access(*line)
    logging.getLogger().removeHandler(beside)

    direct, usual = stream.getvalue().splitlines()
    if log_format == "json":
        direct, usual = json.loads(direct), json.loads(usual)
        assert direct.pop("time") and usual.pop("time")
        assert direct == usual
        assert (direct["request_id"], direct["duration_ms"], direct["actor"]) == ("req-5", 0.12, "ci")
    else:
        assert direct.split(" ", 2)[2] == usual.split(" ", 2)[2]  # all but the time
        assert direct.endswith(" INFO config_service.access [req-5] GET /api/v1/x 200 0.12ms")
