"""gzip: large bodies compressed for clients that accept it, small ones and streams never."""

import gzip

import httpx
import pytest

from main import create_app
from services import cache
from tests.apps import CHANGES_AT_START, async_client, settings_for
from tests.server import api_client, running_service
from tests.sse import EventStream
from tests.waiting import wait_until_async

pytestmark = pytest.mark.anyio

CONFIGURATIONS = "/api/v1/configurations"
GZIP = {"Accept-Encoding": "gzip"}
IDENTITY = {"Accept-Encoding": "identity"}
# About 4 KB rendered: well over the 1 KB from which bodies are compressed.
LARGE = {f"key_{n:03d}": f"value number {n} of a large configuration" for n in range(80)}


@pytest.fixture
async def api(database_url):
    app = create_app(settings_for(database_url))
    async with async_client(app) as client:
        app_id = (await client.post("/api/v1/applications", json={"name": "payments"})).json()["id"]

        async def new(name: str, config: dict) -> dict:
            body = {"application_id": app_id, "name": name, "config": config}
            return (await client.post(CONFIGURATIONS, json=body, headers=IDENTITY)).json()

        large, small = await new("large", LARGE), await new("small", {"n": 1})
        await wait_until_async(
            lambda: app.state.feed.tail >= CHANGES_AT_START + 3, what="the feed hears of the writes"
        )
        yield app, client, large, small


async def raw(client: httpx.AsyncClient, url: str, headers: dict) -> tuple[httpx.Headers, bytes]:
    """The head and the body as sent: httpx would decompress it."""
    async with client.stream("GET", url, headers=headers) as response:
        return response.headers, b"".join([chunk async for chunk in response.aiter_raw()])


# Headers that differ from one response to the next, however it is answered.
PER_REQUEST = {"x-request-id", "ratelimit-remaining", "ratelimit-reset"}


def head(headers: httpx.Headers) -> list[tuple[str, str]]:
    return [(name, value) for name, value in headers.multi_items() if name not in PER_REQUEST]


async def test_a_large_configuration_is_sent_compressed_alike_by_the_route_and_the_fast_path(api):
    app, client, large, _ = api
    url = f"{CONFIGURATIONS}/{large['id']}"
    plain = (await client.get(url, headers=IDENTITY)).content
    assert len(plain) > 3000

    app.state.cache.drop(("configuration", large["id"]))
    routed_head, routed = await raw(client, url, GZIP)  # a miss: the route answers
    fast_head, fast = await raw(client, url, GZIP)  # from the cache, before routing

    assert routed == fast
    assert gzip.decompress(fast) == plain
    assert head(routed_head) == head(fast_head)
    assert fast_head["content-encoding"] == "gzip"
    assert fast_head["vary"] == "Accept-Encoding"
    assert int(fast_head["content-length"]) == len(fast) < len(plain) / 2
    assert fast_head["etag"] == '"1"'


async def test_a_large_body_is_sent_as_it_is_to_a_client_without_gzip_and_says_it_varies(api):
    app, client, large, _ = api
    url = f"{CONFIGURATIONS}/{large['id']}"
    app.state.cache.drop(("configuration", large["id"]))

    routed_head, routed = await raw(client, url, IDENTITY)
    fast_head, fast = await raw(client, url, IDENTITY)

    assert routed == fast
    assert head(routed_head) == head(fast_head)
    assert "content-encoding" not in fast_head
    assert fast_head["vary"] == "Accept-Encoding"


async def test_a_small_cached_body_is_sent_unchanged_whatever_the_client_accepts(api):
    _, client, _, small = api
    url = f"{CONFIGURATIONS}/{small['id']}"
    await client.get(url)

    gzip_head, gzip_body = await raw(client, url, GZIP)
    plain_head, plain_body = await raw(client, url, IDENTITY)

    assert gzip_body == plain_body
    assert head(gzip_head) == head(plain_head)
    assert "content-encoding" not in gzip_head and "vary" not in gzip_head


async def test_a_cached_body_is_compressed_once_per_version(api, monkeypatch):
    app, client, large, _ = api
    url = f"{CONFIGURATIONS}/{large['id']}"
    compressions = []
    compress = gzip.compress

    def counted(data, *args, **kwargs):
        compressions.append(len(data))
        return compress(data, *args, **kwargs)

    monkeypatch.setattr(cache.gzip, "compress", counted)

    for _ in range(3):
        await client.get(url, headers=GZIP)
    assert len(compressions) == 1
    await client.put(url, json={"config": {**LARGE, "more": 1}}, headers=IDENTITY)
    # Until the feed has heard of it: hearing drops the entry again.
    await wait_until_async(lambda: app.state.feed.tail >= CHANGES_AT_START + 4, what="the feed hears the PUT")
    for _ in range(3):
        assert (await client.get(url, headers=GZIP)).json()["version"] == 2
    assert len(compressions) == 2


async def test_other_large_responses_are_compressed_and_small_ones_not(api):
    _, client, large, _ = api
    app_id = large["application_id"]

    listing_head, listing = await raw(client, f"/api/v1/applications/{app_id}/configurations", GZIP)
    missing_head, _ = await raw(client, f"{CONFIGURATIONS}/01ARZ3NDEKTSV4RRFFQ69G5FAV", GZIP)

    assert listing_head["content-encoding"] == "gzip"
    assert len(gzip.decompress(listing)) > 3000
    assert "content-encoding" not in missing_head


async def test_a_304_stays_empty(api):
    _, client, large, _ = api
    url = f"{CONFIGURATIONS}/{large['id']}"
    await client.get(url)

    response = await client.get(url, headers={**GZIP, "If-None-Match": '"1"'})

    assert response.status_code == 304
    assert response.content == b""
    assert "content-encoding" not in response.headers


def test_event_streams_are_never_compressed_and_each_event_arrives_at_once(database_url):
    env = {"DATABASE_URL": database_url, "LOG_LEVEL": "warning"}
    with (
        running_service(env) as url,
        api_client(url) as client,
        EventStream(f"{url}/api/v1/events", headers=GZIP) as stream,
    ):
        assert stream.status_code == 200
        assert "content-encoding" not in stream.headers
        app_id = client.post("/api/v1/applications", json={"name": "payments"}).json()["id"]
        body = {"application_id": app_id, "name": "large", "config": LARGE}
        client.post(CONFIGURATIONS, json=body)

        # Each arrives while the stream stays open: nothing holds them back to compress.
        events = stream.take(2)

    assert [event["action"] for event in events] == ["application.created", "configuration.created"]
