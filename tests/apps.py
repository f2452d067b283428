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

# The suite's admin key: every app and service the tests start has it, and every request to
# /api/v1 carries it unless a test says otherwise.
ADMIN_KEY = "cs_the-test-suites-own-admin-key-not-for-production"
AUTHORIZED = {"Authorization": f"Bearer {ADMIN_KEY}"}
# The suite's key for sealing secrets (base64 of 32 bytes): never one a developer's
# $DATA_DIR holds.
SECRETS_KEY = "dGhlIHRlc3Qgc3VpdGUncyBvd24gc2VjcmV0cyBrZXk="
# The changes an app or service started with it has made before a test's own, each with a
# seq on the change feed: the admin key's creation.
CHANGES_AT_START = 1
# What async_client sends unless told: the app's own ADMIN_API_KEY.
AS_ADMIN = object()


def settings_for(database_url: str, **overrides: object) -> Settings:
    values = {
        "database_url": database_url,
        "migrate_on_start": False,
        "db_min_connections": 1,
        "db_max_connections": 5,
        "allowed_hosts": "testserver",  # the name httpx gives the app it calls in-process
        "admin_api_key": ADMIN_KEY,
        "secrets_key": SECRETS_KEY,
        "_env_file": None,  # a developer's .env must not change what the tests see
    }
    return load_settings(**(values | overrides))


@asynccontextmanager
async def async_client(app: FastAPI, key: object = AS_ADMIN) -> AsyncIterator[httpx.AsyncClient]:
    """An httpx client calling the app in this event loop, with its lifespan run around it;
    it sends `key` (by default the app's ADMIN_API_KEY; None: no key) with every request."""
    if key is AS_ADMIN:
        settings = getattr(app.state, "settings", None)  # a bare app of a test's own has none
        admin = settings.admin_api_key if settings else None
        key = admin.get_secret_value() if admin else None
    headers = {} if key is None else {"Authorization": f"Bearer {key}"}
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://testserver", headers=headers
        ) as client:
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
def sync_client(app: FastAPI, key: object = AS_ADMIN) -> Iterator[SyncClient]:
    with ExitStack() as stack:
        portal = stack.enter_context(start_blocking_portal())
        client = stack.enter_context(portal.wrap_async_context_manager(async_client(app, key)))
        yield SyncClient(portal, client)
