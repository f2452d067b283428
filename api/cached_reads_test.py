"""The fast read path answers exactly as the routes would, and only when it can."""

import asyncio
import logging
from contextlib import asynccontextmanager

import httpx
import pytest
import uvicorn
from prometheus_client.parser import text_string_to_metric_families
from uvicorn.server import ServerState

from api.protocol import FAST_ANSWER, ServiceProtocol
from main import create_app
from tests.apps import ADMIN_KEY, CHANGES_AT_START, async_client, settings_for
from tests.server import api_client, running_service, scraped
from tests.waiting import wait_until, wait_until_async

pytestmark = pytest.mark.anyio

CONFIGURATIONS = "/api/v1/configurations"


@pytest.fixture
async def api(database_url):
    app = create_app(settings_for(database_url))
    async with async_client(app) as client:
        app_id = (await client.post("/api/v1/applications", json={"name": "payments"})).json()["id"]
        body = {"application_id": app_id, "name": "db", "config": {"n": 1}}
        configuration = (await client.post(CONFIGURATIONS, json=body)).json()
        # The bootstrap key's creation, then both writes: once heard, no later event drops them.
        await wait_until_async(lambda: app.state.feed.tail >= 3, what="the feed hears of all three")
        yield app, client, configuration


def cached(app, kind: str, resource_id: str) -> bool:
    return app.state.cache.get((kind, resource_id), count_miss=False) is not None


# Headers that differ from one response to the next, however it is answered.
PER_REQUEST = {"x-request-id", "ratelimit-remaining", "ratelimit-reset"}


def same_head(one, other) -> bool:
    def head(response):
        return [(k, v) for k, v in response.headers.multi_items() if k not in PER_REQUEST]

    return head(one) == head(other)


def fast_answers(app, monkeypatch) -> list[bool]:
    """Whether each request from now on was answered by the fast read path, in order."""
    answers = []
    answered = app.cached_reads.answered

    async def recorded(scope, send):
        answers.append(await answered(scope, send))
        return answers[-1]

    monkeypatch.setattr(app.cached_reads, "answered", recorded)
    return answers


@asynccontextmanager
async def keyless(app):
    """A client of the running app that sends no key (the fixture's sends the admin key)."""
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


def route_unreachable(app, monkeypatch, service: str) -> None:
    async def must_not_be_called(*args):
        raise AssertionError("the route answered a read the cache holds")

    monkeypatch.setattr(getattr(app.state, service), "representation", must_not_be_called)


async def test_a_cached_read_is_answered_byte_for_byte_as_the_route_answers(api, monkeypatch):
    app, client, configuration = api
    url = f"{CONFIGURATIONS}/{configuration['id']}"

    routed = await client.get(url)  # a miss: the route answers, and fills the cache
    assert cached(app, "configuration", configuration["id"])
    route_unreachable(app, monkeypatch, "configurations")
    fast = await client.get(url)

    assert fast.content == routed.content
    assert same_head(fast, routed)
    assert fast.headers["x-request-id"] != routed.headers["x-request-id"]


async def test_a_cached_read_honours_if_none_match(api, monkeypatch):
    app, client, configuration = api
    url = f"{CONFIGURATIONS}/{configuration['id']}"
    routed = await client.get(url, headers={"If-None-Match": '"1"'})
    route_unreachable(app, monkeypatch, "configurations")
    fast = await client.get(url, headers={"If-None-Match": 'W/"1"'})
    stale = await client.get(url, headers={"If-None-Match": '"0"'})

    assert (routed.status_code, fast.status_code, stale.status_code) == (304, 304, 200)
    assert fast.headers["etag"] == routed.headers["etag"] == '"1"'
    assert fast.content == b""


async def test_applications_are_answered_too_and_ids_in_any_case(api, monkeypatch):
    app, client, configuration = api
    routed = await client.get(f"/api/v1/applications/{configuration['application_id']}")
    route_unreachable(app, monkeypatch, "applications")
    fast = await client.get(f"/api/v1/applications/{configuration['application_id'].lower()}")
    assert fast.content == routed.content


async def test_an_application_is_always_answered_in_full_cached_or_not(api, monkeypatch):
    """Its ETag is its own version, which adding or removing a configuration does not
    change: a 304 could hide a new configuration_ids. Conditional GET is for configurations."""
    app, client, configuration = api
    url = f"/api/v1/applications/{configuration['application_id']}"
    matching = {"If-None-Match": '"1"'}

    routed = await client.get(url, headers=matching)  # a miss: the route answers, and fills the cache
    assert cached(app, "application", configuration["application_id"])
    route_unreachable(app, monkeypatch, "applications")
    fast = await client.get(url, headers=matching)
    malformed = await client.get(url, headers={"If-None-Match": "not-an-etag"})

    assert (routed.status_code, fast.status_code, malformed.status_code) == (200, 200, 200)
    assert fast.content == routed.content == malformed.content
    assert routed.json()["configuration_ids"] == [configuration["id"]]
    assert fast.headers["etag"] == routed.headers["etag"] == '"1"'


@pytest.mark.parametrize(
    ("suffix", "headers", "status"),
    [
        ("?wait=0.1&version=1", {}, 304),  # a long poll: the route's business
        ("", {"If-None-Match": "not-an-etag"}, 400),  # the route explains what is wrong
    ],
)
async def test_what_the_fast_path_cannot_answer_goes_to_the_route(api, suffix, headers, status):
    app, client, configuration = api
    url = f"{CONFIGURATIONS}/{configuration['id']}"
    await client.get(url)
    assert cached(app, "configuration", configuration["id"])
    assert (await client.get(url + suffix, headers=headers)).status_code == status


async def test_writes_are_never_answered_from_the_cache(api):
    _, client, configuration = api
    url = f"{CONFIGURATIONS}/{configuration['id']}"
    await client.get(url)
    updated = await client.put(url, json={"config": {"n": 2}})
    assert updated.json()["version"] == 2
    assert (await client.get(url)).json()["version"] == 2


async def test_fast_reads_are_logged_and_counted_under_their_route(api, caplog):
    _, client, configuration = api
    url = f"{CONFIGURATIONS}/{configuration['id']}"
    await client.get(url)
    caplog.set_level(logging.INFO, logger="config_service.access")

    await client.get(url, headers={"X-Actor": "reader"})

    record = [r for r in caplog.records if r.name == "config_service.access"][-1]
    assert (record.route, record.status, record.actor) == (
        "/api/v1/configurations/{configuration_id}",
        200,
        "bootstrap",  # the key's name: what X-Actor claims is no actor
    )


async def test_a_cached_304_is_answered_byte_for_byte_as_the_route_answers(api, monkeypatch):
    app, client, configuration = api
    url = f"{CONFIGURATIONS}/{configuration['id']}"
    app.state.cache.drop(("configuration", configuration["id"]))
    answers = fast_answers(app, monkeypatch)

    routed = await client.get(url, headers={"If-None-Match": '"1"'})  # a miss: the route answers
    fast = await client.get(url, headers={"If-None-Match": '"1"'})

    assert answers == [False, True]
    assert (routed.status_code, fast.status_code) == (304, 304)
    assert fast.content == routed.content == b""
    assert same_head(fast, routed)


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({}, 401),  # no key
        ({"Authorization": "Bearer cs_no-such-key-0000000000000000000000000000000"}, 401),
        ({"Authorization": "Basic dXNlcjpwYXNz"}, 401),
        ({"Authorization": f"Bearer {ADMIN_KEY}", "Host": "rebound.example"}, 400),
    ],
)
async def test_what_the_middleware_must_refuse_it_refuses_cached_or_not(api, monkeypatch, headers, status):
    app, client, configuration = api
    url = f"{CONFIGURATIONS}/{configuration['id']}"
    await client.get(url)
    answers = fast_answers(app, monkeypatch)

    async with keyless(app) as anyone:
        refused = await anyone.get(url, headers=headers)

    assert answers == [False]
    assert refused.status_code == status
    assert refused.headers["content-type"] == "application/problem+json"
    assert refused.headers["x-request-id"]


async def test_a_repeated_header_goes_the_usual_way_and_is_answered_alike(api, monkeypatch):
    app, client, configuration = api
    url = f"{CONFIGURATIONS}/{configuration['id']}"
    fast = await client.get(url)
    answers = fast_answers(app, monkeypatch)

    routed = await client.get(url, headers=[("X-Request-ID", "first"), ("X-Request-ID", "second")])

    assert answers == [False]
    assert routed.content == fast.content
    assert same_head(routed, fast)
    assert routed.headers["x-request-id"] == "first"


async def test_a_key_s_requests_count_in_one_bucket_and_beyond_it_the_middleware_refuses(api, monkeypatch):
    """A burst of 2 at 1 a second: the key's first request is the middleware's (it looks the
    key up), the second the fast path's, and the third is refused by the middleware."""
    app, client, configuration = api
    created = await client.post(
        "/api/v1/api-keys", json={"name": "slow", "scopes": ["read"], "rate_limit_per_second": 1}
    )
    slow = {"Authorization": f"Bearer {created.json()['key']}"}
    url = f"{CONFIGURATIONS}/{configuration['id']}"
    # Once its creation is heard, nothing drops the key the first request looks up.
    await wait_until_async(lambda: app.state.feed.tail >= CHANGES_AT_START + 3, what="the key is heard of")
    answers = fast_answers(app, monkeypatch)

    responses = [await client.get(url, headers=slow) for _ in range(3)]

    assert answers == [False, True, False]
    assert [r.status_code for r in responses] == [200, 200, 429]
    assert [r.headers["ratelimit-remaining"] for r in responses[:2]] == ["1", "0"]
    assert same_head(responses[0], responses[1])
    assert responses[2].headers["content-type"] == "application/problem+json"
    assert int(responses[2].headers["retry-after"]) >= 1


async def reader_key(app, client, url: str) -> dict:
    """A read key, heard of by the feed and used (so this process knows it), and `url` cached."""
    created = (await client.post("/api/v1/api-keys", json={"name": "reader", "scopes": ["read"]})).json()
    await wait_until_async(lambda: app.state.feed.tail >= CHANGES_AT_START + 3, what="the key is heard of")
    headers = {"Authorization": f"Bearer {created['key']}"}
    assert (await client.get("/api/v1/applications", headers=headers)).status_code == 200
    await client.get(url)
    return {"id": created["id"], "headers": headers}


async def test_a_revoked_key_is_refused_at_once_though_the_fast_path_knew_it(api, monkeypatch):
    app, client, configuration = api
    url = f"{CONFIGURATIONS}/{configuration['id']}"
    key = await reader_key(app, client, url)
    answers = fast_answers(app, monkeypatch)

    assert (await client.get(url, headers=key["headers"])).status_code == 200
    assert (await client.delete(f"/api/v1/api-keys/{key['id']}")).status_code == 204
    refused = await client.get(url, headers=key["headers"])

    assert refused.status_code == 401
    assert answers == [True, False, False]  # the read, the revocation, the refusal


async def test_while_deaf_to_changes_no_key_is_taken_on_trust(api, monkeypatch):
    """While the LISTEN connection is down, revocations elsewhere go unheard: the ring forgets
    every key, and so does the fast path (services/keyring.py)."""
    app, client, configuration = api
    url = f"{CONFIGURATIONS}/{configuration['id']}"
    key = await reader_key(app, client, url)
    answers = fast_answers(app, monkeypatch)

    assert (await client.get(url, headers=key["headers"])).status_code == 200
    app.state.keys.ring.suspend()
    assert (await client.get(url, headers=key["headers"])).status_code == 200  # the middleware looks it up
    app.state.keys.ring.resume()

    assert answers == [True, False]


async def test_request_ids_are_echoed_when_safe_and_made_otherwise(api):
    _, client, configuration = api
    url = f"{CONFIGURATIONS}/{configuration['id']}"
    await client.get(url)

    echoed = await client.get(url, headers={"X-Request-ID": "trace-42.a:b"})
    replaced = await client.get(url, headers={"X-Request-ID": "has space"})
    made = [(await client.get(url)).headers["x-request-id"] for _ in range(2)]

    assert echoed.headers["x-request-id"] == "trace-42.a:b"
    assert replaced.headers["x-request-id"] != "has space"
    assert made[0] != made[1]


def request_count(text: str, route: str, status: str) -> float:
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "configsvc_http_requests_total"
        and sample.labels == {"method": "GET", "route": route, "status": status}
    )


async def test_fast_reads_are_counted_under_their_route_and_status(api):
    _, client, configuration = api
    url = f"{CONFIGURATIONS}/{configuration['id']}"
    route = "/api/v1/configurations/{configuration_id}"
    await client.get(url)
    before = (await client.get("/metrics")).text

    for _ in range(3):
        await client.get(url)
    await client.get(url, headers={"If-None-Match": '"1"'})
    after = (await client.get("/metrics")).text

    assert request_count(after, route, "200") - request_count(before, route, "200") == 3
    assert request_count(after, route, "304") - request_count(before, route, "304") == 1


async def test_the_access_line_of_a_fast_read_names_its_request(api, caplog):
    _, client, configuration = api
    url = f"{CONFIGURATIONS}/{configuration['id']}"
    await client.get(url)
    caplog.set_level(logging.INFO, logger="config_service.access")

    await client.get(url, headers={"X-Request-ID": "req-9", "If-None-Match": '"1"'})

    (record,) = [r for r in caplog.records if r.name == "config_service.access"]
    assert (record.method, record.path, record.status, record.request_id) == ("GET", url, 304, "req-9")
    assert record.getMessage().startswith(f"GET {url} 304 ")
    assert record.duration_ms >= 0


async def test_with_cors_a_browser_s_read_goes_through_the_cors_middleware(database_url, monkeypatch):
    origin = "https://ops.example.com"
    app = create_app(settings_for(database_url, cors_origins=origin))
    async with async_client(app) as client:
        app_id = (await client.post("/api/v1/applications", json={"name": "payments"})).json()["id"]
        body = {"application_id": app_id, "name": "db", "config": {"n": 1}}
        url = f"{CONFIGURATIONS}/{(await client.post(CONFIGURATIONS, json=body)).json()['id']}"
        await wait_until_async(lambda: app.state.feed.tail >= CHANGES_AT_START + 2, what="both are heard")
        await client.get(url)
        answers = fast_answers(app, monkeypatch)

        plain = await client.get(url)
        browser = await client.get(url, headers={"Origin": origin})

    assert answers == [True, False]
    assert browser.content == plain.content
    assert browser.headers["access-control-allow-origin"] == origin
    assert "access-control-allow-origin" not in plain.headers


class Transport:
    """Enough of a connection for uvicorn's protocol: what is written to it is kept."""

    def __init__(self) -> None:
        self.written: list[bytes] = []

    def get_extra_info(self, name: str, default=None):
        return {"peername": ("127.0.0.1", 50000), "sockname": ("127.0.0.1", 8000)}.get(name, default)

    def write(self, data: bytes) -> None:
        self.written.append(data)

    def is_closing(self) -> bool:
        return False

    def close(self) -> None:
        pass

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass


async def test_the_server_writes_a_fast_answer_at_once_as_it_would_have_written_it():
    """No task, one write: the bytes uvicorn writes for the same response sent through ASGI."""
    head = [(b"content-type", b"application/json"), (b"content-length", b"7"), (b"etag", b'"1"')]
    sent = []

    class Answer:  # api/cached_reads.py's, as the server sees it
        status, headers, body = 200, head, b'{"n":1}'

        def sent(self) -> None:
            sent.append(self)

    async def application(scope, receive, send):  # the same response, the usual way
        await send({"type": "http.response.start", "status": 200, "headers": head})
        await send({"type": "http.response.body", "body": b'{"n":1}'})

    config = uvicorn.Config(application, http=ServiceProtocol, lifespan="off", log_config=None)
    config.load()
    state = ServerState()
    state.default_headers = [(b"date", b"Thu, 03 Dec 2026 17:00:00 GMT"), (b"server", b"uvicorn")]
    answer = {FAST_ANSWER: lambda scope: Answer() if scope["path"] == "/cached" else None}
    protocol = ServiceProtocol(config, state, answer)
    transport = Transport()
    protocol.connection_made(transport)

    async def response_to(request: bytes) -> list[bytes]:
        transport.written.clear()
        protocol.data_received(request)
        await asyncio.gather(*protocol.tasks)
        return list(transport.written)

    try:
        protocol.data_received(b"GET /cached HTTP/1.1\r\nHost: x\r\n\r\n")
        assert not protocol.tasks and len(sent) == 1
        (at_once,) = transport.written
        usual = await response_to(b"GET /elsewhere HTTP/1.1\r\nHost: x\r\n\r\n")
        # Two in one read: the keep-alive timer the first arms must not run during the second.
        protocol.data_received(b"GET /cached HTTP/1.1\r\nHost: x\r\n\r\nGET /elsewhere HTTP/1.1\r\n\r\n")
        assert protocol.tasks and protocol.timeout_keep_alive_task is None
        await asyncio.gather(*protocol.tasks)
        closing = await response_to(b"GET /cached HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    finally:
        protocol.connection_lost(None)

    assert at_once == b"".join(usual)
    assert at_once.startswith(b"HTTP/1.1 200 OK\r\ndate: ") and at_once.endswith(b'\r\n\r\n{"n":1}')
    assert b"connection: close\r\n" in b"".join(closing)  # the application's way, as uvicorn says it
    assert len(sent) == 2


PER_ANSWER = PER_REQUEST | {"date"}


def test_over_http_a_read_written_at_once_is_the_read_the_application_sends(database_url):
    env = {"DATABASE_URL": database_url, "LOG_LEVEL": "warning"}
    with running_service(env) as url, api_client(url) as client:
        app_id = client.post("/api/v1/applications", json={"name": "payments"}).json()["id"]
        body = {"application_id": app_id, "name": "db", "config": {"n": 1}}
        target = f"{CONFIGURATIONS}/{client.post(CONFIGURATIONS, json=body).json()['id']}"

        def from_the_cache() -> bool:
            before = scraped(url, "configsvc_cache_hits_total")
            client.get(target)
            return scraped(url, "configsvc_cache_hits_total") == before + 1

        wait_until(from_the_cache, what="the configuration is read from the cache")
        at_once = client.get(target, headers={"Accept-Encoding": "gzip", "X-Request-ID": "one"})
        # A connection that is to close is the application's to answer (api/protocol.py).
        usual = client.get(target, headers={"Accept-Encoding": "gzip", "Connection": "close"})

    def head(response):
        return [(k, v) for k, v in response.headers.multi_items() if k not in PER_ANSWER | {"connection"}]

    assert at_once.content == usual.content
    assert head(at_once) == head(usual)
    assert at_once.headers["x-request-id"] == "one"
    assert usual.headers["connection"] == "close"
