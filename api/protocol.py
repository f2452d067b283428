"""The HTTP protocol the service is served with: uvicorn's httptools protocol, plus four
things uvicorn leaves out, and less memory for each connection.

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

A way for an event stream to write beneath ASGI (DirectBody, offered to the application as
the scope extension DIRECT_BODY). Through ASGI, every event reaches a stream by waking its
task, which sends the frame down through each middleware to uvicorn; with 20,000 idle
streams on one process, that is most of the cost of a change. The change feed's dispatcher
writes an event's frame, already chunk-coded, straight to each stream's connection instead,
and hears of a lost connection from here rather than from a task per stream listening for
`http.disconnect`. The middleware shape a response's head, never an event stream's body, so
nothing is skipped; and whenever a direct write is not the plain case (the client does not
keep up, the response has not begun or has ended), the stream sends through ASGI as usual.

Reads answered from memory without a task. uvicorn runs every request as a task through the
ASGI application; for a read the representation cache answers, that machinery costs more
than the read. The lifespan leaves the fast read path's `answer` in its state under
FAST_ANSWER (main.py, api/cached_reads.py): a request that answers is written at once, in
one write, byte for byte as uvicorn would have written the same response, and its cycle
ends there. What it does not answer, and any request on a connection that is to close or
whose client does not keep up, goes to the application as usual.

Less memory for each connection, since one process holds 20,000 idle streams. uvicorn gives
every connection a deque for pipelined requests and an asyncio.Event for flow control, and
every request another Event; each deque and Event allocates a block of 760 bytes up front,
whether anything ever waits on it or not. Here they are a list and an Event that makes its
list of waiters only when one comes (about 2 KB less for each idle stream).
"""

import asyncio
import json
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from starlette.types import ASGIApp, Scope
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol, RequestResponseCycle

from api.errors import PROBLEM_JSON, PROBLEM_TYPE_PREFIX

if TYPE_CHECKING:
    from api.cached_reads import Answer

# What the application's lifespan state tells the protocol (uvicorn hands that state to
# every connection): the read deadline in seconds, and what to call when shutdown begins.
READ_TIMEOUT_S = "request_read_timeout_s"
ON_SHUTDOWN = "on_server_shutdown"
# And how to answer a request at once, from memory, if it can be (None: it cannot).
FAST_ANSWER = "fast_answer"
# The scope extension by which a response finds the connection it is written to.
DIRECT_BODY = "configsvc.direct_body"

logger = logging.getLogger(__name__)


class ServiceProtocol(HttpToolsProtocol):
    # Not in the instance's dict: uvicorn's own attributes fill the most an instance dict
    # may share its keys for (30), and one more would give every connection a dict of its
    # own, 1.5 KB more for each of 20,000 idle streams.
    __slots__ = ("extensions", "on_lost", "read_deadline", "read_timeout_s", "reading")

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.pipeline = _Pipeline()
        self.read_timeout_s: float | None = self.app_state.get(READ_TIMEOUT_S)
        self.read_deadline: asyncio.TimerHandle | None = None
        self.reading = False  # a request has begun and has not all arrived

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self.flow._is_writable_event = LightEvent(is_set=True)
        self._arm()  # a connection that never sends a request is not held either
        # One per connection, not per request: an idle stream holds little.
        self.extensions = {DIRECT_BODY: {"protocol": self}}
        self.on_lost: Callable[[], None] | None = None

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if not self.reading:
            self._disarm()
        elif self.read_deadline is None:
            self._arm()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self.reading = True

    def on_headers_complete(self) -> None:
        super().on_headers_complete()  # the request's task is made, and runs once this returns
        self.scope["extensions"] = self.extensions
        if self.cycle is not None and self.cycle.scope is self.scope:  # not an upgrade
            self.cycle.message_event = LightEvent()

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self.reading = False

    def _start_asgi_task(self, cycle: RequestResponseCycle, app: ASGIApp) -> None:
        """Where uvicorn starts a request's task, once its head is in (a pipelined one's, once
        the request before it is answered): a read answered from memory needs none."""
        answer_now: Callable[[Scope], Answer | None] | None = self.app_state.get(FAST_ANSWER)
        if answer_now is not None and app is self.app and cycle.keep_alive and not self.flow.write_paused:
            answer = answer_now(cycle.scope)
            if answer is not None:
                self._write_at_once(cycle, answer)
                return
        # A request answered at once just before, in the same read, armed the keep-alive
        # timer, which must not cut this one.
        self._unset_keepalive_if_required()
        super()._start_asgi_task(cycle, app)

    def _write_at_once(self, cycle: RequestResponseCycle, answer: "Answer") -> None:
        """As uvicorn's cycle writes a response of a known length, in one write, not two."""
        content = [STATUS_LINE[answer.status]]
        for name, value in (*self.server_state.default_headers, *answer.headers):
            content += (name, b": ", value, b"\r\n")
        content += (b"\r\n", answer.body)
        cycle.response_started = cycle.response_complete = True
        self.transport.write(b"".join(content))
        self.on_response_complete()  # the keep-alive timer, or the next pipelined request
        answer.sent()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)
        if self.on_lost is not None:
            on_lost, self.on_lost = self.on_lost, None
            on_lost()

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


class LightEvent:
    """asyncio.Event, as uvicorn uses it, with its list of waiters made only when one comes."""

    __slots__ = ("_set", "_waiters")

    def __init__(self, *, is_set: bool = False) -> None:
        self._set = is_set
        self._waiters: list[asyncio.Future] | None = None

    def is_set(self) -> bool:
        return self._set

    def set(self) -> None:
        if self._set:
            return
        self._set = True
        waiters, self._waiters = self._waiters, None
        for waiter in waiters or ():
            if not waiter.done():
                waiter.set_result(True)

    def clear(self) -> None:
        self._set = False

    async def wait(self) -> bool:
        if self._set:
            return True
        waiter = asyncio.get_running_loop().create_future()
        if self._waiters is None:
            self._waiters = []
        self._waiters.append(waiter)
        try:
            return await waiter
        finally:
            if self._waiters is not None and waiter in self._waiters:
                self._waiters.remove(waiter)


class _Pipeline(list):
    """uvicorn's queue of pipelined requests (appendleft, pop), as a list: nearly always empty."""

    def appendleft(self, item: object) -> None:
        self.insert(0, item)


class DirectBody:
    """The body of the response to one request, written straight to its connection, in the
    chunked coding uvicorn gives a streamed response (see the module's docstring)."""

    __slots__ = ("_cycle", "_protocol")

    def __init__(self, protocol: ServiceProtocol, cycle: RequestResponseCycle) -> None:
        self._protocol = protocol
        self._cycle = cycle

    @classmethod
    def of(cls, scope: Scope) -> "DirectBody | None":
        """The response to `scope`'s request, if the server is this protocol's and that
        request is the one its connection is answering; else None."""
        protocol = scope.get("extensions", {}).get(DIRECT_BODY, {}).get("protocol")
        if protocol is None or protocol.cycle is None or protocol.cycle.scope is not scope:
            return None
        return cls(protocol, protocol.cycle)

    @property
    def writable(self) -> bool:
        """Whether a chunk written now goes out as part of this response, at once: it has
        begun, chunked, has not ended, and the client keeps up."""
        cycle = self._cycle
        return (
            cycle.response_started
            and cycle.chunked_encoding is True
            and not cycle.response_complete
            and not cycle.disconnected
            and not cycle.flow.write_paused
            and not cycle.transport.is_closing()
        )

    def write(self, chunk: bytes) -> None:
        """Write `chunk`, already chunk-coded (chunked()); only while writable."""
        self._cycle.transport.write(chunk)

    def when_lost(self, callback: Callable[[], None] | None) -> None:
        """Call `callback` once, should the connection be lost (None: no longer)."""
        self._protocol.on_lost = callback


def chunked(body: bytes) -> bytes:
    """`body` as one chunk of HTTP/1.1's chunked coding, as uvicorn writes it."""
    return b"%x\r\n%b\r\n" % (len(body), body)


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
