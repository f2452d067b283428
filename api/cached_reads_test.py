"""The fast read path answers exactly as the routes would, and only when it can."""

import logging

import pytest

from main import create_app
from tests.apps import async_client, settings_for
from tests.waiting import wait_until_async

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
