"""Request middleware: the request id and access log, the last-resort 500, body limits.

Plain ASGI middleware (not BaseHTTPMiddleware): they add nothing to a streamed body, and
the request id lives in a context variable for every log line written meanwhile. The fast
read path (api/cached_reads.py) answers before them, and makes its request id, access line
and metrics with the same functions.
"""

import itertools
import logging
import re
import secrets
import time

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.actor import ANONYMOUS
from api.auth import principal_of
from api.errors import internal_error, problem
from config import metrics
from config.logging import line_time, request_id_var, sole_handler

REQUEST_ID_HEADER = b"x-request-id"
# An id sent by a client is echoed only when it is short and cannot forge log lines.
_ACCEPTABLE_REQUEST_ID = re.compile(rb"[A-Za-z0-9._:@/+=-]{1,128}")

access_log = logging.getLogger("config_service.access")
logger = logging.getLogger(__name__)


# Made ids: a random prefix per process and a counter, unique without a uuid4 per request.
_ID_PREFIX = secrets.token_hex(6)
_id_numbers = itertools.count(1)
# Label values must come from a small set: a client choosing the method must not make series.
_KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
_meters: dict[tuple[str, str, int], tuple] = {}
ACCESS_FORMAT = "%s %s %s %.2fms"


def _request_id(scope: Scope) -> str:
    for name, value in scope["headers"]:
        if name == REQUEST_ID_HEADER and _ACCEPTABLE_REQUEST_ID.fullmatch(value):
            return value.decode("ascii")
    return made_request_id()


def request_id_of(sent: bytes | None) -> str:
    """The id the client sent (the value of its one X-Request-ID), if acceptable, else a new one."""
    if sent is not None and _ACCEPTABLE_REQUEST_ID.fullmatch(sent):
        return sent.decode("ascii")
    return made_request_id()


def made_request_id() -> str:
    return f"{_ID_PREFIX}{next(_id_numbers):08x}"


def _actor(scope: Scope) -> str:
    """The key's name, once api/auth.py has found it (never the key itself)."""
    principal = principal_of(scope)
    return ANONYMOUS if principal is None else principal.name


def request_meter(method: str, route: str, status: int) -> tuple:
    """The request counter and duration histogram of one series. labels() takes a lock and
    builds a key: once per series, not per request."""
    if method not in _KNOWN_METHODS:
        method = "other"
    meter = _meters.get((method, route, status))
    if meter is None:
        labels = (method, route, str(status))
        meter = _meters[method, route, status] = (
            metrics.REQUESTS.labels(*labels),
            metrics.REQUEST_SECONDS.labels(*labels),
        )
    return meter


def _observe(method: str, route: str, status: int, seconds: float) -> None:
    requests, durations = request_meter(method, route, status)
    requests.inc()
    durations.observe(seconds)


def log_access(
    request_id: str, method: str, path: str, route: str, status: int, seconds: float, actor: str
) -> None:
    """The request's access line. When configure_logging's handler is the only one, that
    handler makes and writes it, in batches (config/logging.py): a LogRecord's way through
    the logging module cost more than a whole cached read."""
    handler = sole_handler(access_log, logging.INFO)
    if handler is not None:
        handler.write_later(
            _access_line, (time.time_ns(), request_id, method, path, route, status, seconds, actor)
        )
    elif access_log.isEnabledFor(logging.INFO):
        duration_ms = round(seconds * 1000, 2)
        fields = _access_fields(method, path, route, status, duration_ms, actor)
        fields["request_id"] = request_id
        access_log.info(ACCESS_FORMAT, method, path, status, duration_ms, extra=fields)


def _access_line(formatter: logging.Formatter, parts: tuple) -> str:
    """The line a record of log_access would make, from what log_access put off."""
    time_ns, request_id, method, path, route, status, seconds, actor = parts
    duration_ms = round(seconds * 1000, 2)
    message = ACCESS_FORMAT % (method, path, status, duration_ms)
    fields = (
        _access_fields(method, path, route, status, duration_ms, actor) if formatter.SHOWS_EXTRAS else None
    )
    created, msecs = line_time(time_ns)
    return formatter.line(created, msecs, "INFO", access_log.name, request_id, message, fields)


def _access_fields(method: str, path: str, route: str, status: int, duration_ms: float, actor: str) -> dict:
    return {
        "method": method,
        "path": path,
        "route": route,
        "status": status,
        "duration_ms": duration_ms,
        "actor": actor,
    }


class RequestContextMiddleware:
    def __init__(self, app: ASGIApp, route_templates: dict[int, str] | None = None) -> None:
        self.app = app
        # id(route) -> its full path template: the route in the scope knows only its part.
        self.route_templates = route_templates or {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = _request_id(scope)
        token = request_id_var.set(request_id)
        started = time.perf_counter()
        status = 0

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [
                    *message.get("headers", []),
                    (REQUEST_ID_HEADER, request_id.encode("ascii")),
                ]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception:
            logger.exception("unhandled error in %s %s", scope["method"], scope["path"])
            if status:  # the response has begun; all that is left is to drop the connection
                raise
            await internal_error()(scope, receive, send_with_id)
        finally:
            seconds = time.perf_counter() - started
            # Starlette's own routes and mounts (the OpenAPI document, /static) leave only
            # their endpoint in the scope; FastAPI's routes leave themselves.
            route = self.route_templates.get(id(scope.get("route") or scope.get("endpoint")), "unmatched")
            _observe(scope["method"], route, status, seconds)
            log_access(request_id, scope["method"], scope["path"], route, status, seconds, _actor(scope))
            request_id_var.reset(token)


class BodyLimitMiddleware:
    """Refuse request bodies over `max_body_bytes` with a 413 problem document.

    A declared Content-Length is judged before any of the body is read; a streamed body is
    counted as it arrives. (FastAPI's own `max_body_size` sits outside our middleware and
    replaces the response with plain text, so it is not used.)
    """

    def __init__(self, app: ASGIApp, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = self._declared_length(scope)
        if declared is not None and declared > self.max_body_bytes:
            await problem(413, "content-too-large", self._detail())(scope, receive, send)
            return
        if declared is not None or not self._chunked(scope):
            # A declared length is enforced by the HTTP server; no body at all needs no count.
            await self.app(scope, receive, send)
            return
        received = 0

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > self.max_body_bytes:
                # FastAPI re-raises an HTTPException met while reading the body, so this
                # reaches the handler in api/errors.py.
                raise HTTPException(413, self._detail())
            return message

        await self.app(scope, counting_receive, send)

    def _detail(self) -> str:
        return f"The request body is larger than {self.max_body_bytes} bytes"

    @staticmethod
    def _declared_length(scope: Scope) -> int | None:
        for name, value in scope["headers"]:
            if name == b"content-length":
                return int(value) if value.isdigit() else 0
        return None

    @staticmethod
    def _chunked(scope: Scope) -> bool:
        return any(name == b"transfer-encoding" for name, _ in scope["headers"])
