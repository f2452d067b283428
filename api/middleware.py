"""Request middleware: the request id and access log, the last-resort 500, body limits.

Plain ASGI middleware (not BaseHTTPMiddleware): they add nothing to a streamed body, and
the request id lives in a context variable for every log line written meanwhile.
"""

import logging
import re
import time
import uuid

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.errors import internal_error, problem
from config.logging import request_id_var

REQUEST_ID_HEADER = b"x-request-id"
# An id sent by a client is echoed only when it is short and cannot forge log lines.
_ACCEPTABLE_REQUEST_ID = re.compile(rb"[A-Za-z0-9._:@/+=-]{1,128}")

access_log = logging.getLogger("config_service.access")
logger = logging.getLogger(__name__)


def _request_id(scope: Scope) -> str:
    for name, value in scope["headers"]:
        if name == REQUEST_ID_HEADER and _ACCEPTABLE_REQUEST_ID.fullmatch(value):
            return value.decode("ascii")
    return uuid.uuid4().hex


class RequestContextMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

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
            duration_ms = round((time.perf_counter() - started) * 1000, 2)
            access_log.info(
                "%s %s %s %.2fms",
                scope["method"],
                scope["path"],
                status,
                duration_ms,
                extra={
                    "method": scope["method"],
                    "path": scope["path"],
                    "status": status,
                    "duration_ms": duration_ms,
                },
            )
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
        if self._declared_length(scope) > self.max_body_bytes:
            await problem(413, "content-too-large", self._detail())(scope, receive, send)
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
    def _declared_length(scope: Scope) -> int:
        for name, value in scope["headers"]:
            if name == b"content-length":
                return int(value) if value.isdigit() else 0
        return 0
