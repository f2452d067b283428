import time
from dataclasses import dataclass

from database.pool import Database, PoolStats
from repositories.sql import fetch_one


@dataclass(frozen=True)
class DatabaseHealth:
    round_trip_ms: float
    pool: PoolStats


class HealthService:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def database(self) -> DatabaseHealth:
        """One round trip through the request path; raises DatabaseUnavailable when down."""
        started = time.perf_counter()
        await self._db.read(lambda conn: fetch_one(conn, "SELECT 1"))
        elapsed_ms = (time.perf_counter() - started) * 1000
        return DatabaseHealth(round_trip_ms=round(elapsed_ms, 2), pool=self._db.stats())
