"""An acknowledged write is durable: it survives the database crashing and recovering,
whatever else was being written at the time (issue 12: synchronous_commit stays on)."""

import asyncio

import psycopg2
import pytest

from main import create_app
from tests.apps import async_client, settings_for
from tests.waiting import wait_until_async

pytestmark = pytest.mark.anyio

WRITERS = 4


async def test_no_acknowledged_write_is_lost_when_the_database_crashes(database_url, stoppable_postgres):
    settings = settings_for(database_url, db_min_connections=WRITERS, db_max_connections=WRITERS)
    app = create_app(settings)
    acknowledged: dict[str, list[tuple[int, int]]] = {}
    refused = []
    stop = asyncio.Event()
    async with async_client(app) as client:
        app_id = (await client.post("/api/v1/applications", json={"name": "payments"})).json()["id"]
        for n in range(WRITERS):
            body = {"application_id": app_id, "name": f"c{n}", "config": {"n": 0}}
            acknowledged[(await client.post("/api/v1/configurations", json=body)).json()["id"]] = []

        async def write(configuration_id: str) -> None:
            n = 0
            while not stop.is_set():
                n += 1
                response = await client.put(
                    f"/api/v1/configurations/{configuration_id}", json={"config": {"n": n}}
                )
                if response.status_code == 200:
                    acknowledged[configuration_id].append((response.json()["version"], n))
                else:  # the database is away: refused, never half-done
                    assert response.status_code == 503, response.text
                    refused.append(response)
                    await asyncio.sleep(0.01)

        def each_has(count: int) -> bool:
            return all(len(acks) >= count for acks in acknowledged.values())

        writers = [asyncio.ensure_future(write(configuration_id)) for configuration_id in acknowledged]
        try:
            await wait_until_async(lambda: each_has(20), what="writes before the crash")
            stoppable_postgres.crash()
            await wait_until_async(lambda: refused, what="writes refused while the database is down")
            before_restart = {c: len(acks) for c, acks in acknowledged.items()}
            stoppable_postgres.start_again()
            await wait_until_async(
                lambda: all(len(acknowledged[c]) >= n + 20 for c, n in before_restart.items()),
                what="writes after the restart",
            )
        finally:
            stop.set()
            await asyncio.gather(*writers, return_exceptions=True)

    with psycopg2.connect(database_url) as conn, conn.cursor() as cursor:
        cursor.execute("SELECT configuration_id, version, (config ->> 'n')::int FROM configuration_revisions")
        stored = {(configuration_id, version): n for configuration_id, version, n in cursor.fetchall()}
        cursor.execute("SELECT entity_id, version FROM audit_events WHERE action = 'configuration.updated'")
        events = set(cursor.fetchall())
    for configuration_id, acks in acknowledged.items():
        for version, n in acks:
            assert stored.get((configuration_id, version)) == n, (configuration_id, version)
            assert (configuration_id, version) in events
        # Versions go on without a hole: nothing acknowledged was lost and replaced.
        versions = sorted(v for c, v in stored if c == configuration_id)
        assert versions == list(range(1, len(versions) + 1))
