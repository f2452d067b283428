"""The /api/v1 routes, in the order a request is matched against them.

Each resource router is included on its own, hottest first: FastAPI matches nested
routers level by level, and with one more level a cached read spent half its time routing.
"""

from fastapi import FastAPI

from api import ofrep
from api.v1 import api_keys, applications, audit, configurations, events, flags, schemas

PREFIX = "/api/v1"
ROUTERS = (
    configurations.router,
    applications.router,
    flags.router,
    ofrep.router,
    events.router,
    schemas.router,
    audit.router,
    api_keys.router,
)


def include_api_v1(app: FastAPI) -> None:
    for router in ROUTERS:
        app.include_router(router, prefix=PREFIX)
