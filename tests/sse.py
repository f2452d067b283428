"""Reading a Server-Sent Events stream over real HTTP, on a thread, for tests."""

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
                elif "data" in fields:
                    self.events.put(
                        {"id": fields.get("id"), "event": fields.get("event"), **json.loads(fields["data"])}
                    )
                    fields = {}
        except (httpx.HTTPError, ValueError):  # closed by the test, or the server went away
            pass
