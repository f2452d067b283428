"""Who follows the change feed in this process, found by what they follow, and their heartbeats
on one timer.

With thousands of event streams and long polls open, a change must cost nothing for those it
does not concern, and a quiet spell nothing for those with nothing to say. So a follower says
which topics it follows (everything, an application's changes, one entity's), and each change
is handed only to the followers of its topics, there and then, on the loop's turn that learns
of it (with thousands of followers, over a few turns): a follower does what little it has to
(writes a frame, or wakes its task) and wakes no task for a change it does not want.
Heartbeats are due a set time after a follower last sent anything; one timer, for the
earliest due, serves them all, and whoever sent meanwhile is simply put back.
"""

import asyncio
import heapq
import itertools
from collections import deque
from collections.abc import Iterable, Iterator
from typing import Protocol

from models.changes import ChangeEvent

Topic = tuple[str, str | None]

EVERYTHING: Topic = ("everything", None)

# Followers handed a change in one turn of the loop, at most (some 3 ms of writes for event
# streams): with 20,000 streams, the rest wait for later turns, so that whatever else the
# process serves meanwhile (the write's own response, say) waits for a turn, not for all.
HAND_OVERS_PER_TURN = 250

# uvloop's timers count whole milliseconds and fire up to one early: a moment this close
# counts as reached, or an early timer would make its wait begin again for a moment or so.
CLOCK_SLACK_S = 0.002


def of_application(application_id: str) -> Topic:
    """Every change to an application's own things: itself, its configurations."""
    return ("application", application_id)


def of_entity(entity_id: str) -> Topic:
    """Every change to one thing (an application, a configuration, a key), whoever owns it."""
    return ("entity", entity_id)


def topics_of(change: ChangeEvent) -> tuple[Topic, ...]:
    if change.application_id is None:
        return (EVERYTHING, of_entity(change.entity_id))
    return (EVERYTHING, of_application(change.application_id), of_entity(change.entity_id))


class Follower(Protocol):
    """What the feed hands changes to. It is called on the loop's own turn, so it must not
    block, nor raise. It may be handed a change twice (once for each of its topics that the
    change has), one it has read from the feed already, or one after it has left (see
    Followers): so it goes by each change's seq, and by its own state."""

    def take(self, change: ChangeEvent) -> None: ...

    def release(self) -> None:
        """The service is stopping: end as soon as possible."""


class Followers:
    """The process's followers, by topic.

    Changes are handed over in order: each to every follower of its topics as they were when
    it became known, before the next; the first HAND_OVERS_PER_TURN at once, the rest in the
    loop's next turns. Meanwhile a follower not yet reached may have read the change from the
    feed itself, hence each goes by seq; and one that has left since may still be handed it.
    """

    def __init__(self) -> None:
        self._by_topic: dict[Topic, set[Follower]] = {}
        # Changes still to hand over: each with its followers, and how many have it already.
        self._pending: deque[tuple[ChangeEvent, tuple[Follower, ...], int]] = deque()
        self._resuming: asyncio.Handle | None = None

    def add(self, follower: Follower, topics: Iterable[Topic]) -> None:
        for topic in topics:
            self._by_topic.setdefault(topic, set()).add(follower)

    def discard(self, follower: Follower, topics: Iterable[Topic]) -> None:
        for topic in topics:
            followers = self._by_topic.get(topic)
            if followers is not None:
                followers.discard(follower)
                if not followers:
                    del self._by_topic[topic]

    def dispatch(self, changes: Iterable[ChangeEvent]) -> None:
        """Hand each change, in order, to the followers of its topics."""
        for change in changes:
            for topic in topics_of(change):
                followers = self._by_topic.get(topic)
                if followers:
                    self._pending.append((change, tuple(followers), 0))
        if self._resuming is None:
            self._hand_over()

    def _hand_over(self) -> None:
        self._resuming = None
        budget = HAND_OVERS_PER_TURN
        while self._pending and budget > 0:
            change, followers, done = self._pending.popleft()
            until = min(len(followers), done + budget)
            for follower in followers[done:until]:
                follower.take(change)
            budget -= until - done
            if until < len(followers):
                self._pending.appendleft((change, followers, until))
        if self._pending:
            self._resuming = asyncio.get_running_loop().call_soon(self._hand_over)

    def release(self) -> None:
        for follower in self:
            follower.release()

    def __iter__(self) -> Iterator[Follower]:
        return iter({follower for followers in self._by_topic.values() for follower in followers})

    def __len__(self) -> int:
        return len(set(self))


class Beating(Protocol):
    """A follower with a heartbeat: quiet for `heartbeat_s` since `active_at` (loop time),
    it is beaten. `beat` makes it active again, or has its task do so."""

    heartbeat_s: float
    active_at: float
    ended: bool

    def beat(self) -> None: ...


class Heartbeats:
    """One timer for every follower's heartbeat.

    Each follower has one entry, at the moment its heartbeat falls due as far as was known
    when the entry was made. A follower that sends something meanwhile only notes the time,
    which costs nothing here; when its entry comes up, it is beaten if it has really been
    quiet that long, and put back at its new due moment either way. An ended follower's
    entry is dropped when it comes up.
    """

    def __init__(self) -> None:
        self._due: list[tuple[float, int, Beating]] = []
        self._order = itertools.count()  # ties are broken by age, never by comparing followers
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at = float("inf")

    def add(self, follower: Beating) -> None:
        self._push(follower.active_at + follower.heartbeat_s, follower)

    def __len__(self) -> int:
        return len(self._due)

    def _push(self, due: float, follower: Beating) -> None:
        heapq.heappush(self._due, (due, next(self._order), follower))
        if due < self._timer_at:
            self._arm(due)

    def _arm(self, at: float) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer = asyncio.get_running_loop().call_at(at, self._fire)
        self._timer_at = at

    def _fire(self) -> None:
        loop = asyncio.get_running_loop()
        # The clock decides what is due, never the timer: it may fire early.
        reached = loop.time() + CLOCK_SLACK_S
        beaten: list[Beating] = []
        while self._due and self._due[0][0] <= reached:
            _, _, follower = heapq.heappop(self._due)
            if follower.ended:
                continue
            due = follower.active_at + follower.heartbeat_s
            if due <= reached:
                beaten.append(follower)
            else:
                heapq.heappush(self._due, (due, next(self._order), follower))
        now = loop.time()
        for follower in beaten:
            # Due again a beat from now, whatever it makes of this one: one whose task is to
            # send it notes the time once it has, and is then merely put back.
            heapq.heappush(self._due, (now + follower.heartbeat_s, next(self._order), follower))
        self._timer, self._timer_at = None, float("inf")
        if self._due:
            self._arm(self._due[0][0])
        for follower in beaten:
            follower.beat()
