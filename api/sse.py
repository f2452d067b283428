"""Server-Sent Events framing of the change feed."""

import contextlib
from collections.abc import AsyncIterator
from functools import lru_cache

from starlette.requests import ClientDisconnect
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from api.disconnects import ended_by_disconnect
from models.changes import ChangeEvent

# Sent first: a reconnect delay for EventSource clients, and bytes that make proxies pass
# the headers on at once.
OPENING = b"retry: 3000\n: stream open\n\n"
HEARTBEAT = b": heartbeat\n\n"


@lru_cache(maxsize=1024)  # one change goes to every stream in the process: render it once
def frame(event: ChangeEvent) -> bytes:
    return f"id: {event.seq}\nevent: {event.action}\ndata: {event.model_dump_json()}\n\n".encode()


class EventStreamResponse(Response):
    """An ASGI response streaming `frames` until they end or the client goes away.

    Starlette's StreamingResponse runs two tasks in an anyio task group per stream; with
    thousands of idle streams open, one task listening for the disconnect is enough. A
    disconnect ends the stream at once, whatever it was waiting for.
    """

    media_type = "text/event-stream"

    # Not calling Response.__init__: it would render a body, and a stream has none up front.
    def __init__(self, frames: AsyncIterator[bytes]) -> None:
        self.frames = frames
        self.background = None
        self.raw_headers = [
            (b"content-type", b"text/event-stream; charset=utf-8"),
            (b"cache-control", b"no-cache"),
            (b"x-accel-buffering", b"no"),  # nginx: pass events on at once
        ]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": self.raw_headers})
        try:
            with contextlib.suppress(ClientDisconnect):  # nobody is left to tell anything
                async with ended_by_disconnect(receive):
                    async for chunk in self.frames:
                        await send({"type": "http.response.body", "body": chunk, "more_body": True})
                    await send({"type": "http.response.body", "body": b"", "more_body": False})
        finally:
            await self.frames.aclose()
