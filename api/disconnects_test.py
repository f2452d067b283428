import asyncio

import pytest
from starlette.requests import ClientDisconnect

from api.disconnects import ended_by_disconnect
from tests.waiting import DEADLINE_S

pytestmark = pytest.mark.anyio


async def stays():
    await asyncio.sleep(3600)


def leaves_after(delay_s: float):
    messages = [{"type": "http.request", "body": b"", "more_body": False}]

    async def receive():
        if messages:
            return messages.pop()
        await asyncio.sleep(delay_s)
        return {"type": "http.disconnect"}

    return receive


async def test_a_client_that_stays_changes_nothing():
    async with ended_by_disconnect(stays):
        await asyncio.sleep(0.01)
        result = "done"
    assert result == "done"


async def test_a_disconnect_cancels_the_block_at_once():
    async with asyncio.timeout(DEADLINE_S):  # not cancelled, the block would sleep for an hour
        with pytest.raises(ClientDisconnect):
            async with ended_by_disconnect(leaves_after(0.05)):
                await asyncio.sleep(3600)
    assert asyncio.current_task().cancelling() == 0
    await asyncio.sleep(0.01)  # and the task carries on as usual


async def test_a_disconnect_heard_as_the_block_ends_cancels_nothing():
    async def gone():
        return {"type": "http.disconnect"}

    async with ended_by_disconnect(gone):
        await asyncio.sleep(0)  # the listener hears it meanwhile; the block ends before it can act
    await asyncio.sleep(0.05)  # not cancelled


async def test_other_cancellations_stay_cancellations():
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.05), ended_by_disconnect(stays):
            await asyncio.sleep(3600)
