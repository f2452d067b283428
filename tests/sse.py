"""Reading a Server-Sent Events stream for tests: over real HTTP, on a thread; or served
in-process, as an ASGI response."""

import asyncio
import contextlib
import json
import queue
import threading

import httpx

from tests.apps import ADMIN_KEY
from tests.waiting import DEADLINE_S


class EventStream:
    """A stream opened with `headers` and the API key `key` (by default the suite's admin key,
    which every service tests start has; None: no key)."""

    def __init__(self, url: str, headers: dict[str, str] | None = None, key: str | None = ADMIN_KEY) -> None:
        self.events: queue.Queue[dict] = queue.Queue()
        self.comments: queue.Queue[str] = queue.Queue()
        self.last_event_id: str | None = None
        self._client = httpx.Client(timeout=httpx.Timeout(DEADLINE_S, read=None))
        authorization = {} if key is None else {"Authorization": f"Bearer {key}"}
        self._response = self._client.send(
            self._client.build_request("GET", url, headers=authorization | (headers or {})), stream=True
        )
        self.status_code = self._response.status_code
        self.headers = self._response.headers
        if self.status_code == 200:
            threading.Thread(target=self._read, daemon=True).start()

    def next(self, timeout: float = DEADLINE_S) -> dict:
        return self.events.get(timeout=timeout)

    def take(self, count: int, timeout: float = DEADLINE_S) -> list[dict]:
        return [self.next(timeout) for _ in range(count)]

    def close(self) -> None:
        self._response.close()
        self._client.close()

    def __enter__(self) -> "EventStream":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def _read(self) -> None:
        fields: dict[str, str] = {}
        try:
            for line in self._response.iter_lines():
                if line.startswith(":"):
                    self.comments.put(line[1:].strip())
                elif line:
                    name, _, value = line.partition(":")
                    fields[name] = value.removeprefix(" ")
                    if name == "id":  # kept whether or not data comes with it, as EventSource does
                        self.last_event_id = fields[name]
                else:
                    if "data" in fields:
                        data = json.loads(fields["data"])
                        self.events.put({"id": fields.get("id"), "event": fields.get("event"), **data})
                    fields = {}
        except (httpx.HTTPError, ValueError):  # closed by the test, or the server went away
            pass


class ServedResponse:
    """An ASGI response (an event stream) served in-process, as a task: the chunks of its
    body as they are sent, and a client that may leave. With `scope`, it is served that
    scope (by default a bare one, as a server that offers no extension gives)."""

    def __init__(self, response, scope: dict | None = None) -> None:
        self.started: dict | None = None
        self.sends = 0
        self._chunks: asyncio.Queue[bytes | None] = asyncio.Queue()
        self._gone = asyncio.Event()
        self.task = asyncio.ensure_future(response(scope or {"type": "http"}, self._receive, self._send))

    async def next(self) -> bytes | None:
        """The next chunk sent; None once the response has ended."""
        async with asyncio.timeout(DEADLINE_S):
            return await self._chunks.get()

    async def rest(self) -> list[bytes]:
        """Every chunk still to come, until the response ends."""
        chunks = []
        while (chunk := await self.next()) is not None:
            chunks.append(chunk)
        return chunks

    def leave(self) -> None:
        self._gone.set()

    async def close(self) -> None:
        self.task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self.task

    async def _receive(self) -> dict:
        await self._gone.wait()
        return {"type": "http.disconnect"}

    async def _send(self, message: dict) -> None:
        self.sends += 1
        if message["type"] == "http.response.start":
            self.started = message
            return
        if message["body"]:
            await self._chunks.put(message["body"])
        if not message.get("more_body", False):
            await self._chunks.put(None)
