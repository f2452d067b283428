"""The evaluations' fast path: `POST /api/v1/applications/{id}/flags/evaluate` answered at the
front door, when the application's flags are cached.

An evaluation is a read of memory, like a cached configuration (api/cached_reads.py), and
like one it would spend most of its time around the work: FastAPI's routing and dependencies
and every middleware's call. Unlike one it has a body, so it is answered once the body is in,
in ASGI, before FastAPI (main.py), doing only what those would have done to it:

- the Host check (api/hosts.py), and a browser's Origin handed on when CORS is on;
- the body limit: a body without a Content-Length, or beyond the limit, is handed on unread;
- the key: one this process knows, unexpired, that may read and reaches the application,
  counted in its bucket (api/auth.py's Keys), with the RateLimit fields;
- the body read as the route reads it (models/flags.py EvaluationRequest); anything it would
  refuse is handed on, with the body, for the route to explain;
- gzip for an answer of 1 KB or more to a client that accepts it (api/compression.py);
- the request id, the access line and the request metrics (api/middleware.py).

What is handed on after the body was read goes on with the body replayed, untouched. The key's
bucket is counted only for a request answered here, so a request handed on is counted once.
"""

import gzip
import json
import re
import time

from pydantic import ValidationError
from starlette.types import Message, Receive, Scope, Send

from api.auth import Keys
from api.cached_reads import Answer
from api.compression import gzip_accepted
from api.hosts import host_allowed
from api.middleware import REQUEST_ID_HEADER, request_id_of
from models.api_keys import within
from models.flags import EvaluationRequest
from models.ids import normalize_id
from services.cache import COMPRESS_FROM_BYTES, GZIP_LEVEL, RepresentationCache
from services.flags import FlagSet, evaluation_body

_PATH = re.compile(r"/api/v1/applications/([^/]+)/flags/evaluate")
ROUTE = "/api/v1/applications/{application_id}/flags/evaluate"
_JSON_TYPES = (b"application/json", b"application/json; charset=utf-8")


class FastEvaluations:
    def __init__(
        self,
        cache: RepresentationCache,
        keys: Keys,
        host_names: frozenset[bytes] | None,
        cors: bool,
        max_body_bytes: int,
    ) -> None:
        self.cache = cache
        self.keys = keys
        self.host_names = host_names  # None: any Host will do
        self.cors = cors
        self.max_body_bytes = max_body_bytes

    async def answered(self, scope: Scope, receive: Receive, send: Send) -> Receive | None:
        """None once the request is answered here; else the `receive` to hand it on with (its
        body replayed, if it was read), having sent nothing and counted nothing."""
        if scope["type"] != "http" or scope["method"] != "POST" or scope["query_string"]:
            return receive
        match = _PATH.fullmatch(scope["path"])
        if match is None:
            return receive
        started = time.perf_counter()
        sent = scope["headers"]
        headers = dict(sent)
        if len(headers) != len(sent) or not self._plain(headers):
            return receive
        principal = self.keys.known_reader(headers.get(b"authorization"))
        application_id = normalize_id(match[1])
        if principal is None or application_id is None or not within(principal.reach, application_id):
            return receive
        cached = self.cache.get(("flags", application_id), count_miss=False)
        if cached is None or not isinstance(cached.content, FlagSet):
            return receive
        body, more = await _body(receive)
        replay = _replaying(body, more, receive)
        if more is not None:  # the client left, or sent other than its body
            return replay
        try:
            request = EvaluationRequest.model_validate(json.loads(body))
        except (ValueError, ValidationError, RecursionError):
            return replay  # the route says what is wrong with it
        rate_limit = self.keys.admit_reader(principal)
        if rate_limit is None:
            return replay  # AuthMiddleware answers the 429
        results = cached.content.evaluate(request.context, request.flags)
        answer = evaluation_body(results)
        head, answer = _head_and_body(answer, headers.get(b"accept-encoding"))
        request_id = request_id_of(headers.get(REQUEST_ID_HEADER))
        head += [*rate_limit, (REQUEST_ID_HEADER, request_id.encode("ascii"))]
        done = Answer(
            200, head, answer, scope["path"], ROUTE, principal.name, request_id, started, method="POST"
        )
        await send({"type": "http.response.start", "status": 200, "headers": head})
        await send({"type": "http.response.body", "body": answer})
        done.sent()
        return None

    def _plain(self, headers: dict[bytes, bytes]) -> bool:
        """A request that needs nothing decided elsewhere before its body is read."""
        if not host_allowed(headers, self.host_names):
            return False
        if self.cors and b"origin" in headers:
            return False
        if headers.get(b"content-type", b"").lower() not in _JSON_TYPES:
            return False  # the route's 415, or its charset
        length = headers.get(b"content-length")
        return length is not None and length.isdigit() and int(length) <= self.max_body_bytes


async def _body(receive: Receive) -> tuple[bytes, Message | None]:
    """The request's body, and the message that came instead of its end (None: none did)."""
    chunks = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return b"".join(chunks), message
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks), None


def _replaying(body: bytes, interrupted: Message | None, receive: Receive) -> Receive:
    """`receive` as it was before the body was read from it."""
    pending = [{"type": "http.request", "body": body, "more_body": interrupted is not None}]
    if interrupted is not None:
        pending.append(interrupted)

    async def replayed() -> Message:
        return pending.pop(0) if pending else await receive()

    return replayed


def _head_and_body(body: bytes, accept_encoding: bytes | None) -> tuple[list, bytes]:
    """As the route, through the compression middleware, would send it (api/compression.py)."""
    if len(body) >= COMPRESS_FROM_BYTES and gzip_accepted(accept_encoding):
        body = gzip.compress(body, GZIP_LEVEL, mtime=0)
        encoded = [(b"content-encoding", b"gzip"), (b"vary", b"Accept-Encoding")]
        return [
            (b"content-type", b"application/json"),
            (b"content-length", b"%d" % len(body)),
            *encoded,
        ], body
    return [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))], body
