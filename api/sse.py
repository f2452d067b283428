"""Server-Sent Events: the change feed, framed, to one client.

Thousands of idle streams may be open on one process, and a change must cost each of them
no more than it has to. So a stream's task sleeps while the stream is live: the feed hands
each change to the followers of its topics only (services/followers.py), and this stream's
follower writes the change's frame, rendered once for the whole process, straight to the
connection (api/protocol.py's DirectBody). Heartbeats come from one timer for the process,
and are written the same way. The task wakes only for what only it can do: replay what the
client missed, wait for a client that does not keep up, and end the stream. Served by
another server than ours (or in tests through httpx's ASGI transport), the follower wakes
the task for every frame, which sends it through ASGI.
"""

import asyncio
import contextlib
import logging
import time
from functools import lru_cache
from typing import Protocol

from starlette.requests import ClientDisconnect
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from api.disconnects import ended_by_disconnect
from api.protocol import DirectBody, chunked
from config import metrics
from database.errors import DatabaseUnavailable
from models.changes import ChangeEvent
from services.change_feed import ChangeFeed
from services.followers import CLOCK_SLACK_S, Topic

logger = logging.getLogger(__name__)

HEARTBEAT = b": heartbeat\n\n"
HEARTBEAT_CHUNK = chunked(HEARTBEAT)


def opening(after: int) -> bytes:
    """Sent first: a reconnect delay for EventSource clients; the stream's starting point as
    the last event id, so that a client cut off before any change came resumes from there,
    not from wherever the feed is when it reconnects (EventSource takes an id sent without
    data, as the standard says); and bytes that make proxies pass the headers on at once."""
    return b"retry: 3000\nid: %d\n: stream open\n\n" % after


@lru_cache(maxsize=1024)  # one change goes to every stream in the process: render it once
def frame(event: ChangeEvent) -> bytes:
    return f"id: {event.seq}\nevent: {event.action}\ndata: {event.model_dump_json()}\n\n".encode()


@lru_cache(maxsize=1024)
def frame_chunk(event: ChangeEvent) -> bytes:
    """The frame as written beneath ASGI: once for every stream, too."""
    return chunked(frame(event))


class Audience(Protocol):
    """Whom a stream is for: where its changes are found, which it is sent, and when it
    must end instead."""

    topics: tuple[Topic, ...]

    def wants(self, change: ChangeEvent) -> bool:
        """Whether the change is for this stream: sent, unless it is refused."""

    def refuses(self, change: ChangeEvent | None, now: float) -> bool:
        """Whether the stream ends rather than send this change (None: a heartbeat)."""


class EventStreamResponse(Response):
    """The changes after `after` that `audience` wants, as Server-Sent Events: first
    `missed` (read before the response began), then what becomes known, with a heartbeat
    whenever the stream has been quiet for `heartbeat_s`. Ends when the audience refuses
    what comes, the feed releases its followers, or the client goes away."""

    media_type = "text/event-stream"

    # Not calling Response.__init__: it would render a body, and a stream has none up front.
    def __init__(
        self, feed: ChangeFeed, after: int, missed: list[ChangeEvent], audience: Audience, heartbeat_s: float
    ) -> None:
        self.feed = feed
        self.after = after
        self.missed = missed
        self.audience = audience
        self.heartbeat_s = heartbeat_s
        self.background = None
        self.raw_headers = [
            (b"content-type", b"text/event-stream; charset=utf-8"),
            (b"cache-control", b"no-cache"),
            (b"x-accel-buffering", b"no"),  # nginx: pass events on at once
        ]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": self.raw_headers})
        direct = DirectBody.of(scope)
        stream = _Stream(self.audience, self.heartbeat_s, direct, asyncio.get_running_loop().time())
        try:
            if direct is None:  # only a task listening for the disconnect can hear it
                with contextlib.suppress(ClientDisconnect):  # nobody is left to tell anything
                    async with ended_by_disconnect(receive):
                        await self._serve(stream, send)
                        await send({"type": "http.response.body", "body": b"", "more_body": False})
                return
            direct.when_lost(stream.end)
            await self._serve(stream, send)
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        finally:
            stream.ended = True  # its heartbeat's entry is dropped when it comes up
            if direct is not None:
                direct.when_lost(None)
                stream.direct = None  # meanwhile, that entry holds nothing of the connection

    async def _serve(self, stream: "_Stream", send: Send) -> None:
        with metrics.WATCHERS.labels("stream").track_inprogress():
            await _send(stream, send, opening(self.after))
            missed, self.missed = self.missed, []  # not held for the stream's life
            stream.cursor = self.after
            if not await self._sent(stream, send, missed):
                return
            feed, loop = self.feed, asyncio.get_running_loop()
            with feed.watching(stream, self.audience.topics):
                feed.beat_when_quiet(stream)
                while True:
                    tail = feed.tail
                    try:
                        changes = await feed.changes_after(stream.cursor)
                    except DatabaseUnavailable as error:
                        # Once the stream is open, only a stream far behind reads the database.
                        # It ends; the client resumes from its last id (503 while this lasts).
                        logger.warning("event stream ended: %s", error.detail)
                        return
                    if not await self._sent(stream, send, changes) or stream.ended or feed.released:
                        return
                    if changes or feed.tail != tail:
                        continue  # there may be more to read before going live
                    if stream.beat_due:
                        stream.beat_due = False
                        # Unless it sent something since: the clock decides, never the timer.
                        if loop.time() >= stream.active_at + self.heartbeat_s - CLOCK_SLACK_S:
                            if self.audience.refuses(None, time.time()):
                                return
                            await _send(stream, send, HEARTBEAT)
                        continue
                    # Caught up: the follower carries on alone, until it needs this task.
                    await stream.live()

    async def _sent(self, stream: "_Stream", send: Send, changes: list[ChangeEvent]) -> bool:
        """Send what the audience wants of `changes`; False if it refuses one."""
        for change in changes:
            stream.cursor = change.seq
            if self.audience.wants(change):
                if self.audience.refuses(change, time.time()):
                    return False
                await _send(stream, send, frame(change))
        return True


async def _send(stream: "_Stream", send: Send, body: bytes) -> None:
    await send({"type": "http.response.body", "body": body, "more_body": True})
    stream.active_at = asyncio.get_running_loop().time()


class _Stream:
    """One stream's follower (services/followers.py): writes what it can beneath ASGI while
    live, and hands the rest back to the stream's task."""

    __slots__ = (
        "_waking",
        "active_at",
        "audience",
        "beat_due",
        "cursor",
        "direct",
        "ended",
        "heartbeat_s",
        "is_live",
    )

    def __init__(self, audience: Audience, heartbeat_s: float, direct: DirectBody | None, now: float) -> None:
        self.audience = audience
        self.heartbeat_s = heartbeat_s
        self.direct = direct
        self.active_at = now  # when it last sent something (loop time)
        self.cursor = 0  # the last change it has seen, sent or not
        self.is_live = False  # caught up, with its task asleep
        self.beat_due = False
        self.ended = False
        self._waking: asyncio.Future | None = None

    def live(self) -> asyncio.Future:
        """Follow alone from now until something needs the task, which awaits this (a
        future, not a coroutine: an idle stream holds one frame less)."""
        self._waking = asyncio.get_running_loop().create_future()
        self.is_live = True
        return self._waking

    def take(self, change: ChangeEvent) -> None:
        if not self.is_live or change.seq <= self.cursor:
            return  # the task reads it from the feed itself; or taken once already
        if not self.audience.wants(change):
            self.cursor = change.seq
        elif self._writable() and not self.audience.refuses(change, time.time()):
            self.direct.write(frame_chunk(change))
            self.cursor = change.seq
            self.active_at = asyncio.get_running_loop().time()
        else:  # the task sends it through ASGI, waiting for the client; or ends the stream
            self._wake()

    def beat(self) -> None:
        if self.is_live and self._writable() and not self.audience.refuses(None, time.time()):
            self.direct.write(HEARTBEAT_CHUNK)
            self.active_at = asyncio.get_running_loop().time()
        else:
            self.beat_due = True
            self._wake()

    def release(self) -> None:
        self.end()

    def end(self) -> None:
        self.ended = True
        self._wake()

    def _writable(self) -> bool:
        return self.direct is not None and self.direct.writable

    def _wake(self) -> None:
        self.is_live = False
        if self._waking is not None:
            if not self._waking.done():
                self._waking.set_result(None)
            self._waking = None
