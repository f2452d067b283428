"""End to end: many clients at once against a small pool."""

import asyncio
from collections import Counter

import pytest

from main import create_app
from tests.apps import async_client, settings_for
from tests.waiting import DEADLINE_S

pytestmark = pytest.mark.anyio


@pytest.fixture
def app(database_url):
    return create_app(settings_for(database_url, db_max_connections=5))


async def test_racing_creates_of_one_application_name_yield_one_201(app):
    async with async_client(app) as client:
        responses = await asyncio.gather(
            *(client.post("/api/v1/applications", json={"name": "payments"}) for _ in range(30))
        )
        listed = (await client.get("/api/v1/applications")).json()

    assert Counter(r.status_code for r in responses) == {201: 1, 409: 29}
    assert len(listed) == 1


async def test_racing_creates_and_renames_of_one_configuration_name_yield_one_winner(app):
    async with async_client(app) as client:
        app_id = (await client.post("/api/v1/applications", json={"name": "payments"})).json()["id"]
        others = [
            (
                await client.post(
                    "/api/v1/configurations",
                    json={"application_id": app_id, "name": f"other-{i}", "config": {}},
                )
            ).json()["id"]
            for i in range(10)
        ]
        creates = [
            client.post("/api/v1/configurations", json={"application_id": app_id, "name": "db", "config": {}})
            for _ in range(10)
        ]
        renames = [client.put(f"/api/v1/configurations/{i}", json={"name": "db"}) for i in others]
        responses = await asyncio.gather(*creates, *renames)
        names = [
            c["name"] for c in (await client.get(f"/api/v1/applications/{app_id}/configurations")).json()
        ]

    statuses = Counter(r.status_code for r in responses)
    assert statuses[409] == 19
    assert statuses[201] + statuses[200] == 1
    assert names.count("db") == 1
    assert len(names) == 11  # nothing lost, nothing half-written


async def test_two_hundred_concurrent_requests_on_a_pool_of_five_give_no_5xx(app):
    async with async_client(app) as client:
        app_id = (await client.post("/api/v1/applications", json={"name": "payments"})).json()["id"]
        config = (
            await client.post(
                "/api/v1/configurations", json={"application_id": app_id, "name": "db", "config": {"n": 0}}
            )
        ).json()

        def request(i: int):
            if i % 4 == 0:
                return client.put(f"/api/v1/configurations/{config['id']}", json={"config": {"n": i}})
            if i % 4 == 1:
                return client.post("/api/v1/applications", json={"name": f"app-{i}"})
            if i % 4 == 2:
                return client.get(f"/api/v1/applications/{app_id}/configurations")
            return client.get(f"/api/v1/configurations/{config['id']}")

        responses = await asyncio.gather(*(request(i) for i in range(200)))
        # No connection leaked: the pool goes quiet (the change feed may still be reading).
        async with asyncio.timeout(DEADLINE_S):
            while (pool := (await client.get("/health/db")).json()["pool"])["in_use"]:
                await asyncio.sleep(0.05)

    assert Counter(r.status_code for r in responses) == {200: 150, 201: 50}
    assert pool["waiting"] == 0


async def test_swapping_two_names_at_once_never_fails_with_a_5xx(app):
    """Each rename waits on the other's new index entry: a deadlock, which is retried."""
    async with async_client(app) as client:
        statuses = Counter()
        for round_ in range(40):
            a = (await client.post("/api/v1/applications", json={"name": f"a{round_}"})).json()["id"]
            b = (await client.post("/api/v1/applications", json={"name": f"b{round_}"})).json()["id"]
            responses = await asyncio.gather(
                client.put(f"/api/v1/applications/{a}", json={"name": f"b{round_}"}),
                client.put(f"/api/v1/applications/{b}", json={"name": f"a{round_}"}),
            )
            statuses.update(r.status_code for r in responses)

    assert set(statuses) <= {200, 409}
