"""The HTTP protocol the service is served with: uvicorn's httptools protocol, plus two
things uvicorn leaves out.

A deadline for reading a request. uvicorn waits as long as a client likes for a request's
head and body (its only timer is for idle keep-alive connections), so a client sending a
byte a second holds a connection for good, and enough such clients hold them all. Here the
whole of a request must arrive within REQUEST_READ_TIMEOUT_S of its first byte (or of the
connection's opening); else the client gets a 408 and the connection is closed. The timer
is armed only when a read ends with a request unfinished: a request that arrives in one
read, as nearly all do, costs no timer.

Word to the application that the server is stopping. uvicorn asks each connection to
finish (`shutdown`) but tells the application nothing, so a long poll or an event stream
would wait out the grace period and then be cancelled: a 500 and a traceback each. The
application's lifespan leaves a callback in its state under ON_SHUTDOWN (main.py), which
is called as soon as shutdown begins, while the connections can still be answered.
"""

import asyncio
import json
import logging
from collections.abc import Callable

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from api.errors import PROBLEM_JSON, PROBLEM_TYPE_PREFIX

# What the application's lifespan state tells the protocol (uvicorn hands that state to
# every connection): the read deadline in seconds, and what to call when shutdown begins.
READ_TIMEOUT_S = "request_read_timeout_s"
ON_SHUTDOWN = "on_server_shutdown"

logger = logging.getLogger(__name__)


class ServiceProtocol(HttpToolsProtocol):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.read_timeout_s: float | None = self.app_state.get(READ_TIMEOUT_S)
        self.read_deadline: asyncio.TimerHandle | None = None
        self.reading = False  # a request has begun and has not all arrived

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()  # a connection that never sends a request is not held either

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if not self.reading:
            self._disarm()
        elif self.read_deadline is None:
            self._arm()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self.reading = True

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self.reading = False

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def shutdown(self) -> None:
        super().shutdown()
        on_shutdown: Callable[[], None] | None = self.app_state.get(ON_SHUTDOWN)
        if on_shutdown is not None:
            on_shutdown()

    def _arm(self) -> None:
        if self.read_timeout_s is not None:
            self.read_deadline = self.loop.call_later(self.read_timeout_s, self._read_timed_out)

    def _disarm(self) -> None:
        if self.read_deadline is not None:
            self.read_deadline.cancel()
            self.read_deadline = None

    def _read_timed_out(self) -> None:
        self.read_deadline = None
        if self.transport.is_closing():
            return
        if not self.reading:  # opened and never used, as browsers' spare connections are
            self.transport.close()
            return
        client = "{}:{} - ".format(*self.client) if self.client else ""
        logger.info("%sclosed: the request did not arrive within %g s", client, self.read_timeout_s)
        cycle = self.cycle
        # A request's scope is made as it begins, its cycle (the application's part) once its
        # head is in: the cycle of another scope is an earlier request's.
        if cycle is not None and cycle.scope is self.scope:
            if not cycle.response_complete:
                # The application waits for the body: what it sends from now on goes
                # nowhere, and its read of the body ends as if the client had left.
                cycle.disconnected = True
                cycle.message_event.set()
            answerable = not cycle.response_started  # else too late for a status
        else:
            answerable = cycle is None or cycle.response_complete  # nothing else being written
        if answerable:
            self.transport.write(_timed_out(self.read_timeout_s, self.server_state.default_headers))
        self.transport.close()


def _timed_out(timeout_s: float, default_headers: list[tuple[bytes, bytes]]) -> bytes:
    body = json.dumps(
        {
            "type": f"{PROBLEM_TYPE_PREFIX}request-timeout",
            "title": "Request Timeout",
            "status": 408,
            "detail": f"The request did not arrive within {timeout_s:g} s",
        }
    ).encode()
    head = [b"HTTP/1.1 408 Request Timeout\r\n"]
    head += [name + b": " + value + b"\r\n" for name, value in default_headers]
    head += [
        b"content-type: " + PROBLEM_JSON.encode() + b"\r\n",
        b"content-length: " + str(len(body)).encode() + b"\r\n",
        b"connection: close\r\n\r\n",
    ]
    return b"".join(head) + body
