"""End to end: the database goes away while the service runs, and comes back."""

import asyncio
import time

import pytest

from main import create_app
from tests.apps import async_client, settings_for
from tests.postgres import admin_connection
from tests.proxy import FreezableProxy
from tests.waiting import DEADLINE_S, wait_until_async

pytestmark = pytest.mark.anyio


def terminate_connections(database_url: str) -> None:
    with admin_connection(database_url) as conn, conn.cursor() as cursor:
        cursor.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )


async def test_connections_killed_under_the_service_are_replaced_without_errors(database_url):
    app = create_app(settings_for(database_url, db_min_connections=5, db_max_connections=5))
    async with async_client(app) as client:
        app_id = (await client.post("/api/v1/applications", json={"name": "payments"})).json()["id"]

        terminate_connections(database_url)
        responses = await asyncio.gather(*(client.get(f"/api/v1/applications/{app_id}") for _ in range(20)))

    assert {r.status_code for r in responses} == {200}


async def test_a_database_restart_gives_503_while_down_then_service_resumes(database_url, stoppable_postgres):
    settings = settings_for(database_url, db_min_connections=3, db_max_connections=3, db_connect_timeout_s=10)
    app = create_app(settings)
    async with async_client(app) as client:
        app_id = (await client.post("/api/v1/applications", json={"name": "payments"})).json()["id"]

        stoppable_postgres.stop()
        started = time.monotonic()
        down = await client.get(f"/api/v1/applications/{app_id}")
        write = await client.put(f"/api/v1/applications/{app_id}", json={"name": "lost?"})
        assert time.monotonic() - started < 8  # refused at once, not after a 10 s connect timeout

        stoppable_postgres.start_again()

        async def answered():  # the pool waits a moment before connecting again after a failure
            response = await client.get(f"/api/v1/applications/{app_id}")
            return response.status_code == 200 and response

        up = await wait_until_async(answered, what="the service is back")

    assert (down.status_code, write.status_code) == (503, 503)
    assert down.headers["retry-after"]
    assert down.json()["type"].endswith(":database-unavailable")
    assert up.status_code == 200
    assert up.json()["name"] == "payments"


async def test_a_database_that_stops_answering_gets_503_in_bounded_time_not_a_hang(database_url):
    with FreezableProxy(database_url) as proxy:
        settings = settings_for(
            proxy.url,
            db_statement_timeout_ms=300,
            db_connect_timeout_s=1,
            db_acquire_timeout_s=1,
            db_min_connections=2,
            db_max_connections=2,
        )
        app = create_app(settings)
        async with async_client(app) as client:
            app_id = (await client.post("/api/v1/applications", json={"name": "payments"})).json()["id"]

            proxy.freeze()
            started = time.monotonic()
            try:  # bounded here too, so that a regression fails instead of hanging the suite
                responses = await asyncio.wait_for(
                    asyncio.gather(*(client.get(f"/api/v1/applications/{app_id}") for _ in range(4))),
                    DEADLINE_S,
                )
            finally:
                waited = time.monotonic() - started
                proxy.thaw()

            assert {r.status_code for r in responses} == {503}
            assert all(r.headers["retry-after"] for r in responses)
            # The unit deadline (1 + 2 * 0.3 s), plus the queue for the rest (1 s), plus room for
            # a busy CPU; a hang would last as long as the frozen server.
            assert waited < 1 + 2 * 0.3 + 1 + 4

            async def answered():  # once the threads held up by the frozen server are done
                return (await client.get(f"/api/v1/applications/{app_id}")).status_code == 200

            await wait_until_async(answered, what="the service is back")
