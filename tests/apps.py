"""Running the application in tests: in-process, through httpx, with its lifespan.

Starlette's TestClient now wants `httpx2`; these helpers use plain httpx's ASGITransport.
"""

from collections.abc import AsyncIterator, Iterator
from contextlib import ExitStack, asynccontextmanager, contextmanager
from functools import partial
from typing import Any

import httpx
from anyio.from_thread import start_blocking_portal
from fastapi import FastAPI

from config.settings import Settings, load_settings


def settings_for(database_url: str, **overrides: object) -> Settings:
    values = {
        "database_url": database_url,
        "migrate_on_start": False,
        "db_min_connections": 1,
        "db_max_connections": 5,
        "allowed_hosts": "testserver",  # the name httpx gives the app it calls in-process
        "_env_file": None,  # a developer's .env must not change what the tests see
    }
    return load_settings(**(values | overrides))


@asynccontextmanager
async def async_client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """An httpx client calling the app in this event loop, with its lifespan run around it."""
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield client


class SyncClient:
    """Blocking calls into an app served by an event loop on a background thread."""

    def __init__(self, portal, client: httpx.AsyncClient) -> None:
        self._portal = portal
        self._client = client

    def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        return self._portal.call(partial(self._client.request, method, url, **kwargs))

    def get(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("GET", url, **kwargs)

    def post(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("POST", url, **kwargs)

    def put(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("PUT", url, **kwargs)

    def patch(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("PATCH", url, **kwargs)

    def delete(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("DELETE", url, **kwargs)


@contextmanager
def sync_client(app: FastAPI) -> Iterator[SyncClient]:
    with ExitStack() as stack:
        portal = stack.enter_context(start_blocking_portal())
        client = stack.enter_context(portal.wrap_async_context_manager(async_client(app)))
        yield SyncClient(portal, client)
