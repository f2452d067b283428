"""End to end: what the representation cache promises readers (see services/cache.py)."""

import asyncio
import time

import pytest

from config import metrics
from main import create_app
from tests.apps import CHANGES_AT_START, async_client, settings_for
from tests.postgres import admin_connection
from tests.server import api_client, running_service, scraped
from tests.waiting import DEADLINE_S, wait_until_async

pytestmark = pytest.mark.anyio

CONFIGURATIONS = "/api/v1/configurations"


async def create(client) -> dict:
    app_id = (await client.post("/api/v1/applications", json={"name": "payments"})).json()["id"]
    body = {"application_id": app_id, "name": "db", "config": {"n": 1}}
    return (await client.post(CONFIGURATIONS, json=body)).json()


def hits() -> float:
    return metrics.CACHE_HITS._value.get()


async def settled(app, changes: int) -> None:
    """Until the feed has heard of the test's writes so far: until then, a read's fill may
    be refused, rightly, by the drop that hearing of them brings."""
    await wait_until_async(
        lambda: app.state.feed.tail >= CHANGES_AT_START + changes, what=f"the feed hears of {changes} writes"
    )


async def test_reads_are_served_from_the_cache_and_writes_are_seen_at_once(database_url):
    app = create_app(settings_for(database_url))
    async with async_client(app) as client:
        configuration = await create(client)
        await settled(app, 2)
        url = f"{CONFIGURATIONS}/{configuration['id']}"
        first = await client.get(url)
        before = hits()
        second = await client.get(url)
        assert hits() == before + 1
        assert second.content == first.content
        assert second.headers["etag"] == first.headers["etag"] == '"1"'

        await client.put(url, json={"config": {"n": 2}})
        after_write = await client.get(url)
        application = await client.get(f"/api/v1/applications/{configuration['application_id']}")
        await client.delete(url)
        after_delete = await client.get(url)
        application_after = await client.get(f"/api/v1/applications/{configuration['application_id']}")

    assert (after_write.json()["config"], after_write.headers["etag"]) == ({"n": 2}, '"2"')
    assert application.json()["configuration_ids"] == [configuration["id"]]
    assert after_delete.status_code == 404
    assert application_after.json()["configuration_ids"] == []


async def test_a_listener_reconnect_empties_the_cache(database_url):
    app = create_app(settings_for(database_url))
    async with async_client(app) as client:
        configuration = await create(client)
        await settled(app, 2)
        url = f"{CONFIGURATIONS}/{configuration['id']}"
        await client.get(url)
        with admin_connection(database_url) as conn, conn.cursor() as cursor:
            # A change no notification tells of: the cache keeps serving what it has...
            cursor.execute(
                "UPDATE configurations SET name = 'changed behind its back' WHERE id = %s",
                (configuration["id"],),
            )
            assert (await client.get(url)).json()["name"] == "db"
            # ...until the LISTEN connection is lost: then nothing cached can be trusted.
            cursor.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE application_name = 'config-service-listener' AND datname = current_database()"
            )
        async with asyncio.timeout(DEADLINE_S):
            while (await client.get(url)).json()["name"] != "changed behind its back":
                await asyncio.sleep(0.02)
        before = hits()
        async with asyncio.timeout(DEADLINE_S):  # back in use once the listener is back
            while hits() == before:
                await client.get(url)
                await asyncio.sleep(0.02)
        assert app.state.feed.tail >= CHANGES_AT_START + 2


def test_a_write_through_another_process_reaches_this_ones_cache_within_moments(database_url):
    # The reads below come as fast as the reader answers: beyond any default rate of the key.
    env = {"DATABASE_URL": database_url, "LOG_LEVEL": "warning", "RATE_LIMIT_PER_SECOND": "100000"}
    with running_service(env) as writer, running_service(env) as reader, api_client() as http:
        app_id = http.post(f"{writer}/api/v1/applications", json={"name": "payments"}).json()["id"]
        body = {"application_id": app_id, "name": "db", "config": {"n": 1}}
        config_id = http.post(f"{writer}{CONFIGURATIONS}", json=body).json()["id"]
        url = f"{reader}{CONFIGURATIONS}/{config_id}"

        # Read until the reader answers from its cache (a fill is refused while the reader
        # has not yet heard of the writes above): what the write must then reach.
        deadline = time.monotonic() + DEADLINE_S
        while True:
            before = scraped(reader, "configsvc_cache_hits_total")
            assert http.get(url).json()["version"] == 1
            if scraped(reader, "configsvc_cache_hits_total") == before + 1:
                break
            assert time.monotonic() < deadline, "the reader never served the configuration from its cache"
            time.sleep(0.01)

        http.put(f"{writer}{CONFIGURATIONS}/{config_id}", json={"config": {"n": 2}})
        written = time.monotonic()
        while http.get(url).json()["version"] != 2:
            # Under a second on an idle machine. The bound leaves room for a busy one, and stays
            # under the 10 s poll that would bring the change had the notification been lost.
            assert time.monotonic() - written < 5, "the reader kept serving the old version"
            time.sleep(0.005)


async def test_an_applications_id_in_a_configurations_url_is_not_found(database_url):
    app = create_app(settings_for(database_url))
    async with async_client(app) as client:
        configuration = await create(client)
        await settled(app, 2)
        application_url = f"/api/v1/applications/{configuration['application_id']}"
        assert (await client.get(application_url)).status_code == 200  # now cached
        assert (await client.get(application_url)).status_code == 200
        wrong = await client.get(f"{CONFIGURATIONS}/{configuration['application_id']}")
    assert wrong.status_code == 404
