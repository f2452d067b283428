"""End to end: the database goes away while the service runs, and comes back."""

import asyncio
import time

import pytest

from main import create_app
from tests.apps import async_client, settings_for
from tests.postgres import admin_connection

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
    app = create_app(settings_for(database_url, db_min_connections=3, db_max_connections=3))
    async with async_client(app) as client:
        app_id = (await client.post("/api/v1/applications", json={"name": "payments"})).json()["id"]

        stoppable_postgres.stop()
        started = time.monotonic()
        down = await client.get(f"/api/v1/applications/{app_id}")
        write = await client.put(f"/api/v1/applications/{app_id}", json={"name": "lost?"})
        assert time.monotonic() - started < 3  # refused at once, not hung

        stoppable_postgres.start_again()
        await asyncio.sleep(1.1)  # the pool waits a moment before connecting again after a failure
        up = await client.get(f"/api/v1/applications/{app_id}")

    assert (down.status_code, write.status_code) == (503, 503)
    assert down.headers["retry-after"]
    assert down.json()["type"].endswith(":database-unavailable")
    assert up.status_code == 200
    assert up.json()["name"] == "payments"
