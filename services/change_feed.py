"""The change feed of one process: every committed change, in commit order, to any number
of in-process waiters (SSE streams, long polls), for the price of one query per wake-up.

Wake-ups come from LISTEN/NOTIFY (database/listener.py; each process tells of its own
commits, database/notifier.py) and carry nothing the feed relies on: it reads the changes
themselves from the audit table, so a lost notification delays a change (until the next
one, a reconnect, or the periodic poll) but never drops it.

Change numbers come from a sequence (sql/0007): a write takes its number without waiting for
other writes, so numbers may commit out of order, and a write that rolls back leaves its
number unused. The feed passes changes on in number order and never skips a number that may
still commit: a number missing below a committed one is held back until every transaction
that had started when the gap was seen has finished (a writer takes its number after its
transaction has an id, so whoever holds the missing number is among them). Then the number
has committed, and is read, or never will. A reader who has seen N has seen everything below N.

Which transactions had started is told by a transaction id taken after the gap was seen
(repositories/audit.transaction_id_bound), not by the snapshot's list of those in progress:
that list stops at one past the newest to have *finished*, so the writer of the missing
number, if its id is younger than the committed writer's, is not on it.
"""

import asyncio
import bisect
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable, Iterable, Iterator

from config import metrics
from database.errors import DatabaseUnavailable
from database.pool import Database
from models.changes import ChangeEvent
from models.snapshots import Snapshot
from repositories import audit
from services.followers import CLOCK_SLACK_S, EVERYTHING, Beating, Follower, Followers, Heartbeats, Topic

logger = logging.getLogger(__name__)

BATCH = 1000
# After a failed read of new changes, the next try comes this soon, then twice as late each
# time, up to the poll interval.
RETRY_FIRST_S = 0.1
# A missing number is looked for again this soon, then twice as late each time, up to the
# longest wait, unless a notification comes first: a write that rolls back notifies nobody.
RECHECK_FIRST_S = 0.005
RECHECK_LONGEST_S = 0.5
# Writers hold their number for the moments between taking it and committing. A transaction
# still in progress after this long is not one of ours (a long one of another program on the
# same server, say): the feed stops waiting for it, rather than stop for good.
GAP_PATIENCE_S = 30.0


class ChangeFeed:
    def __init__(self, db: Database, *, keep: int = 10_000, poll_interval_s: float = 10.0) -> None:
        self._db = db
        self._keep = keep
        self._poll_interval_s = poll_interval_s
        self.tail = 0  # the newest change this process knows of; all below it are known too
        # The most recent changes, oldest first: every one numbered above _known_after, and
        # their numbers, for bisecting.
        self._recent: list[ChangeEvent] = []
        self._recent_seqs: list[int] = []
        self._known_after = 0
        # Numbers up to here are settled: committed, or never to be.
        self._settled = 0
        # A gap was seen below this number before a transaction with this id began, at this time.
        self._gap: tuple[int, int, float] | None = None
        self._nudged = asyncio.Event()
        # Who is handed each change as it becomes known, by topic; and their heartbeats.
        self._followers = Followers()
        self._heartbeats = Heartbeats()
        self._wanted = False
        self._catching_up: asyncio.Task | None = None
        self._polling: asyncio.Task | None = None
        self._subscribers: list[Callable[[ChangeEvent], None]] = []
        self._released = False

    def subscribe(self, subscriber: Callable[[ChangeEvent], None]) -> None:
        """Call `subscriber` with every change as it becomes known, before waiters wake."""
        self._subscribers.append(subscriber)

    async def start(self) -> None:
        self.tail = await self._settled_latest()
        self._known_after = self._settled = self.tail
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
        self._followers.release()

    @property
    def released(self) -> bool:
        return self._released

    @contextlib.contextmanager
    def watching(self, follower: Follower, topics: Iterable[Topic]) -> Iterator[None]:
        """Hand `follower` every change of `topics` that becomes known while the block runs,
        as it does (services/followers.py). Once the feed has released its followers, one
        that comes later is released at once."""
        topics = tuple(topics)
        self._followers.add(follower, topics)
        try:
            if self._released:
                follower.release()
            yield
        finally:
            self._followers.discard(follower, topics)

    def parked(self) -> int:
        """How many follow() loops are waiting for a change now."""
        return sum(1 for follower in self._followers if isinstance(follower, _Waiter) and follower.parked)

    def beat_when_quiet(self, follower: Beating) -> None:
        """Beat `follower` whenever it has been quiet for its heartbeat_s, until it ends:
        on one timer for the whole process, not one per follower."""
        self._heartbeats.add(follower)

    def notify(self, payload: str | None = None) -> None:
        """Changes were committed (the payload: a number, when the notification names one,
        or nothing). Fetch what is new."""
        if payload and payload.isdigit() and int(payload) <= self.tail:
            return
        self._wanted = True
        self._nudged.set()
        if self._catching_up is None or self._catching_up.done():
            self._catching_up = asyncio.get_running_loop().create_task(self._catch_up())

    async def changes_after(self, seq: int) -> list[ChangeEvent]:
        """The known changes after `seq`: from memory if it still holds them, else the table."""
        if seq >= self.tail:
            return []
        if seq >= self._known_after:
            return self._recent[bisect.bisect_right(self._recent_seqs, seq) :]
        rows = await self._db.read(lambda conn: audit.changes_after(conn, seq, BATCH))
        return [event for event in map(ChangeEvent.model_validate, rows) if event.seq <= self.tail]

    async def follow(
        self,
        after: int,
        *,
        topics: Iterable[Topic] = (EVERYTHING,),
        wanted: Callable[[ChangeEvent], bool] | None = None,
        heartbeat_s: float | None = None,
        until: float | None = None,
    ) -> AsyncIterator[ChangeEvent | None]:
        """Every change after `after` that is `wanted` (default: all), in order, as it
        becomes known. `topics` are where the wanted changes are found (services/followers.py):
        only theirs wake this follower at all. With `heartbeat_s`, None whenever that long has
        passed since the consumer last took something, so its quiet spells are bounded
        whatever other changes pass by unwanted. Ends at loop time `until`, if given, or once
        the feed releases its followers; never yields None without `heartbeat_s`."""
        loop = asyncio.get_running_loop()
        cursor = after
        waiter = _Waiter(wanted, heartbeat_s, loop.time())
        with self.watching(waiter, topics):
            if heartbeat_s is not None:
                self.beat_when_quiet(waiter)
            try:
                while True:
                    waiter.woken = False  # cleared first: a change appended meanwhile still wakes us
                    events = await self.changes_after(cursor)
                    for event in events:
                        cursor = event.seq
                        if wanted is None or wanted(event):
                            yield event
                            waiter.active_at = loop.time()  # from when the consumer is back for more
                    if self._released or _reached(until, loop):
                        return
                    if heartbeat_s is not None and _reached(waiter.active_at + heartbeat_s, loop):
                        yield None
                        waiter.active_at = loop.time()
                    if events:
                        continue  # there may be more to read before waiting
                    await waiter.wait(until)
            finally:
                waiter.ended = True

    async def _settled_latest(self) -> int:
        """The highest number committed, once every write that may still commit a number
        below it has finished: a process that starts knows nothing before it, so none of
        those may come later."""
        latest, _ = await self._db.read(audit.latest_seq)
        bound = await self._db.read(audit.transaction_id_bound)
        started = time.monotonic()
        wait = RECHECK_FIRST_S
        while time.monotonic() - started < GAP_PATIENCE_S:
            _, now = await self._db.read(audit.latest_seq)
            if now.finished_below(bound):
                break
            await asyncio.sleep(wait)
            wait = min(2 * wait, RECHECK_LONGEST_S)
        return latest

    async def _catch_up(self) -> None:
        retry_in = RETRY_FIRST_S
        recheck_in = RECHECK_FIRST_S
        while self._wanted:
            self._wanted = False
            self._nudged.clear()
            try:
                while await self._fetch_more():
                    pass
                if self._gap is not None:
                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout(recheck_in):
                            await self._nudged.wait()
                    recheck_in = min(2 * recheck_in, RECHECK_LONGEST_S)
                    self._wanted = True
                    continue
                recheck_in = RECHECK_FIRST_S
            except DatabaseUnavailable as error:
                # Nothing is lost, only later: try again soon, not only at the next poll, since
                # caches keep serving what they hold meanwhile (a busy pool, say, while the
                # database and the other processes carry on writing).
                logger.warning("change feed could not read new changes: %s", error.detail)
                self._wanted = True
                await asyncio.sleep(retry_in)
                retry_in = min(2 * retry_in, self._poll_interval_s)

    async def _fetch_more(self) -> bool:
        """Append the next batch of changes that no missing number holds back; True if
        there may be more."""
        tail = self.tail
        rows, snapshot = await self._db.read(lambda conn: audit.changes_in_snapshot(conn, tail, BATCH))
        self._settle_gap(snapshot)
        events: list[ChangeEvent] = []
        last = tail
        for row in rows:
            if row["seq"] > self._settled and row["seq"] != last + 1:
                # A number is missing below this one; it may yet commit. Whoever holds it had
                # started before the bound is taken.
                if self._gap is None:
                    bound = await self._db.read(audit.transaction_id_bound)
                    self._gap = (rows[-1]["seq"], bound, time.monotonic())
                break
            events.append(ChangeEvent.model_validate(row))
            last = row["seq"]
        if events:
            self._append(events)
        return len(rows) == BATCH and len(events) == len(rows)

    def _settle_gap(self, snapshot: Snapshot) -> None:
        """Once the transactions that had started when a gap was seen have all finished, every
        number up to the highest seen then is settled: it is in `snapshot`, or never will be."""
        if self._gap is None:
            return
        highest, bound, since = self._gap
        if not snapshot.finished_below(bound):
            if time.monotonic() - since < GAP_PATIENCE_S:
                return
            logger.warning(
                "change feed stopped waiting for transactions in progress for %.0f s: %s",
                GAP_PATIENCE_S,
                snapshot.unfinished_below(bound),
            )
        self._settled = max(self._settled, highest)
        self._gap = None

    def _append(self, events: list[ChangeEvent]) -> None:
        now = time.time()
        for event in events:
            metrics.NOTIFICATION_LAG_SECONDS.observe(max(0.0, now - event.occurred_at.timestamp()))
            for subscriber in self._subscribers:
                subscriber(event)
        self._recent.extend(events)
        self._recent_seqs.extend(event.seq for event in events)
        self.tail = events[-1].seq
        if len(self._recent) > 2 * self._keep:  # trimmed now and then, not on every change
            drop = len(self._recent) - self._keep
            self._known_after = self._recent_seqs[drop - 1]
            del self._recent[:drop]
            del self._recent_seqs[:drop]
        self._followers.dispatch(events)

    async def _poll(self) -> None:
        while True:
            await asyncio.sleep(self._poll_interval_s)
            self.notify()


class _Waiter:
    """follow()'s follower: wakes its task for a wanted change, a heartbeat or the end."""

    __slots__ = ("_future", "active_at", "ended", "heartbeat_s", "wanted", "woken")

    def __init__(
        self, wanted: Callable[[ChangeEvent], bool] | None, heartbeat_s: float | None, now: float
    ) -> None:
        self.wanted = wanted
        self.heartbeat_s = heartbeat_s
        self.active_at = now
        self.ended = False
        self.woken = False
        self._future: asyncio.Future | None = None

    def take(self, change: ChangeEvent) -> None:
        if not self.woken and (self.wanted is None or self.wanted(change)):
            self._wake()

    def beat(self) -> None:
        self._wake()

    def release(self) -> None:
        self._wake()

    async def wait(self, until: float | None) -> None:
        """Until woken (at once, if it has been since `woken` was cleared), or `until`."""
        if self.woken:
            return
        self._future = asyncio.get_running_loop().create_future()
        try:
            # The clock decides what is due, never the timer: the caller checks.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout_at(until):
                    await self._future
        finally:
            self._future = None

    @property
    def parked(self) -> bool:
        return self._future is not None

    def _wake(self) -> None:
        self.woken = True
        if self._future is not None and not self._future.done():
            self._future.set_result(None)


def _reached(moment: float | None, loop: asyncio.AbstractEventLoop) -> bool:
    return moment is not None and loop.time() >= moment - CLOCK_SLACK_S
