"""Following an application's changes over the service's event stream, for good.

A watch holds one Server-Sent Events connection to GET /api/v1/events?application_id=...
and, for each change of a configuration it watches, re-reads that configuration (which
updates the client's in-memory and last-known-good copies) before it tells the callback: so
a callback that reads through the client sees the change too.

It never gives up until stopped. After any end of the stream (the service restarting, a
proxy cutting an idle connection, a refused connection, a failed re-read) it waits (the
client's RetryPolicy's backoff with jitter, never less than the `retry:` the service asked
for) and resumes with `Last-Event-ID`: the service replays what was missed, so every change
reaches the callback once, in order.

The service names where a stream begins in its opening (an `id:` line without data), which
the parser takes as the resume point, as EventSource does: so a watch cut off before any
change came resumes from there too, and misses none made while it was away.
"""

import asyncio
import inspect
import logging
import math
import socket
import threading
import traceback
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager, suppress
from dataclasses import dataclass
from types import TracebackType
from typing import TYPE_CHECKING, Any

import httpx
import pydantic

from config_service_client.errors import ProblemError, ServiceUnreachable, not_found, problem_error
from config_service_client.models import ChangeEvent, Configuration
from config_service_client.retry import RetryPolicy
from config_service_client.sse import EventStreamParser, ServerSentEvent

if TYPE_CHECKING:
    from config_service_client.client import AsyncConfigClient, ConfigClient

logger = logging.getLogger(__name__)

EVENTS_PATH = "/api/v1/events"
APPLICATIONS_PATH = "/api/v1/applications"
# The service sends a heartbeat every 15 s (SSE_HEARTBEAT_SECONDS) by default. A read that
# waits this long means the connection is dead (a peer gone without a word, a silent proxy):
# it is dropped and resumed. A service set to beat less often costs a harmless resume.
READ_TIMEOUT_S = 60.0


@dataclass(frozen=True)
class Change:
    """A change of a watched configuration: the event, and the configuration as re-read
    after it (None when it no longer exists)."""

    event: ChangeEvent
    configuration: Configuration | None


class _Follower:
    """What the sync and async watches share: where to resume, which changes they want and
    how long to wait before the next connection. No I/O."""

    def __init__(self, application: str, name: str | None, retry: RetryPolicy, after: int | None) -> None:
        self.application = application
        self.name = name
        self.retry = retry
        self.last_seq = after
        # Resolved by the watch itself, with one request per try: the client's own lookup
        # retries until its deadline, and stop() would wait for that.
        self.application_id: str | None = None
        self.failures = 0  # connections in a row that did not open
        self.floor_s = 0.0  # the service's `retry:`, once it has sent one
        self.outage_told = False  # warned of the stream being lost, not yet of its return

    def lookup(self) -> tuple[str, dict[str, str]]:
        return APPLICATIONS_PATH, {"name": self.application}

    def found(self, response: httpx.Response) -> str:
        if response.status_code >= 400:
            raise problem_error(response)
        items = response.json()
        found = next(
            (item for item in items if isinstance(item, dict) and item.get("name") == self.application), None
        )
        if found is None:
            raise not_found("application", f"No application is named {self.application!r}")
        self.application_id = str(found["id"])
        return self.application_id

    def stream_request(self) -> tuple[str, dict[str, str], dict[str, str]]:
        assert self.application_id is not None
        headers = {"Accept": "text/event-stream", "Cache-Control": "no-cache"}
        if self.last_seq is not None:
            headers["Last-Event-ID"] = str(self.last_seq)
        return EVENTS_PATH, {"application_id": self.application_id}, headers

    def parser(self) -> EventStreamParser:
        return EventStreamParser("" if self.last_seq is None else str(self.last_seq))

    def change_of(self, sse: ServerSentEvent) -> ChangeEvent | None:
        try:
            return ChangeEvent.model_validate_json(sse.data)
        except pydantic.ValidationError:
            # Not a change this client understands; its seq still moves the resume point on.
            logger.warning("watch of %s: skipped an event it cannot read (id %r)", self.application, sse.id)
            return None

    def wants(self, event: ChangeEvent) -> bool:
        return event.entity_type == "configuration" and (self.name is None or event.name == self.name)

    def seen(self, sse: ServerSentEvent, event: ChangeEvent | None) -> bool:
        """Note `event` (of `sse`) as handled; False when the stream must be opened again."""
        self.last_seq = event.seq if event is not None else _seq(sse.id, self.last_seq)
        if (
            event is not None
            and event.action == "application.deleted"
            and event.entity_id == self.application_id
        ):
            # The name may be given to a new application: follow that one from here on.
            logger.warning("watch of %s: the application was deleted; following its name", self.application)
            self.application_id = None
            return False
        return True

    def batch_done(self, parser: EventStreamParser) -> None:
        """Every event dispatched so far is handled: an `id:` the service sent without an
        event (a resume point on a stream with nothing for this watch) can be taken now."""
        self.last_seq = _seq(parser.last_event_id, self.last_seq)

    def stream_ended(self, parser: EventStreamParser | None) -> None:
        """Whatever ended it: `parser` is None when the stream never opened."""
        if parser is None:
            self.failures += 1
            return
        self.failures = 0
        if parser.retry_ms is not None:
            self.floor_s = parser.retry_ms / 1000

    def delay_s(self, retry_after: str | None) -> float:
        backoff = self.retry.delay(self.failures, retry_after, math.inf)
        return max(backoff, self.floor_s)

    def log_lost(self, error: BaseException | None, delay_s: float) -> None:
        # Once per outage: then quiet until the stream is back, however long it takes.
        level = logging.DEBUG if self.outage_told else logging.WARNING
        self.outage_told = True
        why = "it ended" if error is None else f"{type(error).__name__}: {error}"
        logger.log(
            level,
            "watch of %s: no event stream (%s); resuming after seq %s in %.1f s",
            self.application,
            why,
            self.last_seq,
            delay_s,
        )

    def log_connected(self) -> None:
        if self.outage_told:
            self.outage_told = False
            logger.info("watch of %s: event stream open again, after seq %s", self.application, self.last_seq)


def _seq(event_id: str, otherwise: int | None) -> int | None:
    return int(event_id) if event_id.isascii() and event_id.isdigit() else otherwise


def _log_callback_failure(follower: _Follower, event: ChangeEvent, error: BaseException) -> None:
    # Where it failed, not what it said: a message may quote the configuration's values.
    where = "".join(traceback.format_tb(error.__traceback__))
    logger.error(
        "watch of %s: the callback raised %s on %s of %r (seq %d); the watch goes on\n%s",
        follower.application,
        type(error).__name__,
        event.action,
        event.name,
        event.seq,
        where,
    )


def _retry_after(error: BaseException | None) -> str | None:
    if isinstance(error, ServiceUnreachable):
        error = error.last_error
    return error.retry_after if isinstance(error, ProblemError) else None


def _stream_timeout(http_timeout: httpx.Timeout, read_timeout_s: float | None) -> httpx.Timeout:
    return httpx.Timeout(
        connect=http_timeout.connect, read=read_timeout_s, write=http_timeout.write, pool=http_timeout.pool
    )


class Watch:
    """A watch on a daemon thread: `ConfigClient.watch(...)` makes one, started."""

    def __init__(
        self,
        client: "ConfigClient",
        application: str,
        name: str | None,
        callback: Callable[[Change], None],
        *,
        read_timeout_s: float | None = READ_TIMEOUT_S,
        after: int | None = None,
    ) -> None:
        self._client = client
        self._callback = callback
        self._read_timeout_s = read_timeout_s
        self._follower = _Follower(application, name, client._retry, after)
        self._stopping = threading.Event()
        self._connected = threading.Event()
        self._lock = threading.Lock()  # guards _response between the thread and stop()
        self._response: httpx.Response | None = None
        self._thread = threading.Thread(
            target=self._run, name=f"config-service-watch:{application}", daemon=True
        )
        self._thread.start()

    @property
    def last_seq(self) -> int | None:
        """The seq of the last change handled (or passed over): where the watch resumes."""
        return self._follower.last_seq

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    @property
    def running(self) -> bool:
        """False once the watch has ended (after stop())."""
        return self._thread.is_alive()

    def wait_connected(self, timeout: float | None = None) -> bool:
        """Whether the stream is open, waiting up to `timeout` s for it. Changes committed
        after this returns True reach the callback."""
        return self._connected.wait(timeout)

    def stop(self, timeout: float | None = None) -> None:
        """End the watch; wait up to `timeout` s (None: as long as it takes) for its thread.
        An idle stream or a backoff ends at once; a re-read or a callback under way is
        finished first."""
        self._stopping.set()
        with self._lock:
            if self._response is not None:
                _interrupt(self._response)
        if threading.current_thread() is not self._thread:  # a callback may stop its own watch
            self._thread.join(timeout)

    def __enter__(self) -> "Watch":
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def _run(self) -> None:
        follower = self._follower
        while not self._stopping.is_set():
            if self._client._http.is_closed:
                logger.warning("watch of %s: ended, its client is closed", follower.application)
                return
            parser: EventStreamParser | None = None
            error: Exception | None = None
            try:
                with self._stream() as response:
                    parser = follower.parser()
                    follower.log_connected()
                    self._connected.set()
                    self._follow(response, parser)
            except Exception as failure:  # whatever it was, the watch resumes
                error = failure
            finally:
                self._connected.clear()
            if self._stopping.is_set():
                return
            follower.stream_ended(parser)
            delay_s = follower.delay_s(_retry_after(error))
            follower.log_lost(error, delay_s)
            self._stopping.wait(delay_s)

    @contextmanager
    def _stream(self) -> Iterator[httpx.Response]:
        http = self._client._http
        if self._follower.application_id is None:
            path, params = self._follower.lookup()
            self._follower.found(http.get(path, params=params))
        path, params, headers = self._follower.stream_request()
        request = http.build_request(
            "GET",
            path,
            params=params,
            headers=headers,
            timeout=_stream_timeout(http.timeout, self._read_timeout_s),
        )
        response = http.send(request, stream=True)
        try:
            with self._lock:
                self._response = response
                if self._stopping.is_set():  # stop() came while it connected: it reads nothing
                    _interrupt(response)
            if response.status_code != 200:
                response.read()
                raise problem_error(response)
            yield response
        finally:
            with self._lock:
                self._response = None
            response.close()

    def _follow(self, response: httpx.Response, parser: EventStreamParser) -> None:
        for chunk in response.iter_bytes():
            # Looked at for every chunk, heartbeats too: where _interrupt cannot reach the
            # socket (a transport of the caller's), stop() still ends the watch this way.
            for sse in parser.feed(chunk):
                if self._stopping.is_set() or not self._handled(sse):
                    return
            if self._stopping.is_set():
                return
            self._follower.batch_done(parser)

    def _handled(self, sse: ServerSentEvent) -> bool:
        follower = self._follower
        event = follower.change_of(sse)
        if event is not None and follower.wants(event):
            assert event.name is not None  # a configuration's change names it
            # May raise: the stream is then resumed from the change before, which comes again.
            configuration = self._client.refresh(follower.application, event.name)
            try:
                self._callback(Change(event=event, configuration=configuration))
            except Exception as error:
                _log_callback_failure(follower, event, error)
        return follower.seen(sse, event)


def _interrupt(response: httpx.Response) -> None:
    """Wake the thread blocked reading `response`: closing a socket does not wake a reader
    on another thread, shutting it down does."""
    network_stream = response.extensions.get("network_stream")
    sock = network_stream.get_extra_info("socket") if network_stream is not None else None
    if isinstance(sock, socket.socket):
        with suppress(OSError):  # already closed by the other side
            sock.shutdown(socket.SHUT_RDWR)


class AsyncWatch:
    """A watch as an asyncio task: `AsyncConfigClient.watch(...)` makes one, started (in the
    running event loop). The callback may be a coroutine function."""

    def __init__(
        self,
        client: "AsyncConfigClient",
        application: str,
        name: str | None,
        callback: Callable[[Change], Awaitable[None] | None],
        *,
        read_timeout_s: float | None = READ_TIMEOUT_S,
        after: int | None = None,
    ) -> None:
        self._client = client
        self._callback = callback
        self._read_timeout_s = read_timeout_s
        self._follower = _Follower(application, name, client._retry, after)
        self._stopping = False
        self._connected = asyncio.Event()
        self._task = asyncio.get_running_loop().create_task(
            self._run(), name=f"config-service-watch:{application}"
        )

    @property
    def last_seq(self) -> int | None:
        return self._follower.last_seq

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    @property
    def running(self) -> bool:
        """False once the watch has ended (after stop())."""
        return not self._task.done()

    async def wait_connected(self, timeout: float | None = None) -> bool:
        """Whether the stream is open, waiting up to `timeout` s for it."""
        try:
            async with asyncio.timeout(timeout):
                await self._connected.wait()
        except TimeoutError:
            return False
        return True

    async def stop(self) -> None:
        """End the watch, at once: whatever it awaits is cancelled."""
        self._stopping = True
        if asyncio.current_task() is self._task:
            return  # a callback stopping its own watch: it ends when the callback returns
        self._task.cancel()
        with suppress(asyncio.CancelledError):
            await self._task

    async def __aenter__(self) -> "AsyncWatch":
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    async def _run(self) -> None:
        follower = self._follower
        while not self._stopping:
            if self._client._http.is_closed:
                logger.warning("watch of %s: ended, its client is closed", follower.application)
                return
            parser: EventStreamParser | None = None
            error: Exception | None = None
            try:
                async with self._stream() as response:
                    parser = follower.parser()
                    follower.log_connected()
                    self._connected.set()
                    await self._follow(response, parser)
            except Exception as failure:  # whatever it was, the watch resumes
                error = failure
            finally:
                self._connected.clear()
            if self._stopping:
                return
            follower.stream_ended(parser)
            delay_s = follower.delay_s(_retry_after(error))
            follower.log_lost(error, delay_s)
            await asyncio.sleep(delay_s)

    @asynccontextmanager
    async def _stream(self) -> AsyncIterator[httpx.Response]:
        http = self._client._http
        if self._follower.application_id is None:
            path, params = self._follower.lookup()
            self._follower.found(await http.get(path, params=params))
        path, params, headers = self._follower.stream_request()
        request = http.build_request(
            "GET",
            path,
            params=params,
            headers=headers,
            timeout=_stream_timeout(http.timeout, self._read_timeout_s),
        )
        response = await http.send(request, stream=True)
        try:
            if response.status_code != 200:
                await response.aread()
                raise problem_error(response)
            yield response
        finally:
            await response.aclose()

    async def _follow(self, response: httpx.Response, parser: EventStreamParser) -> None:
        async for chunk in response.aiter_bytes():
            for sse in parser.feed(chunk):
                if self._stopping or not await self._handled(sse):
                    return
            self._follower.batch_done(parser)

    async def _handled(self, sse: ServerSentEvent) -> bool:
        follower = self._follower
        event = follower.change_of(sse)
        if event is not None and follower.wants(event):
            assert event.name is not None  # a configuration's change names it
            configuration = await self._client.refresh(follower.application, event.name)
            try:
                outcome: Any = self._callback(Change(event=event, configuration=configuration))
                if inspect.isawaitable(outcome):
                    await outcome
            except Exception as error:
                _log_callback_failure(follower, event, error)
        return follower.seen(sse, event)
