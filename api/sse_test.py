import asyncio
import json
from datetime import UTC, datetime

import pytest

from api.sse import EventStreamResponse, frame
from models.changes import ChangeEvent
from tests.waiting import DEADLINE_S


def test_a_frame_is_one_sse_event():
    event = ChangeEvent(
        seq=9,
        action="configuration.updated",
        entity_type="configuration",
        entity_id="C",
        application_id="A",
        name="db",
        version=3,
        occurred_at=datetime(2026, 1, 1, tzinfo=UTC),
        actor="me",
    )
    text = frame(event).decode()
    lines = text.split("\n")
    assert lines[:2] == ["id: 9", "event: configuration.updated"]
    assert json.loads(lines[2].removeprefix("data: "))["version"] == 3
    assert text.endswith("\n\n")
    assert frame(event) is frame(event)  # rendered once for every stream


class Recorder:
    def __init__(self) -> None:
        self.sent: list[dict] = []

    async def __call__(self, message: dict) -> None:
        self.sent.append(message)


async def frames(closed: list, count: int | None):
    try:
        n = 0
        while count is None or n < count:
            n += 1
            yield f"frame {n}".encode()
            await asyncio.sleep(0.01)
    finally:
        closed.append(True)


@pytest.mark.anyio
async def test_a_finite_stream_is_sent_and_ended():
    send, closed = Recorder(), []

    async def connected():
        await asyncio.sleep(3600)

    await EventStreamResponse(frames(closed, 2))({"type": "http"}, connected, send)

    assert send.sent[0]["status"] == 200
    assert dict(send.sent[0]["headers"])[b"content-type"] == b"text/event-stream; charset=utf-8"
    assert [m.get("body") for m in send.sent[1:]] == [b"frame 1", b"frame 2", b""]
    assert send.sent[-1]["more_body"] is False
    assert closed == [True]


@pytest.mark.anyio
async def test_a_departed_client_ends_the_stream():
    send, closed = Recorder(), []

    async def disconnects():
        return {"type": "http.disconnect"}

    async with asyncio.timeout(DEADLINE_S):  # a stream the departure did not end would run forever
        await EventStreamResponse(frames(closed, None))({"type": "http"}, disconnects, send)

    assert len(send.sent) <= 3
    assert closed == [True]


@pytest.mark.anyio
async def test_a_departed_client_ends_a_stream_that_has_nothing_to_send():
    send, closed = Recorder(), []

    async def silent():
        try:
            await asyncio.Event().wait()  # no change, and no heartbeat due for a long while
            yield b"never"
        finally:
            closed.append(True)

    async def disconnects_soon():
        await asyncio.sleep(0.05)
        return {"type": "http.disconnect"}

    async with asyncio.timeout(DEADLINE_S):  # a stream the departure did not end would wait forever
        await EventStreamResponse(silent())({"type": "http"}, disconnects_soon, send)

    assert [m["type"] for m in send.sent] == ["http.response.start"]
    assert closed == [True]
    assert asyncio.current_task().cancelling() == 0
