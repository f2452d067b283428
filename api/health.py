"""Liveness (is the process serving?) and readiness (can it reach the database?)."""

from dataclasses import asdict

from fastapi import APIRouter

from api.deps import Health
from api.errors import problem_responses
from api.strict import StrictRoute

router = APIRouter(prefix="/health", tags=["health"], route_class=StrictRoute)


@router.get("")
async def liveness() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/db", responses=problem_responses(503))
async def readiness(health: Health) -> dict:
    status = await health.database()
    return {"status": "ok", "round_trip_ms": status.round_trip_ms, "pool": asdict(status.pool)}
