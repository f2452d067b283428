import asyncio
import itertools
from datetime import UTC, datetime

import pytest

from models.changes import ChangeEvent
from services.followers import (
    CLOCK_SLACK_S,
    EVERYTHING,
    Followers,
    Heartbeats,
    of_application,
    of_entity,
    topics_of,
)
from tests.waiting import wait_until_async

APP = "01ARZ3NDEKTSV4RRFFQ69G5FAV"
OTHER = "01ARZ3NDEKTSV4RRFFQ69G5FAW"
CONFIG = "01ARZ3NDEKTSV4RRFFQ69G5FAX"
KEY = "01ARZ3NDEKTSV4RRFFQ69G5FAY"


def change(seq: int, entity_id: str = CONFIG, application_id: str | None = APP) -> ChangeEvent:
    return ChangeEvent(
        seq=seq,
        action="configuration.updated" if application_id else "api_key.revoked",
        entity_type="configuration" if application_id else "api_key",
        entity_id=entity_id,
        application_id=application_id,
        name=None,
        version=None,
        occurred_at=datetime(2026, 1, 1, tzinfo=UTC),
        actor="me",
    )


class Recorder:
    def __init__(self) -> None:
        self.taken: list[int] = []
        self.released = 0

    def take(self, change: ChangeEvent) -> None:
        self.taken.append(change.seq)

    def release(self) -> None:
        self.released += 1


def test_the_topics_of_a_change():
    assert topics_of(change(1)) == (EVERYTHING, of_application(APP), of_entity(CONFIG))
    assert topics_of(change(1, KEY, None)) == (EVERYTHING, of_entity(KEY))  # a key's: no application


def test_a_change_reaches_only_the_followers_of_its_topics_in_order():
    followers = Followers()
    everything, mine, others, config, key = (Recorder() for _ in range(5))
    followers.add(everything, [EVERYTHING])
    followers.add(mine, [of_application(APP)])
    followers.add(others, [of_application(OTHER)])
    followers.add(config, [of_entity(CONFIG)])
    followers.add(key, [of_entity(KEY)])

    followers.dispatch([change(1), change(2, OTHER, OTHER), change(3, KEY, None)])

    assert everything.taken == [1, 2, 3]
    assert (mine.taken, others.taken, config.taken, key.taken) == ([1], [2], [1], [3])


def test_a_follower_of_two_topics_a_change_has_takes_it_from_each():
    """It goes by the change's seq (see Follower): dispatch checks nothing per follower."""
    followers = Followers()
    both = Recorder()
    followers.add(both, [of_application(APP), of_entity(CONFIG)])
    followers.dispatch([change(1)])
    assert both.taken == [1, 1]


def test_a_follower_that_has_left_takes_nothing_and_leaves_no_topic_behind():
    followers = Followers()
    staying, leaving = Recorder(), Recorder()
    followers.add(staying, [EVERYTHING])
    followers.add(leaving, [EVERYTHING, of_application(APP)])
    followers.discard(leaving, [EVERYTHING, of_application(APP)])
    followers.discard(leaving, [of_entity(KEY)])  # never there: nothing to do

    followers.dispatch([change(1)])

    assert (staying.taken, leaving.taken) == ([1], [])
    assert len(followers) == 1
    assert set(followers._by_topic) == {EVERYTHING}


def test_a_follower_may_leave_as_it_takes_a_change():
    followers = Followers()
    after = Recorder()

    class LeavesAtOnce(Recorder):
        def take(self, change: ChangeEvent) -> None:
            super().take(change)
            followers.discard(self, [EVERYTHING])

    leaving = LeavesAtOnce()
    followers.add(leaving, [EVERYTHING])
    followers.add(after, [EVERYTHING])
    followers.dispatch([change(1), change(2)])  # it is still handed both: they came before it left
    followers.dispatch([change(3)])
    assert (leaving.taken, after.taken) == ([1, 2], [1, 2, 3])


@pytest.mark.anyio
async def test_many_followers_are_handed_a_change_over_several_turns_of_the_loop_in_order(monkeypatch):
    monkeypatch.setattr("services.followers.HAND_OVERS_PER_TURN", 3)
    followers = Followers()
    recorders = [Recorder() for _ in range(10)]
    for recorder in recorders:
        followers.add(recorder, [EVERYTHING])

    followers.dispatch([change(1), change(2)])
    assert sorted(r.taken for r in recorders) == [[]] * 7 + [[1]] * 3  # the rest wait for the loop

    late = Recorder()
    followers.add(late, [EVERYTHING])  # it reads what became known before it came by itself
    followers.dispatch([change(3)])  # behind what is still being handed over
    await wait_until_async(lambda: all(len(r.taken) == 3 for r in recorders), what="all handed over")
    assert {tuple(r.taken) for r in recorders} == {(1, 2, 3)}
    assert late.taken == [3]


def test_release_reaches_every_follower_once():
    followers = Followers()
    one, two = Recorder(), Recorder()
    followers.add(one, [EVERYTHING, of_application(APP), of_entity(CONFIG)])
    followers.add(two, [of_application(OTHER)])
    followers.release()
    assert (one.released, two.released) == (1, 1)


class Quiet:
    """A follower whose beats are noted, and which (`sends`) counts each as sent at once."""

    def __init__(self, heartbeat_s: float, *, sends: bool = True) -> None:
        loop = asyncio.get_running_loop()
        self.heartbeat_s = heartbeat_s
        self.active_at = loop.time()
        self.ended = False
        self.beats: list[float] = []
        self.sends = sends

    def beat(self) -> None:
        now = asyncio.get_running_loop().time()
        self.beats.append(now)
        if self.sends:
            self.active_at = now


class EarlyTimersLoop(asyncio.SelectorEventLoop):
    """A loop whose timers fire a little before they are due, as uvloop's may."""

    def call_at(self, when, callback, *args, context=None):
        return super().call_at(when - 0.004, callback, *args, context=context)


LOOPS = [
    pytest.param(("asyncio", {}), id="asyncio"),
    pytest.param(("asyncio", {"loop_factory": EarlyTimersLoop}), id="early-timers"),
    pytest.param(("asyncio", {"use_uvloop": True}), id="uvloop"),
]


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", LOOPS)
async def test_a_quiet_follower_is_beaten_every_heartbeat_never_early():
    heartbeats = Heartbeats()
    quiet = Quiet(0.05)
    heartbeats.add(quiet)
    await wait_until_async(lambda: len(quiet.beats) >= 4, what="four beats")
    quiet.ended = True
    started = quiet.beats[0] - 0.05
    intervals = [later - earlier for earlier, later in itertools.pairwise([started, *quiet.beats])]
    assert all(interval >= 0.05 - CLOCK_SLACK_S for interval in intervals), intervals


@pytest.mark.anyio
async def test_a_follower_that_sends_meanwhile_is_beaten_only_once_quiet_for_a_whole_heartbeat():
    loop = asyncio.get_running_loop()
    heartbeats = Heartbeats()
    busy, quiet = Quiet(0.2), Quiet(0.2)
    heartbeats.add(busy)
    heartbeats.add(quiet)
    while not quiet.beats:  # the busy one sends something every 20 ms meanwhile
        busy.active_at = loop.time()
        await asyncio.sleep(0.02)
    last_sent = busy.active_at
    await wait_until_async(lambda: busy.beats, what="the busy one, once quiet, is beaten")
    assert busy.beats[0] >= last_sent + 0.2 - CLOCK_SLACK_S
    busy.ended = quiet.ended = True


@pytest.mark.anyio
async def test_a_beat_left_to_a_task_is_due_again_a_heartbeat_later():
    heartbeats = Heartbeats()
    slow = Quiet(0.05, sends=False)  # its task sends the beat later, if at all
    heartbeats.add(slow)
    await wait_until_async(lambda: len(slow.beats) >= 3, what="three beats")
    slow.ended = True
    # Not beaten again and again while its task has yet to send the first.
    assert all(later - earlier >= 0.05 - CLOCK_SLACK_S for earlier, later in itertools.pairwise(slow.beats))


@pytest.mark.anyio
async def test_ended_followers_are_dropped_and_the_timer_stops():
    heartbeats = Heartbeats()
    gone, staying = Quiet(0.05), Quiet(0.05)
    gone.ended = True
    heartbeats.add(gone)
    heartbeats.add(staying)
    await wait_until_async(lambda: staying.beats, what="a beat")
    assert gone.beats == []
    assert len(heartbeats) == 1
    staying.ended = True
    await wait_until_async(lambda: len(heartbeats) == 0, what="the ended one dropped")
    assert heartbeats._timer is None


@pytest.mark.anyio
async def test_one_timer_serves_every_follower():
    heartbeats = Heartbeats()
    followers = [Quiet(0.05 + n * 0.001) for n in range(100)]
    heartbeats.add(followers[0])
    timer = heartbeats._timer
    for follower in followers[1:]:  # all due later than the first: the timer stays as it is
        heartbeats.add(follower)
    assert heartbeats._timer is timer
    await wait_until_async(lambda: all(f.beats for f in followers), what="every follower beaten")
    for follower in followers:
        follower.ended = True
