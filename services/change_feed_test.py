import asyncio
import itertools
import random
import threading
import time

import psycopg2
import pytest
from psycopg2.extras import RealDictCursor

from models.audit import AuditContext
from models.ids import new_id
from repositories import audit
from services.audit import record
from services.change_feed import ChangeFeed
from services.followers import of_application
from tests.changes import record_changes
from tests.waiting import DEADLINE_S, wait_until_async

pytestmark = pytest.mark.anyio

APP = "01ARZ3NDEKTSV4RRFFQ69G5FAV"


async def write_changes(database, count: int, name: str = "app") -> None:
    def write(conn):
        for n in range(count):
            record(
                conn,
                AuditContext(actor="tester"),
                "application.updated",
                entity_type="application",
                entity_id=APP,
                application_id=APP,
                version=n + 1,
                before=None,
                after={"name": f"{name}-{n}"},
            )

    await database.write(write)


async def collect(feed: ChangeFeed, after: int, count: int, timeout: float = DEADLINE_S) -> list:
    seen = []
    async with asyncio.timeout(timeout):
        async for change in feed.follow(after):
            seen.append(change)
            if len(seen) == count:
                return seen
    return seen


async def settle(feed: ChangeFeed, seq: int) -> None:
    await wait_until_async(lambda: feed.tail >= seq, what=f"the feed reaches change {seq}")


async def test_the_feed_starts_at_the_last_committed_change(database):
    await write_changes(database, 3)
    feed = ChangeFeed(database)
    await feed.start()
    try:
        assert feed.tail == 3
        assert await feed.changes_after(3) == []
    finally:
        await feed.stop()


async def test_a_notification_brings_the_new_changes_to_followers_in_order(feed, database):
    follower = asyncio.ensure_future(collect(feed, feed.tail, 3))
    await asyncio.sleep(0.05)

    await write_changes(database, 3)
    feed.notify("3")

    changes = await follower
    assert [c.seq for c in changes] == [1, 2, 3]
    assert [c.name for c in changes] == ["app-0", "app-1", "app-2"]
    assert {(c.action, c.entity_id, c.actor) for c in changes} == {("application.updated", APP, "tester")}


async def test_a_stale_notification_costs_nothing(feed, database):
    await write_changes(database, 1)
    feed.notify("1")
    await settle(feed, 1)
    feed.notify("1")
    assert feed._catching_up.done()


async def test_followers_resume_from_any_point_past_what_memory_keeps(database):
    await write_changes(database, 10)
    feed = ChangeFeed(database, keep=2, poll_interval_s=3600)
    await feed.start()
    try:
        await write_changes(database, 10, "later")
        feed.notify()
        await settle(feed, 20)

        assert [c.seq for c in await collect(feed, 0, 20)] == list(range(1, 21))
        assert [c.seq for c in await collect(feed, 15, 5)] == [16, 17, 18, 19, 20]
        assert len(feed._recent) <= 2 * 2
    finally:
        await feed.stop()


async def test_many_batches_are_read_until_the_end(feed, database, monkeypatch):
    monkeypatch.setattr("services.change_feed.BATCH", 4)
    await write_changes(database, 10)
    feed.notify()
    await settle(feed, 10)
    assert [c.seq for c in await feed.changes_after(0)] == list(range(1, 11))


async def test_a_lost_notification_only_delays_a_change_until_the_next_poll(database):
    feed = ChangeFeed(database, poll_interval_s=0.1)
    await feed.start()
    try:
        await write_changes(database, 2)  # nobody calls notify()
        assert [c.seq for c in await collect(feed, 0, 2)] == [1, 2]
    finally:
        await feed.stop()


async def test_heartbeats_and_deadlines(feed):
    loop = asyncio.get_running_loop()
    beats = []
    until = loop.time() + 0.52
    async for change in feed.follow(feed.tail, heartbeat_s=0.05, until=until):
        beats.append(change)
    assert loop.time() >= until - 0.002
    assert beats and set(beats) == {None}
    # Ten are due. A busy CPU may delay some, so fewer come; never more than are due.
    assert 3 <= len(beats) <= 10


class EarlyTimersLoop(asyncio.SelectorEventLoop):
    """A loop whose timers fire a little before they are due, as uvloop's may."""

    def call_at(self, when, callback, *args, context=None):
        return super().call_at(when - 0.004, callback, *args, context=context)


EARLY_TIMERS = [
    pytest.param(("asyncio", {"loop_factory": EarlyTimersLoop}), id="early-timers"),
    pytest.param(("asyncio", {"use_uvloop": True}), id="uvloop"),
]


@pytest.mark.parametrize("anyio_backend", EARLY_TIMERS)
async def test_a_deadline_without_heartbeats_yields_nothing_even_if_timers_fire_early(feed):
    loop = asyncio.get_running_loop()
    for n in range(20):
        started = loop.time()
        until = started + 0.01 + n * 0.0007  # fractions of a millisecond, as a jittered wait has
        assert [change async for change in feed.follow(feed.tail, until=until)] == []
        assert loop.time() >= until - 0.002


@pytest.mark.parametrize("anyio_backend", EARLY_TIMERS)
async def test_heartbeats_come_only_when_due_even_if_timers_fire_early(feed):
    loop = asyncio.get_running_loop()
    beats = []
    async for change in feed.follow(feed.tail, heartbeat_s=0.05, until=loop.time() + 0.52):
        beats.append((change, loop.time()))
    assert {change for change, _ in beats} == {None}
    assert 3 <= len(beats) <= 10  # ten are due; a busy CPU may delay some, never bring one early
    times = [at for _, at in beats]
    assert all(later - earlier > 0.045 for earlier, later in itertools.pairwise(times))  # none early


async def test_one_change_wakes_every_follower(feed, database):
    followers = [asyncio.ensure_future(collect(feed, feed.tail, 1)) for _ in range(500)]
    await asyncio.sleep(0.05)

    await write_changes(database, 1)
    feed.notify("1")

    assert {tuple(c.seq for c in got) for got in await asyncio.gather(*followers)} == {(1,)}


async def test_an_unreachable_database_delays_catching_up_without_losing_changes(feed, database, monkeypatch):
    await write_changes(database, 1)
    real_read = database.read

    failed_reads = []

    async def failing_read(work):
        from database.errors import DatabaseUnavailable

        failed_reads.append(1)
        raise DatabaseUnavailable("down")

    monkeypatch.setattr(database, "read", failing_read)
    feed.notify("1")
    await wait_until_async(lambda: failed_reads, what="the feed tries to read")
    assert feed.tail == 0

    monkeypatch.setattr(database, "read", real_read)
    feed.notify()
    await settle(feed, 1)
    assert (await database.read(audit.latest_seq))[0] == 1


async def test_after_a_failed_read_the_feed_tries_again_soon_by_itself(feed, database, monkeypatch):
    await write_changes(database, 1)
    real_read = database.read
    failures = itertools.count()

    async def failing_twice(work):
        from database.errors import DatabaseBusy

        if next(failures) < 2:
            raise DatabaseBusy(5)
        return await real_read(work)

    monkeypatch.setattr(database, "read", failing_twice)
    feed.notify("1")  # the only notification: the feed polls once an hour here

    await settle(feed, 1)  # in moments, after 0.1 s and 0.2 s of waiting; not after an hour


async def test_released_followers_end_at_once_and_later_ones_do_not_wait(feed, database):
    await write_changes(database, 1)
    feed.notify("1")
    await settle(feed, 1)
    loop = asyncio.get_running_loop()
    far = loop.time() + 3600
    waiting = [
        asyncio.ensure_future(collect(feed, feed.tail, 1)),
        asyncio.ensure_future(collect(feed, 0, 2)),  # took its one change, then waits for more
        asyncio.ensure_future(anext(feed.follow(feed.tail, heartbeat_s=3600, until=far), "ended")),
    ]
    await wait_until_async(lambda: feed.parked() == 3, what="all of them reach their wait")

    feed.release_followers()

    done = await asyncio.wait_for(asyncio.gather(*waiting), DEADLINE_S)
    assert [[c.seq for c in done[0]], [c.seq for c in done[1]], done[2]] == [[], [1], "ended"]
    late = await asyncio.wait_for(collect(feed, 0, 2), DEADLINE_S)  # still gets what was missed
    assert [c.seq for c in late] == [1]


def raw_append(connection) -> int:
    """Record a change on `connection`, in its transaction; its number."""
    return audit.append(
        connection,
        AuditContext(actor="racer"),
        id=new_id(),
        action="application.updated",
        entity_type="application",
        entity_id=APP,
        application_id=APP,
        version=None,
        before=None,
        after={"name": "racer"},
    )["seq"]


def raw_writer(database_url: str):
    connection = psycopg2.connect(database_url, cursor_factory=RealDictCursor)
    return connection, lambda: raw_append(connection)


async def test_a_number_committed_out_of_order_is_held_back_until_the_lower_one_commits(feed, database_url):
    first, first_takes = raw_writer(database_url)
    second, second_takes = raw_writer(database_url)
    try:
        lower = first_takes()  # not committed yet
        higher = second_takes()
        second.commit()
        feed.notify(str(higher))
        # The feed reads the higher number, and sees the lower one missing with its writer
        # in progress: nothing may pass, or a reader would skip the lower one for good.
        await wait_until_async(lambda: feed._gap is not None, what="the feed sees the gap")
        assert feed.tail == 0
        assert await feed.changes_after(0) == []

        first.commit()
        feed.notify(str(lower))
        await settle(feed, higher)
        assert [c.seq for c in await feed.changes_after(0)] == [lower, higher]
    finally:
        first.close()
        second.close()


async def test_a_lower_number_held_by_a_younger_transaction_is_waited_for(
    feed, database, database_url, monkeypatch
):
    """A snapshot lists as in progress only the transactions below its xmax, which is one past
    the newest to have *finished*: a writer that took its id after the one that committed
    the higher number, but its number before, is not listed. It must be waited for all the
    same, or its number, committed later, would be skipped for good."""
    reads = 0
    read = database.read

    async def counted(work):
        nonlocal reads
        reads += 1
        return await read(work)

    monkeypatch.setattr(database, "read", counted)
    older, older_takes = raw_writer(database_url)
    younger, younger_takes = raw_writer(database_url)
    try:
        for connection in (older, younger):  # ids in this order
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_current_xact_id()")
        lower = younger_takes()
        higher = older_takes()
        older.commit()
        looked = reads
        feed.notify(str(higher))
        # However often it looks again (it does by itself: a number may be missing for a
        # rollback, which nobody is told of), the lower number may still come.
        await wait_until_async(
            lambda: feed.tail > 0 or reads >= looked + 5, what="the feed passes a number, or looks again"
        )
        assert feed.tail == 0

        younger.commit()
        feed.notify(str(lower))
        await settle(feed, higher)
        assert [c.seq for c in await feed.changes_after(0)] == [lower, higher]
    finally:
        older.close()
        younger.close()


async def test_a_number_left_unused_by_a_rollback_does_not_hold_the_feed_back(feed, database_url):
    writer, takes = raw_writer(database_url)
    try:
        kept = takes()
        writer.commit()
        takes()
        writer.rollback()  # nobody is told of this one: the feed must find out by itself
        last = takes()
        writer.commit()
        feed.notify(str(last))
        await settle(feed, last)
        assert [c.seq for c in await feed.changes_after(0)] == [kept, last]
    finally:
        writer.close()


async def test_a_follower_never_skips_a_number_that_commits_later_under_16_writers(feed, database_url):
    """16 writers race, each taking its number, then committing after a random moment, or
    rolling back. A follower must see every committed number, in increasing order, none
    skipped: whatever the order in which they commit."""
    writers = 16
    rounds = 40
    stop = threading.Event()

    def race(seed: int) -> None:
        rng = random.Random(seed)
        connection, takes = raw_writer(database_url)
        try:
            for _ in range(rounds):
                takes()
                time.sleep(rng.random() * 0.003)  # the moment between the number and the commit
                if rng.random() < 0.1:
                    connection.rollback()
                else:
                    connection.commit()
                if stop.is_set():
                    return
        finally:
            connection.close()

    seen: list[int] = []

    async def follow() -> None:
        async for change in feed.follow(0):
            seen.append(change.seq)

    async def keep_notifying() -> None:  # as LISTEN would: after every commit, or so
        while True:
            feed.notify()
            await asyncio.sleep(0.001)

    follower = asyncio.ensure_future(follow())
    notifier = asyncio.ensure_future(keep_notifying())
    try:
        loop = asyncio.get_running_loop()
        await asyncio.gather(*(loop.run_in_executor(None, race, n) for n in range(writers)))
        with psycopg2.connect(database_url) as check, check.cursor() as cursor:
            cursor.execute("SELECT seq FROM audit_events ORDER BY seq")
            committed = [seq for (seq,) in cursor.fetchall()]
        await settle(feed, committed[-1])
        await wait_until_async(
            lambda: follower.done() or len(seen) >= len(committed), what="the follower has everything"
        )
        if follower.done():
            follower.result()  # raises what ended it
    finally:
        stop.set()
        for task in (follower, notifier):
            task.cancel()
    assert len(committed) > writers * rounds * 0.8
    assert seen == committed  # increasing, and none skipped


OTHER_APP = "01ARZ3NDEKTSV4RRFFQ69G5FAW"


async def test_followers_are_woken_only_by_changes_of_their_topics(feed, database):
    asked = []

    def wanted(change) -> bool:
        asked.append(change.seq)
        return True

    mine = asyncio.ensure_future(anext(feed.follow(feed.tail, topics=[of_application(APP)], wanted=wanted)))
    others = [
        asyncio.ensure_future(
            anext(feed.follow(feed.tail, topics=[of_application(OTHER_APP)], wanted=wanted))
        )
        for _ in range(100)
    ]
    await wait_until_async(lambda: feed.parked() == 101, what="all of them reach their wait")

    await database.write(lambda conn: record_changes(conn, APP))
    feed.notify()
    change = await asyncio.wait_for(mine, DEADLINE_S)

    assert asked == [change.seq, change.seq]  # once handed over (a wake-up), once read; never by the others
    assert not any(other.done() for other in others)
    for other in others:
        other.cancel()
    await asyncio.gather(*others, return_exceptions=True)
