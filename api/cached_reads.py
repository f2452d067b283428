"""The fast read path: cached configurations and applications, answered at the front door.

A read answered from the representation cache does almost nothing, and everything around it
then costs most of the request: FastAPI's routing, parameters and dependencies, each
middleware's call and the wrapper it puts around `send`, even the task the server runs the
request in (bench/README.md). So a plain `GET /api/v1/configurations/{id}` or
`/applications/{id}` whose representation is cached is answered here, before all of them:
the server asks `answer` as soon as a request's head is in, and writes what it gets at once
(api/protocol.py); under any other server, the application asks `answered` before FastAPI
(main.py). Either way, it does only what those would have done to such a read:

- the Host check (api/hosts.py);
- the key: one this process knows, unexpired, that may read and reaches the resource,
  counted in its bucket (api/auth.py's Keys), with the RateLimit fields;
- 200, or 304 for a configuration whose version If-None-Match names; gzip for a body of
  1 KB or more to a client that accepts it, from a copy compressed once per version
  (api/compression.py);
- the request id, the access line and the request metrics (api/middleware.py).

The answer is byte for byte what the route would send through the middleware, and tested
as such. An application is always answered in full, as its route does: its ETag is its own
version, which does not change when a configuration is added or removed, so a 304 could
hide a new `configuration_ids`.

Anything that needs a decision taken elsewhere goes the usual way, untouched: a miss, a
query string (a long poll), another method, a repeated header, a Host not allowed, a
browser's Origin when CORS is on, no key or one to look up, expired, refused, out of reach
or beyond its rate, a malformed If-None-Match. The key's bucket is counted last, and only
for a request answered here, so a request handed on is counted once, by AuthMiddleware.
"""

import re
import time

from starlette.types import Scope, Send

from api.auth import Keys
from api.compression import gzip_accepted
from api.hosts import host_allowed
from api.middleware import REQUEST_ID_HEADER, log_access, request_id_of, request_meter
from models.api_keys import within
from models.ids import normalize_id
from models.preconditions import VersionCondition
from services.cache import Kind, Representation, RepresentationCache

_PATH = re.compile(r"/api/v1/(configurations|applications)/([^/]+)")
_KINDS: dict[str, Kind] = {"configurations": "configuration", "applications": "application"}


class Answer:
    """A response the fast read path made: sent as it is by the server (api/protocol.py) or
    through ASGI (`answered`), after which `sent` writes its access line and counts it."""

    __slots__ = (
        "_actor",
        "_method",
        "_path",
        "_request_id",
        "_route",
        "_started",
        "body",
        "headers",
        "status",
    )

    def __init__(
        self,
        status: int,
        headers: list,
        body: bytes,
        path: str,
        route: str,
        actor: str,
        request_id: str,
        started: float,
        method: str = "GET",
    ) -> None:
        self.status, self.headers, self.body = status, headers, body
        self._path, self._route, self._actor = path, route, actor
        self._request_id, self._started, self._method = request_id, started, method

    def sent(self) -> None:
        seconds = time.perf_counter() - self._started
        requests, durations = request_meter(self._method, self._route, self.status)
        requests.inc()
        durations.observe(seconds)
        log_access(self._request_id, self._method, self._path, self._route, self.status, seconds, self._actor)


class CachedReads:
    def __init__(
        self,
        cache: RepresentationCache,
        keys: Keys,
        routes: dict[Kind, str],
        host_names: frozenset[bytes] | None,
        cors: bool,
    ) -> None:
        self.cache = cache
        self.keys = keys
        # The routes these reads stand in for: their templates, for the access line and metrics.
        self.routes = routes
        self.host_names = host_names  # None: any Host will do
        self.cors = cors  # a request with an Origin then goes through CORSMiddleware

    async def answered(self, scope: Scope, send: Send) -> bool:
        """Answer an ASGI request if it is a plain read of a cached resource; False
        otherwise, having sent nothing and counted nothing."""
        if scope["type"] != "http":
            return False
        answer = self.answer(scope)
        if answer is None:
            return False
        await send({"type": "http.response.start", "status": answer.status, "headers": answer.headers})
        await send({"type": "http.response.body", "body": answer.body})
        answer.sent()
        return True

    def answer(self, scope: Scope) -> Answer | None:
        """The answer to an HTTP request's scope, if it is a plain read of a cached resource
        that needs nothing decided elsewhere; else None, having counted nothing."""
        if scope["method"] != "GET" or scope["query_string"]:
            return None
        match = _PATH.fullmatch(scope["path"])
        if match is None:
            return None
        started = time.perf_counter()
        kind: Kind = _KINDS[match[1]]
        sent = scope["headers"]
        headers = dict(sent)
        if len(headers) != len(sent):
            return None  # which of a repeated header counts is the middleware's to say
        if not host_allowed(headers, self.host_names):
            return None
        if self.cors and b"origin" in headers:
            return None
        principal = self.keys.known_reader(headers.get(b"authorization"))
        if principal is None:
            return None
        resource_id = normalize_id(match[2])
        cached = None if resource_id is None else self.cache.get((kind, resource_id), count_miss=False)
        if cached is None or not within(principal.reach, cached.application_id):
            return None  # the route answers 404 for what the key does not reach
        not_modified = False
        if kind == "configuration" and (if_none_match := headers.get(b"if-none-match")) is not None:
            try:
                condition = VersionCondition.parse(if_none_match.decode("latin-1"))
            except ValueError:
                return None  # the route explains the 400
            not_modified = condition.matches_weakly(cached.version)
        rate_limit = self.keys.admit_reader(principal)
        if rate_limit is None:
            return None  # AuthMiddleware answers the 429
        request_id = request_id_of(headers.get(REQUEST_ID_HEADER))
        tail = [*rate_limit, (REQUEST_ID_HEADER, request_id.encode("ascii"))]
        if not_modified:
            status, head, body = 304, cached.not_modified_headers, b""
        else:
            status = 200
            head, body = _head_and_body(cached, headers.get(b"accept-encoding"))
        head = [*head, *tail]
        return Answer(
            status, head, body, scope["path"], self.routes[kind], principal.name, request_id, started
        )


def _head_and_body(cached: Representation, accept_encoding: bytes | None) -> tuple[list, bytes]:
    """As the route, through the compression middleware, would send it (api/compression.py)."""
    if not cached.compressible:  # the common case: one length check, no header scan
        return cached.headers, cached.body
    if gzip_accepted(accept_encoding):
        return cached.gzipped
    return cached.uncompressed_headers, cached.body
