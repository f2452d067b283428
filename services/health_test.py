import pytest

from services.health import HealthService

pytestmark = pytest.mark.anyio


async def test_database_health_reports_the_round_trip_and_the_pool(database):
    health = await HealthService(database).database()

    assert health.round_trip_ms > 0
    assert health.pool.max_connections == 5
    assert health.pool.in_use == 0
    assert health.pool.idle >= 1
    assert health.pool.waiting == 0
