"""The change feed of one process: every committed change, in commit order, to any number
of in-process waiters (SSE streams, long polls), for the price of one query per wake-up.

Wake-ups come from LISTEN/NOTIFY (database/listener.py) and carry nothing but a number:
the feed reads the changes themselves from the audit table, so a lost notification delays
a change (until the next one, a reconnect, or the periodic poll) but never drops it. Change
numbers are gapless and become visible in order (sql/0004.change-feed.sql), so "everything
after N" read from the table is complete.
"""

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable

from config import metrics
from database.errors import DatabaseUnavailable
from database.pool import Database
from models.changes import ChangeEvent
from repositories import audit

logger = logging.getLogger(__name__)

BATCH = 1000
# After a failed read of new changes, the next try comes this soon, then twice as late each
# time, up to the poll interval.
RETRY_FIRST_S = 0.1
# uvloop's timers count whole milliseconds and fire up to one early: a moment this close
# counts as reached, or an early timer would make follow() wait again for a moment or so.
CLOCK_SLACK_S = 0.002


class ChangeFeed:
    def __init__(self, db: Database, *, keep: int = 10_000, poll_interval_s: float = 10.0) -> None:
        self._db = db
        self._keep = keep
        self._poll_interval_s = poll_interval_s
        self.tail = 0  # the newest change this process knows of
        # The most recent changes, oldest first: _recent[i].seq == _first + i.
        self._recent: list[ChangeEvent] = []
        self._first = 1
        self._changed = asyncio.Event()
        self._wanted = False
        self._catching_up: asyncio.Task | None = None
        self._polling: asyncio.Task | None = None
        self._subscribers: list[Callable[[ChangeEvent], None]] = []
        self._released = False

    def subscribe(self, subscriber: Callable[[ChangeEvent], None]) -> None:
        """Call `subscriber` with every change as it becomes known, before waiters wake."""
        self._subscribers.append(subscriber)

    async def start(self) -> None:
        self.tail = await self._db.read(audit.latest_seq)
        self._first = self.tail + 1
        self._polling = asyncio.get_running_loop().create_task(self._poll())

    async def stop(self) -> None:
        for task in (self._polling, self._catching_up):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    def release_followers(self) -> None:
        """The service is stopping: every follow() ends now, and any begun from now on
        ends at once, as if its time were up. Long polls are answered as at their timeout and
        event streams end cleanly, instead of being cut when the server's grace runs out."""
        self._released = True
        self._changed.set()

    def notify(self, payload: str | None = None) -> None:
        """A change was committed (the payload: its number). Fetch what is new."""
        if payload is not None and payload.isdigit() and int(payload) <= self.tail:
            return
        self._wanted = True
        if self._catching_up is None or self._catching_up.done():
            self._catching_up = asyncio.get_running_loop().create_task(self._catch_up())

    async def changes_after(self, seq: int) -> list[ChangeEvent]:
        """The known changes after `seq`: from memory if it still holds them, else the table."""
        if seq >= self.tail:
            return []
        if seq + 1 >= self._first:
            return self._recent[seq + 1 - self._first :]
        rows = await self._db.read(lambda conn: audit.changes_after(conn, seq, BATCH))
        return [event for event in map(ChangeEvent.model_validate, rows) if event.seq <= self.tail]

    async def follow(
        self,
        after: int,
        *,
        wanted: Callable[[ChangeEvent], bool] | None = None,
        heartbeat_s: float | None = None,
        until: float | None = None,
    ) -> AsyncIterator[ChangeEvent | None]:
        """Every change after `after` that is `wanted` (default: all), in order, as it
        becomes known. With `heartbeat_s`, None whenever that long has passed since the
        consumer last took something, so its quiet spells are bounded whatever other
        changes pass by unwanted. Ends at loop time `until`, if given, or once the feed
        releases its followers; never yields None without `heartbeat_s`."""
        loop = asyncio.get_running_loop()
        cursor = after
        beat_at = None if heartbeat_s is None else loop.time() + heartbeat_s
        while True:
            changed = self._changed  # taken first: a change appended meanwhile still wakes us
            events = await self.changes_after(cursor)
            for event in events:
                cursor = event.seq
                if wanted is None or wanted(event):
                    yield event
                    if heartbeat_s is not None:  # from when the consumer is back for more
                        beat_at = loop.time() + heartbeat_s
            if self._released or _reached(until, loop):
                return
            if beat_at is not None and _reached(beat_at, loop):
                yield None
                beat_at = loop.time() + heartbeat_s
            if events:
                continue  # there may be more to read before waiting
            # The clock decides what is due, never the timer: one may fire early.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout_at(_earliest(until, beat_at)):
                    await changed.wait()

    async def _catch_up(self) -> None:
        retry_in = RETRY_FIRST_S
        while self._wanted:
            self._wanted = False
            try:
                while await self._fetch_more():
                    pass
            except DatabaseUnavailable as error:
                # Nothing is lost, only later: try again soon, not only at the next poll, since
                # caches keep serving what they hold meanwhile (a busy pool, say, while the
                # database and the other processes carry on writing).
                logger.warning("change feed could not read new changes: %s", error.detail)
                self._wanted = True
                await asyncio.sleep(retry_in)
                retry_in = min(2 * retry_in, self._poll_interval_s)

    async def _fetch_more(self) -> bool:
        """Append the next batch of changes; True if there may be more."""
        tail = self.tail
        rows = await self._db.read(lambda conn: audit.changes_after(conn, tail, BATCH))
        events: list[ChangeEvent] = []
        for row in rows:
            event = ChangeEvent.model_validate(row)
            if event.seq != tail + 1 + len(events):
                # Cannot happen while numbers are gapless and visible in order; should it,
                # stop before the gap and read it at the next wake-up rather than skip it.
                logger.warning("change feed found a gap after change %s", tail + len(events))
                break
            events.append(event)
        if events:
            self._append(events)
        return len(rows) == BATCH and len(events) == len(rows)

    def _append(self, events: list[ChangeEvent]) -> None:
        now = time.time()
        for event in events:
            metrics.NOTIFICATION_LAG_SECONDS.observe(max(0.0, now - event.occurred_at.timestamp()))
            for subscriber in self._subscribers:
                subscriber(event)
        self._recent.extend(events)
        self.tail = events[-1].seq
        if len(self._recent) > 2 * self._keep:  # trimmed now and then, not on every change
            drop = len(self._recent) - self._keep
            del self._recent[:drop]
            self._first += drop
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()

    async def _poll(self) -> None:
        while True:
            await asyncio.sleep(self._poll_interval_s)
            self.notify()


def _reached(moment: float | None, loop: asyncio.AbstractEventLoop) -> bool:
    return moment is not None and loop.time() >= moment - CLOCK_SLACK_S


def _earliest(*moments: float | None) -> float | None:
    return min((moment for moment in moments if moment is not None), default=None)
