"""The fast read path: cached configurations and applications, answered before routing.

A read answered from the representation cache does almost nothing, and FastAPI's routing,
parameter and dependency machinery then cost most of the request (bench/README.md). So a
plain `GET /api/v1/configurations/{id}` or `/applications/{id}` whose representation is
cached is answered here, byte for byte what the route would answer: 200, or 304 for a
configuration whose version If-None-Match names. An application is always answered in full,
as its route does: its ETag is its own version, which does not change when a configuration
is added or removed, so a 304 could hide a new `configuration_ids`. Anything else (a miss,
a query string such as a long poll's, another method, a configuration read with a malformed
If-None-Match) goes on to the application, which answers as usual and fills the cache.
A body of 1 KB or more goes gzip-compressed to a client that accepts it, as the compression
middleware further in would send it, from a copy compressed once per version.
"""

import re

from starlette.types import ASGIApp, Receive, Scope, Send

from api.auth import principal_of
from api.compression import accepts_gzip
from models.api_keys import within
from models.ids import normalize_id
from models.preconditions import VersionCondition
from services.cache import Kind, Representation, RepresentationCache

_PATH = re.compile(r"/api/v1/(configurations|applications)/([^/]+)")
_KINDS: dict[str, Kind] = {"configurations": "configuration", "applications": "application"}


class CachedReadsMiddleware:
    def __init__(self, app: ASGIApp, cache: RepresentationCache, routes: dict[Kind, object]) -> None:
        self.app = app
        self.cache = cache
        # The routes these reads stand in for, put in the scope for the access log and metrics.
        self.routes = routes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "GET" and not scope["query_string"]:
            match = _PATH.fullmatch(scope["path"])
            if match is not None and await self._answer(scope, send, _KINDS[match[1]], match[2]):
                return
        await self.app(scope, receive, send)

    async def _answer(self, scope: Scope, send: Send, kind: Kind, raw_id: str) -> bool:
        resource_id = normalize_id(raw_id)
        cached = None if resource_id is None else self.cache.get((kind, resource_id), count_miss=False)
        if cached is None:
            return False
        principal = principal_of(scope)
        if principal is None or not within(principal.reach, cached.application_id):
            return False  # the route answers 404 for what the key does not reach
        if_none_match = _header(scope, b"if-none-match") if kind == "configuration" else None
        if if_none_match is not None:
            try:
                condition = VersionCondition.parse(if_none_match)
            except ValueError:
                return False  # the route explains the 400
            if condition.matches_weakly(cached.version):
                scope["route"] = self.routes[kind]
                await send(
                    {"type": "http.response.start", "status": 304, "headers": cached.not_modified_headers}
                )
                await send({"type": "http.response.body", "body": b""})
                return True
        scope["route"] = self.routes[kind]
        headers, body = _head_and_body(cached, scope)
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})
        return True


def _head_and_body(cached: Representation, scope: Scope) -> tuple[list[tuple[bytes, bytes]], bytes]:
    """As the route, through the compression middleware, would send it (api/compression.py)."""
    if not cached.compressible:  # the common case: one length check, no header scan
        return cached.headers, cached.body
    if accepts_gzip(scope):
        return cached.gzipped
    return cached.uncompressed_headers, cached.body


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            return value.decode("latin-1")
    return None
