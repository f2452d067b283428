"""Following the service's change feed for good: `Watch` and `AsyncWatch` for an application's
configurations, and `EventFeed`, the feed they are built on (the `config-service watch`
command's too).

A feed holds one Server-Sent Events connection to GET /api/v1/events (of one application, or
of all) and never gives up until stopped (unless asked to). After any end of the stream (the
service restarting, a proxy cutting an idle connection, a refused connection) it waits (the
client's RetryPolicy's backoff with jitter, never less than the `retry:` the service asked
for) and resumes with `Last-Event-ID`: the service replays what was missed, so every change
comes once, in order. The service names where a stream begins in its opening (an `id:` line
without data), which the parser takes as the resume point, as EventSource does: so a feed cut
off before any change came resumes from there too, and misses none made while it was away.

A watch re-reads each change of a configuration it watches (which updates the client's
in-memory and last-known-good copies) before it tells the callback: so a callback that reads
through the client sees the change too. A re-read that cannot reach the service is tried again
from the same change, on a new connection; one the service refuses (a 4xx) would be refused
again, so it is logged as an ERROR and the watch moves on.
"""

import asyncio
import inspect
import logging
import math
import socket
import threading
import time
import traceback
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Generator, Iterator
from contextlib import aclosing, asynccontextmanager, closing, contextmanager, suppress
from dataclasses import dataclass
from types import TracebackType
from typing import TYPE_CHECKING, Any

import httpx
import pydantic

from config_service_client.client import API, EVENTS_PATH, STREAM_READ_TIMEOUT_S, _same_name
from config_service_client.errors import ProblemError, ServiceUnreachable, not_found, problem_error
from config_service_client.models import ChangeEvent, Configuration
from config_service_client.retry import RetryPolicy, retries_status
from config_service_client.sse import EventStreamParser, ServerSentEvent

if TYPE_CHECKING:
    from config_service_client.client import AsyncConfigClient, ConfigClient

logger = logging.getLogger(__name__)

APPLICATIONS_PATH = f"{API}/applications"
# A read that waits longer than this means the connection is dead (a peer gone without a
# word, a silent proxy): it is dropped and resumed. The service beats every 15 s by default.
READ_TIMEOUT_S = STREAM_READ_TIMEOUT_S


@dataclass(frozen=True)
class Change:
    """A change of a watched configuration: the event, and the configuration as re-read
    after it (None when it no longer exists)."""

    event: ChangeEvent
    configuration: Configuration | None


def concerns(event: ChangeEvent, name: str | None) -> bool:
    """Whether `event` is a change of the configuration `name` (of any, when None)."""
    return event.entity_type == "configuration" and (name is None or _same_name(event.name, name))


def transient(error: BaseException) -> bool:
    """Whether trying again later may succeed where `error` failed: no answer, or an answer
    that says "not now" (429, 5xx). Any other refusal would come again."""
    if isinstance(error, ProblemError):
        return retries_status("GET", error.status)
    return isinstance(error, ServiceUnreachable | httpx.TransportError)


class _Follower:
    """What the sync and async feeds share: where to resume, and how long to wait before the
    next connection. No I/O."""

    def __init__(self, application: str | None, retry: RetryPolicy, after: int | None) -> None:
        self.application = application
        self.retry = retry
        self.last_seq = after
        # Resolved by the feed itself, with one request per try: the client's own lookup
        # retries until its deadline, and stop() would wait for that.
        self.application_id: str | None = None
        self.failures = 0  # connections in a row that did not open
        self.floor_s = 0.0  # the service's `retry:`, once it has sent one
        self.outage_told = False  # warned of the stream being lost, not yet of its return

    @property
    def what(self) -> str:
        """What is followed, for logs."""
        return "every application" if self.application is None else self.application

    def needs_lookup(self) -> bool:
        return self.application is not None and self.application_id is None

    def lookup(self) -> tuple[str, dict[str, str]]:
        assert self.application is not None
        return APPLICATIONS_PATH, {"name": self.application}

    def found(self, response: httpx.Response) -> str:
        assert self.application is not None
        if response.status_code >= 400:
            raise problem_error(response)
        items = response.json()
        found = next(
            (
                item
                for item in items
                if isinstance(item, dict) and _same_name(item.get("name"), self.application)
            ),
            None,
        )
        if found is None:
            raise not_found("application", f"No application is named {self.application!r}")
        self.application_id = str(found["id"])
        return self.application_id

    def stream_request(self) -> tuple[str, dict[str, str], dict[str, str]]:
        headers = {"Accept": "text/event-stream", "Cache-Control": "no-cache"}
        if self.last_seq is not None:
            headers["Last-Event-ID"] = str(self.last_seq)
        params = {} if self.application_id is None else {"application_id": self.application_id}
        return EVENTS_PATH, params, headers

    def parser(self) -> EventStreamParser:
        return EventStreamParser("" if self.last_seq is None else str(self.last_seq))

    def change_of(self, sse: ServerSentEvent) -> ChangeEvent | None:
        try:
            return ChangeEvent.model_validate_json(sse.data)
        except pydantic.ValidationError:
            # Not a change this client understands; its seq still moves the resume point on.
            logger.warning("watch of %s: skipped an event it cannot read (id %r)", self.what, sse.id)
            return None

    def seen(self, sse: ServerSentEvent, event: ChangeEvent | None) -> bool:
        """Note `event` (of `sse`) as handled; False when the stream must be opened again."""
        self.last_seq = event.seq if event is not None else _seq(sse.id, self.last_seq)
        if (
            event is not None
            and event.action == "application.deleted"
            and event.entity_id == self.application_id
        ):
            # The name may be given to a new application: follow that one from here on.
            logger.warning("watch of %s: the application was deleted; following its name", self.what)
            self.application_id = None
            return False
        return True

    def batch_done(self, parser: EventStreamParser) -> None:
        """Every event dispatched so far is handled: an `id:` the service sent without an
        event (where a stream begins, or a resume point on a stream with nothing for this
        feed) can be taken now."""
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
        logger.log(
            level,
            "watch of %s: no event stream (%s); resuming after seq %s in %.1f s",
            self.what,
            "it ended" if error is None else _described(error),
            self.last_seq,
            delay_s,
        )

    def log_connected(self) -> None:
        if self.outage_told:
            self.outage_told = False
            logger.info("watch of %s: event stream open again, after seq %s", self.what, self.last_seq)


class _GiveUp:
    """When a feed that may give up does: at once for a refusal that trying again cannot
    change (a wrong key, an application that is not there), and after `after_s` without an
    open stream otherwise."""

    def __init__(self, after_s: float, target: str) -> None:
        self._after_s = after_s
        self._target = target
        self._since = time.monotonic()  # when the feed was last known to work

    def check(self, error: BaseException | None, delay_s: float, *, was_open: bool) -> None:
        """Raise, or let the feed wait `delay_s` and connect again; `was_open`: the stream had
        opened before it ended (a connection dropped is always tried again once)."""
        if isinstance(error, ProblemError) and not transient(error):
            raise error
        if was_open:
            self._since = time.monotonic()
            return
        waited_s = time.monotonic() - self._since
        if waited_s + delay_s > self._after_s:
            why = "it ended" if error is None else _described(error)
            raise ServiceUnreachable(
                f"{self._target} did not answer GET {EVENTS_PATH}: {why} (no stream for {waited_s:.1f} s)",
                error,
            ) from error


def _seq(event_id: str, otherwise: int | None) -> int | None:
    return int(event_id) if event_id.isascii() and event_id.isdigit() else otherwise


def _described(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}" if str(error) else type(error).__name__


def _retry_after(error: BaseException | None) -> str | None:
    if isinstance(error, ServiceUnreachable):
        error = error.last_error
    return error.retry_after if isinstance(error, ProblemError) else None


def _stream_timeout(http_timeout: httpx.Timeout, read_timeout_s: float | None) -> httpx.Timeout:
    return httpx.Timeout(
        connect=http_timeout.connect, read=read_timeout_s, write=http_timeout.write, pool=http_timeout.pool
    )


def _log_callback_failure(application: str, event: ChangeEvent, error: BaseException) -> None:
    # Where it failed, not what it said: a message may quote the configuration's values.
    where = "".join(traceback.format_tb(error.__traceback__))
    logger.error(
        "watch of %s: the callback raised %s on %s of %r (seq %d); the watch goes on\n%s",
        application,
        type(error).__name__,
        event.action,
        event.name,
        event.seq,
        where,
    )


def _log_refresh_refused(application: str, event: ChangeEvent, error: BaseException) -> None:
    # A problem's title and detail are the service's, which never quotes a value; anything
    # else (a validation error of the answer) might.
    why = _described(error) if isinstance(error, ProblemError) else type(error).__name__
    logger.error(
        "watch of %s: could not re-read %r after %s (seq %d): %s; moving past this change",
        application,
        event.name,
        event.action,
        event.seq,
        why,
    )


class EventFeed:
    """The change feed of `application` (of every application, when None), across
    reconnections: `events()` yields each change once, in order, in the caller's thread, for
    as long as the caller takes them, until `stop()`.

    `give_up_after_s` None: it never gives up. Else a refusal that trying again cannot
    change (a 4xx other than 429) is raised at once, and `give_up_after_s` without an open
    stream raises ServiceUnreachable."""

    def __init__(
        self,
        client: "ConfigClient",
        application: str | None,
        *,
        after: int | None = None,
        read_timeout_s: float | None = READ_TIMEOUT_S,
        give_up_after_s: float | None = None,
    ) -> None:
        self._client = client
        self._read_timeout_s = read_timeout_s
        self._follower = _Follower(application, client._retry, after)
        self._give_up = None if give_up_after_s is None else _GiveUp(give_up_after_s, client._target)
        self._stopping = threading.Event()
        self._connected = threading.Event()
        self._lock = threading.Lock()  # guards _response between the reading thread and stop()
        self._response: httpx.Response | None = None
        self._again: BaseException | None = None

    @property
    def last_seq(self) -> int | None:
        """The seq of the last change taken (or passed over): where the feed resumes."""
        return self._follower.last_seq

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    def wait_connected(self, timeout: float | None = None) -> bool:
        return self._connected.wait(timeout)

    def stop(self) -> None:
        """End `events()`, from any thread: an idle stream or a backoff ends at once."""
        self._stopping.set()
        with self._lock:
            if self._response is not None:
                _interrupt(self._response)

    def again(self, error: BaseException) -> None:
        """The change just taken could not be handled, for now: it comes again, on a new
        connection, after the wait `error` calls for."""
        self._again = error

    def events(self) -> Generator[ChangeEvent, None, None]:
        follower = self._follower
        while not self._stopping.is_set():
            if self._client._http.is_closed:
                logger.warning("watch of %s: ended, its client is closed", follower.what)
                return
            parser: EventStreamParser | None = None
            error: Exception | None = None
            try:
                with self._stream() as response:
                    parser = follower.parser()
                    follower.log_connected()
                    self._connected.set()
                    yield from self._read(response, parser)
            except Exception as failure:  # whatever it was, the feed resumes
                error = failure
            finally:
                self._connected.clear()
            if self._stopping.is_set():
                return
            follower.stream_ended(parser)
            delay_s = follower.delay_s(_retry_after(error))
            if self._give_up is not None:
                self._give_up.check(error, delay_s, was_open=parser is not None)
            follower.log_lost(error, delay_s)
            self._stopping.wait(delay_s)

    @contextmanager
    def _stream(self) -> Iterator[httpx.Response]:
        http = self._client._http
        if self._follower.needs_lookup():
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

    def _read(self, response: httpx.Response, parser: EventStreamParser) -> Iterator[ChangeEvent]:
        follower = self._follower
        for chunk in response.iter_bytes():
            # Looked at for every chunk, heartbeats too: where _interrupt cannot reach the
            # socket (a transport of the caller's), stop() still ends the feed this way.
            for sse in parser.feed(chunk):
                event = follower.change_of(sse)
                if event is not None:
                    yield event
                    self._raise_again()
                if not follower.seen(sse, event) or self._stopping.is_set():
                    return
            if self._stopping.is_set():
                return
            follower.batch_done(parser)

    def _raise_again(self) -> None:
        error, self._again = self._again, None
        if error is not None:
            raise error  # ends this connection: the next resumes from before the change


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
        self._application = application
        self._name = name
        self._callback = callback
        self._feed = EventFeed(client, application, after=after, read_timeout_s=read_timeout_s)
        self._thread = threading.Thread(
            target=self._run, name=f"config-service-watch:{application}", daemon=True
        )
        self._thread.start()

    @property
    def last_seq(self) -> int | None:
        """The seq of the last change handled (or passed over): where the watch resumes."""
        return self._feed.last_seq

    @property
    def connected(self) -> bool:
        return self._feed.connected

    @property
    def running(self) -> bool:
        """False once the watch has ended (after stop())."""
        return self._thread.is_alive()

    def wait_connected(self, timeout: float | None = None) -> bool:
        """Whether the stream is open, waiting up to `timeout` s for it. Changes committed
        after this returns True reach the callback."""
        return self._feed.wait_connected(timeout)

    def stop(self, timeout: float | None = None) -> None:
        """End the watch; wait up to `timeout` s (None: as long as it takes) for its thread.
        An idle stream or a backoff ends at once; a re-read or a callback under way is
        finished first."""
        self._feed.stop()
        if threading.current_thread() is not self._thread:  # a callback may stop its own watch
            self._thread.join(timeout)

    def __enter__(self) -> "Watch":
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def _run(self) -> None:
        with closing(self._feed.events()) as events:
            for event in events:
                if concerns(event, self._name):
                    self._handle(event)

    def _handle(self, event: ChangeEvent) -> None:
        assert event.name is not None  # a configuration's change names it
        try:
            configuration = self._client.refresh(self._application, event.name)
        except Exception as error:
            if transient(error):
                self._feed.again(error)
            else:
                _log_refresh_refused(self._application, event, error)
            return
        try:
            self._callback(Change(event=event, configuration=configuration))
        except Exception as error:
            _log_callback_failure(self._application, event, error)


def _interrupt(response: httpx.Response) -> None:
    """Wake the thread blocked reading `response`: closing a socket does not wake a reader
    on another thread, shutting it down does."""
    network_stream = response.extensions.get("network_stream")
    sock = network_stream.get_extra_info("socket") if network_stream is not None else None
    if isinstance(sock, socket.socket):
        with suppress(OSError):  # already closed by the other side
            sock.shutdown(socket.SHUT_RDWR)


class AsyncEventFeed:
    """EventFeed for asyncio: `events()` is an async generator; `stop()` ends it at the next
    change or reconnection (cancel the task reading it to end it at once)."""

    def __init__(
        self,
        client: "AsyncConfigClient",
        application: str | None,
        *,
        after: int | None = None,
        read_timeout_s: float | None = READ_TIMEOUT_S,
    ) -> None:
        self._client = client
        self._read_timeout_s = read_timeout_s
        self._follower = _Follower(application, client._retry, after)
        self._stopping = False
        self._connected = asyncio.Event()
        self._again: BaseException | None = None

    @property
    def last_seq(self) -> int | None:
        return self._follower.last_seq

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    async def wait_connected(self, timeout: float | None = None) -> bool:
        try:
            async with asyncio.timeout(timeout):
                await self._connected.wait()
        except TimeoutError:
            return False
        return True

    def stop(self) -> None:
        self._stopping = True

    def again(self, error: BaseException) -> None:
        """As EventFeed.again."""
        self._again = error

    async def events(self) -> AsyncGenerator[ChangeEvent, None]:
        follower = self._follower
        while not self._stopping:
            if self._client._http.is_closed:
                logger.warning("watch of %s: ended, its client is closed", follower.what)
                return
            parser: EventStreamParser | None = None
            error: Exception | None = None
            try:
                async with self._stream() as response:
                    parser = follower.parser()
                    follower.log_connected()
                    self._connected.set()
                    async with aclosing(self._read(response, parser)) as changes:
                        async for event in changes:
                            yield event
                            self._raise_again()
            except Exception as failure:  # whatever it was, the feed resumes
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
        if self._follower.needs_lookup():
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

    async def _read(
        self, response: httpx.Response, parser: EventStreamParser
    ) -> AsyncGenerator[ChangeEvent, None]:
        """As EventFeed._read, but for the change itself: the caller yields it, and raises
        what `again` left (an async generator cannot delegate to another)."""
        follower = self._follower
        async for chunk in response.aiter_bytes():
            for sse in parser.feed(chunk):
                event = follower.change_of(sse)
                if event is not None:
                    yield event
                if not follower.seen(sse, event) or self._stopping:
                    return
            if self._stopping:
                return
            follower.batch_done(parser)

    def _raise_again(self) -> None:
        error, self._again = self._again, None
        if error is not None:
            raise error


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
        self._application = application
        self._name = name
        self._callback = callback
        self._feed = AsyncEventFeed(client, application, after=after, read_timeout_s=read_timeout_s)
        self._task = asyncio.get_running_loop().create_task(
            self._run(), name=f"config-service-watch:{application}"
        )

    @property
    def last_seq(self) -> int | None:
        return self._feed.last_seq

    @property
    def connected(self) -> bool:
        return self._feed.connected

    @property
    def running(self) -> bool:
        """False once the watch has ended (after stop())."""
        return not self._task.done()

    async def wait_connected(self, timeout: float | None = None) -> bool:
        """Whether the stream is open, waiting up to `timeout` s for it."""
        return await self._feed.wait_connected(timeout)

    async def stop(self) -> None:
        """End the watch, at once: whatever it awaits is cancelled."""
        self._feed.stop()
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
        async with aclosing(self._feed.events()) as events:
            async for event in events:
                if concerns(event, self._name):
                    await self._handle(event)

    async def _handle(self, event: ChangeEvent) -> None:
        assert event.name is not None  # a configuration's change names it
        try:
            configuration = await self._client.refresh(self._application, event.name)
        except Exception as error:
            if transient(error):
                self._feed.again(error)
            else:
                _log_refresh_refused(self._application, event, error)
            return
        try:
            outcome: Any = self._callback(Change(event=event, configuration=configuration))
            if inspect.isawaitable(outcome):
                await outcome
        except Exception as error:
            _log_callback_failure(self._application, event, error)
