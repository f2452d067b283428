"""Long polling: GET /configurations/{id}?wait=&version= (or If-None-Match)."""

import asyncio
import time
from collections.abc import Awaitable, Callable

import httpx
import pytest
from prometheus_client import REGISTRY

from main import create_app
from tests.apps import async_client, settings_for
from tests.waiting import wait_until_async

pytestmark = pytest.mark.anyio

CONFIGURATIONS = "/api/v1/configurations"


@pytest.fixture
async def api(database_url):
    app = create_app(settings_for(database_url, max_wait_seconds=5))
    async with async_client(app) as client:
        app_id = (await client.post("/api/v1/applications", json={"name": "payments"})).json()["id"]
        created = await client.post(
            CONFIGURATIONS, json={"application_id": app_id, "name": "db", "config": {"n": 1}}
        )
        yield client, created.json()


def url(configuration: dict) -> str:
    return f"{CONFIGURATIONS}/{configuration['id']}"


def open_long_polls() -> float:
    return REGISTRY.get_sample_value("configsvc_open_watchers", {"kind": "long_poll"})


async def once_held(
    long_polls: list[Awaitable[httpx.Response]], then: Callable[[], Awaitable]
) -> list[httpx.Response]:
    """Send the long polls, wait until the service holds every one, then do `then`: a change
    made before a poll is held would answer it (or, without a version, be missed) at once."""
    before = open_long_polls()
    waiting = [asyncio.ensure_future(poll) for poll in long_polls]
    await wait_until_async(lambda: open_long_polls() >= before + len(waiting), what="the polls are held")
    await then()
    return await asyncio.gather(*waiting)


async def test_a_client_behind_is_answered_at_once(api):
    client, configuration = api
    await client.put(url(configuration), json={"config": {"n": 2}})

    started = time.monotonic()
    response = await client.get(url(configuration), params={"wait": 30, "version": 1})

    assert time.monotonic() - started < 4  # not held: that would last the 4.5-5 s cap, then 304
    assert response.status_code == 200
    assert (response.json()["version"], response.headers["etag"]) == (2, '"2"')


async def test_a_waiting_client_is_woken_by_the_change(api):
    client, configuration = api

    [response] = await once_held(
        [client.get(url(configuration), params={"wait": 30, "version": 1})],
        lambda: client.put(url(configuration), json={"config": {"n": 2}}),
    )

    assert response.status_code == 200  # not the 304 that the end of the wait brings
    assert response.json()["config"] == {"n": 2}
    assert response.headers["etag"] == '"2"'


async def test_a_quiet_wait_ends_with_304_and_the_current_etag(api):
    client, configuration = api
    started = time.monotonic()

    response = await client.get(url(configuration), params={"wait": 0.4, "version": 1})

    assert 0.3 <= time.monotonic() - started < 3  # a little jitter, never more than asked (plus a busy CPU)
    assert response.status_code == 304
    assert response.headers["etag"] == '"1"'
    assert response.content == b""


@pytest.mark.parametrize("anyio_backend", [pytest.param(("asyncio", {"use_uvloop": True}), id="uvloop")])
async def test_quiet_waits_end_with_304_under_uvloop(api):
    # uvicorn serves on uvloop, whose timers may fire a millisecond early.
    client, configuration = api
    responses = await asyncio.gather(
        *(client.get(url(configuration), params={"wait": 0.1, "version": 1}) for _ in range(20))
    )
    assert [r.status_code for r in responses] == [304] * 20


async def test_changes_to_other_configurations_do_not_wake_it(api):
    client, configuration = api
    other = (
        await client.post(
            CONFIGURATIONS,
            json={"application_id": configuration["application_id"], "name": "x", "config": {}},
        )
    ).json()

    [response] = await once_held(
        [client.get(url(configuration), params={"wait": 1, "version": 1})],
        lambda: client.put(url(other), json={"config": {"changed": True}}),
    )

    assert response.status_code == 304


async def test_without_a_version_it_waits_for_the_next_change(api):
    client, configuration = api
    [response] = await once_held(
        [client.get(url(configuration), params={"wait": 30})],
        lambda: client.put(url(configuration), json={"name": "renamed"}),
    )
    assert (response.status_code, response.json()["name"]) == (200, "renamed")


async def test_if_none_match_may_name_the_version(api):
    client, configuration = api
    quiet = await client.get(url(configuration), params={"wait": 0.2}, headers={"If-None-Match": '"1"'})
    behind = await client.get(url(configuration), params={"wait": 30}, headers={"If-None-Match": '"0"'})
    foreign = await client.get(url(configuration), params={"wait": 30}, headers={"If-None-Match": '"abc"'})
    assert (quiet.status_code, behind.status_code, foreign.status_code) == (304, 200, 200)


async def test_deleting_the_configuration_ends_the_wait_with_404(api):
    client, configuration = api
    [response] = await once_held(
        [client.get(url(configuration), params={"wait": 30, "version": 1})],
        lambda: client.delete(url(configuration)),
    )
    assert response.status_code == 404


async def test_deleting_its_application_ends_the_wait_with_404(api):
    client, configuration = api
    [response] = await once_held(
        [client.get(url(configuration), params={"wait": 30, "version": 1})],
        lambda: client.delete(f"/api/v1/applications/{configuration['application_id']}"),
    )
    assert response.status_code == 404


async def test_the_wait_is_capped(database_url):
    app = create_app(settings_for(database_url, max_wait_seconds=0.3))
    async with async_client(app) as client:
        app_id = (await client.post("/api/v1/applications", json={"name": "a"})).json()["id"]
        config_id = (
            await client.post(CONFIGURATIONS, json={"application_id": app_id, "name": "c", "config": {}})
        ).json()["id"]
        started = time.monotonic()
        response = await client.get(f"{CONFIGURATIONS}/{config_id}", params={"wait": 3600, "version": 1})
    assert response.status_code == 304
    assert time.monotonic() - started < 10  # the cap, 0.3 s, not the 3600 s asked (with room for a busy CPU)


@pytest.mark.parametrize(
    ("params", "status"),
    [
        ({"wait": -1}, 400),
        ({"wait": "soon"}, 400),
        ({"version": -1, "wait": 1}, 400),
        ({"version": 2**40}, 400),
    ],
)
async def test_malformed_long_poll_parameters_are_400(api, params, status):
    client, configuration = api
    assert (await client.get(url(configuration), params=params)).status_code == status


async def test_an_unknown_configuration_is_404_at_once(api):
    client, _ = api
    response = await client.get(f"{CONFIGURATIONS}/01ARZ3NDEKTSV4RRFFQ69G5FAV", params={"wait": 30})
    assert response.status_code == 404


async def test_a_hundred_waiting_clients_hold_no_database_connections(database_url):
    app = create_app(settings_for(database_url, db_max_connections=2, max_wait_seconds=30))
    async with async_client(app) as client:
        app_id = (await client.post("/api/v1/applications", json={"name": "a"})).json()["id"]
        config_id = (
            await client.post(CONFIGURATIONS, json={"application_id": app_id, "name": "c", "config": {}})
        ).json()["id"]

        async def pool_is_idle() -> bool:  # the change feed may still be reading the writes above
            pool = (await client.get("/health/db")).json()["pool"]
            return pool["in_use"] == 0 and pool["waiting"] == 0

        async def once_the_pool_is_idle_change_it():
            # Were each held poll to keep a connection, both would stay in use, and 98 queued.
            await wait_until_async(pool_is_idle, what="no connection in use while 100 polls are held")
            await client.put(f"{CONFIGURATIONS}/{config_id}", json={"config": {"n": 2}})

        responses = await once_held(
            [
                client.get(f"{CONFIGURATIONS}/{config_id}", params={"wait": 30, "version": 1})
                for _ in range(100)
            ],
            once_the_pool_is_idle_change_it,
        )

    assert {r.status_code for r in responses} == {200}
