"""Noticing that a client has gone while its request waits on something else.

Long polls and event streams wait on the change feed, not on their sockets, so a departed
client would be noticed only when something is sent to it: for a long poll, not before its
wait ends. One task per request listens for `http.disconnect`; nothing is added per frame
or per wake-up.
"""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.requests import ClientDisconnect
from starlette.types import Receive


@asynccontextmanager
async def ended_by_disconnect(receive: Receive) -> AsyncIterator[None]:
    """Run the block; should the client disconnect first, cancel it and raise
    ClientDisconnect. Any other cancellation (a shutdown) stays a cancellation."""
    task = asyncio.current_task()
    inside = True  # a disconnect heard once the block is over must cancel nothing
    gone = False

    def heard(listener: asyncio.Future) -> None:
        nonlocal gone
        if inside and not listener.cancelled() and listener.exception() is None:
            gone = True
            task.cancel()

    listener = asyncio.ensure_future(_disconnect(receive))
    listener.add_done_callback(heard)
    try:
        yield
    except asyncio.CancelledError:
        if gone and task.uncancel() == 0:
            raise ClientDisconnect from None
        raise
    finally:
        inside = False
        listener.cancel()


async def _disconnect(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass
