import asyncio
import json
from datetime import UTC, datetime

import pytest
from prometheus_client import REGISTRY

from api.protocol import DIRECT_BODY, chunked
from api.sse import HEARTBEAT, HEARTBEAT_CHUNK, EventStreamResponse, _Stream, frame, frame_chunk, opening
from models.changes import ChangeEvent
from services.change_feed import ChangeFeed
from services.followers import EVERYTHING
from tests.changes import record_changes
from tests.sse import ServedResponse
from tests.waiting import wait_until_async

APP = "01ARZ3NDEKTSV4RRFFQ69G5FAV"
OTHER = "01ARZ3NDEKTSV4RRFFQ69G5FAW"


def change(seq: int, application_id: str = APP, action: str = "configuration.updated") -> ChangeEvent:
    return ChangeEvent(
        seq=seq,
        action=action,
        entity_type="configuration",
        entity_id="C",
        application_id=application_id,
        name="db",
        version=3,
        occurred_at=datetime(2026, 1, 1, tzinfo=UTC),
        actor="me",
    )


def test_a_frame_is_one_sse_event():
    text = frame(change(9)).decode()
    lines = text.split("\n")
    assert lines[:2] == ["id: 9", "event: configuration.updated"]
    assert json.loads(lines[2].removeprefix("data: "))["version"] == 3
    assert text.endswith("\n\n")
    assert frame(change(9)) is frame(change(9))  # rendered once for every stream


def test_beneath_asgi_a_frame_is_one_chunk_rendered_once():
    body = frame(change(9))
    assert frame_chunk(change(9)) == f"{len(body):x}\r\n".encode() + body + b"\r\n"
    assert frame_chunk(change(9)) is frame_chunk(change(9))
    assert chunked(HEARTBEAT) == HEARTBEAT_CHUNK


class Audience:
    """Wants every change but OTHER's; refuses a revocation, and (from `refusing`) anything."""

    topics = (EVERYTHING,)

    def __init__(self) -> None:
        self.refusing = False

    def wants(self, change: ChangeEvent) -> bool:
        return change.application_id != OTHER

    def refuses(self, change: ChangeEvent | None, now: float) -> bool:
        return self.refusing or (change is not None and change.action == "api_key.revoked")


async def changed(feed: ChangeFeed, database, *application_ids: str, action: str = "application.updated"):
    """Write a change to each application, and have the feed learn of them."""
    await database.write(lambda conn: record_changes(conn, *application_ids, action=action))
    feed.notify()


def ids(chunks: list[bytes]) -> list[bytes]:
    return [chunk.split(b"\n")[0] for chunk in chunks]


def open_streams() -> float:
    return REGISTRY.get_sample_value("configsvc_open_watchers", {"kind": "stream"})


@pytest.mark.anyio
async def test_a_stream_replays_what_was_missed_then_sends_what_comes_and_heartbeats(feed, database):
    await changed(feed, database, APP, OTHER, APP)
    await wait_until_async(lambda: feed.tail == 3, what="the feed has the changes")
    missed = await feed.changes_after(0)
    served = ServedResponse(EventStreamResponse(feed, 0, missed, Audience(), heartbeat_s=0.3))
    try:
        assert [await served.next() for _ in range(3)] == [opening(0), frame(missed[0]), frame(missed[2])]
        assert dict(served.started["headers"])[b"content-type"] == b"text/event-stream; charset=utf-8"
        await changed(feed, database, OTHER, APP)
        assert ids([await served.next()]) == [b"id: 5"]  # not OTHER's, 4
        assert await served.next() == HEARTBEAT
    finally:
        await served.close()


@pytest.mark.anyio
async def test_a_stream_ends_when_its_audience_refuses_a_change_or_a_heartbeat(feed, database):
    refused = ServedResponse(EventStreamResponse(feed, feed.tail, [], Audience(), heartbeat_s=60))
    assert await refused.next() == opening(0)
    await changed(feed, database, APP)
    await changed(feed, database, APP, action="api_key.revoked")
    assert ids(await refused.rest()) == [b"id: 1"]  # the revocation ends it, unsent

    audience = Audience()
    start = feed.tail
    expired = ServedResponse(EventStreamResponse(feed, start, [], audience, heartbeat_s=0.05))
    assert [await expired.next(), await expired.next()] == [opening(start), HEARTBEAT]
    audience.refusing = True  # as when its key expires
    assert set(await expired.rest()) <= {HEARTBEAT}


@pytest.mark.anyio
async def test_a_departed_client_ends_the_stream_and_it_is_no_longer_counted(feed):
    before = open_streams()
    served = ServedResponse(EventStreamResponse(feed, feed.tail, [], Audience(), heartbeat_s=3600))
    assert await served.next() == opening(0)
    assert open_streams() == before + 1

    served.leave()

    await asyncio.wait_for(served.task, 10)  # not cancelled, and no error
    assert open_streams() == before
    assert len(feed._followers) == 0


@pytest.mark.anyio
async def test_released_streams_end_cleanly(feed, database):
    served = ServedResponse(EventStreamResponse(feed, feed.tail, [], Audience(), heartbeat_s=3600))
    assert await served.next() == opening(0)
    feed.release_followers()
    assert await served.rest() == []
    late = ServedResponse(EventStreamResponse(feed, feed.tail, [], Audience(), heartbeat_s=3600))
    assert await late.rest() == [opening(0)]  # begun after the release: ends at once


class Connection:
    """What api/protocol.py's DirectBody writes to: a connection's protocol, its request's
    cycle, and the transport, as uvicorn has them once a chunked response has begun."""

    def __init__(self) -> None:
        self.written: list[bytes] = []
        self.write_paused = False
        self.is_closing = lambda: False
        self.on_lost = None
        self.scope = {"type": "http", "extensions": {DIRECT_BODY: {"protocol": self}}}
        self.cycle = self  # one object plays the protocol, the cycle, its flow and its transport
        self.transport = self.flow = self
        self.response_started, self.chunked_encoding = True, True
        self.response_complete = self.disconnected = False

    def write(self, data: bytes) -> None:
        self.written.append(data)

    def lose(self) -> None:
        self.disconnected = True
        on_lost, self.on_lost = self.on_lost, None
        on_lost()


@pytest.mark.anyio
async def test_live_changes_and_heartbeats_are_written_beneath_asgi_without_waking_the_task(feed, database):
    connection = Connection()
    response = EventStreamResponse(feed, feed.tail, [], Audience(), heartbeat_s=0.2)
    served = ServedResponse(response, connection.scope)
    assert await served.next() == opening(0)
    await wait_until_async(lambda: connection.on_lost is not None, what="the stream is live")
    sends = served.sends  # the head and the opening

    await changed(feed, database, APP, OTHER, APP)
    await wait_until_async(lambda: len(connection.written) == 2, what="both changes are written")
    live = await feed.changes_after(0)
    assert connection.written == [frame_chunk(live[0]), frame_chunk(live[2])]
    await wait_until_async(lambda: len(connection.written) == 3, what="a heartbeat")
    assert connection.written[2] == HEARTBEAT_CHUNK
    assert served.sends == sends  # nothing went through ASGI

    connection.lose()
    await asyncio.wait_for(served.task, 10)
    assert connection.on_lost is None


@pytest.mark.anyio
async def test_a_client_that_does_not_keep_up_gets_its_changes_through_asgi_in_order(feed, database):
    connection = Connection()
    served = ServedResponse(EventStreamResponse(feed, feed.tail, [], Audience(), 3600), connection.scope)
    assert await served.next() == opening(0)
    await wait_until_async(lambda: connection.on_lost is not None, what="the stream is live")

    connection.write_paused = True  # uvicorn's flow control: the client is behind
    await changed(feed, database, APP, APP)
    assert ids([await served.next(), await served.next()]) == [b"id: 1", b"id: 2"]
    connection.write_paused = False
    await changed(feed, database, APP)
    await wait_until_async(lambda: connection.written, what="the next is written directly again")
    assert connection.written == [frame_chunk((await feed.changes_after(2))[0])]
    await served.close()


class Direct:
    def __init__(self) -> None:
        self.writable = True
        self.written: list[bytes] = []

    def write(self, chunk: bytes) -> None:
        self.written.append(chunk)


async def live_stream(direct: Direct | None) -> tuple[_Stream, asyncio.Future]:
    stream = _Stream(Audience(), 60, direct, asyncio.get_running_loop().time())
    stream.cursor = 5
    return stream, stream.live()


@pytest.mark.anyio
async def test_a_live_stream_writes_what_it_wants_once_and_passes_the_rest_by():
    direct = Direct()
    stream, woken = await live_stream(direct)
    for seq, application_id in ((4, APP), (6, APP), (6, APP), (7, OTHER), (8, APP)):  # 6 twice: two topics
        stream.take(change(seq, application_id))
    assert direct.written == [frame_chunk(change(6)), frame_chunk(change(8))]
    assert stream.cursor == 8 and not woken.done()


@pytest.mark.anyio
async def test_a_live_stream_hands_back_to_its_task_what_it_cannot_write():
    direct = Direct()
    stream, woken = await live_stream(direct)
    stream.take(change(6, action="api_key.revoked"))  # refused: the task ends the stream
    assert woken.done() and not stream.is_live and stream.cursor == 5

    stream, woken = await live_stream(direct)
    direct.writable = False
    stream.take(change(6))
    stream.take(change(7))  # no longer live: the task reads it from the feed
    assert woken.done() and stream.cursor == 5 and direct.written == []

    stream, woken = await live_stream(None)  # served by another server: always through ASGI
    stream.take(change(6))
    assert woken.done()


@pytest.mark.anyio
async def test_a_live_stream_beats_by_itself_or_has_its_task_do_it():
    direct = Direct()
    stream, woken = await live_stream(direct)
    stream.beat()
    assert direct.written == [HEARTBEAT_CHUNK] and not woken.done() and not stream.beat_due

    direct.writable = False
    stream.beat()
    assert woken.done() and stream.beat_due

    stream, woken = await live_stream(direct)
    stream.end()
    assert woken.done() and stream.ended
