"""An HTTP proxy in front of the real service that fails when told to: it drops the next
requests (closes the connection without a word, as a crashed or restarting peer does) or
answers them itself with 503 or 429 and Retry-After (as a service whose database is down, or
a key beyond its rate, does); everything else it forwards, streams included. It records what
it saw, so that tests can count tries and tell a 304 from a 200 on the wire.

Not a mock: behind it, the real service answers every request it forwards.
"""

import contextlib
import json
import socket
import sys
import threading
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx

# Headers of one connection, not of the message (RFC 9110 7.6.1), and those the proxy
# sets itself for the body it writes.
_OWN_HEADERS = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "host",
        "content-length",
    }
)
_NO_BODY = frozenset({204, 304})


@dataclass(frozen=True)
class Seen:
    """A request the proxy received: what it did with it, and the status it answered
    (None when it answered nothing)."""

    method: str
    path: str
    outcome: str  # "forwarded", "dropped", "refused" or "unreachable" (the service did not answer)
    status: int | None
    headers: dict[str, str]


@dataclass(frozen=True)
class _Refusal:
    status: int
    retry_after: str | None


_DROP = object()


class HttpFaults:
    """The proxy, listening on 127.0.0.1 at `port` (0: any free one) until closed. Its `url`
    stands in for the service's."""

    def __init__(self, upstream_url: str, *, port: int = 0) -> None:
        self.upstream_url = upstream_url.rstrip("/")
        self._lock = threading.Lock()
        self._faults: deque[Any] = deque()
        self._seen: list[Seen] = []
        self._connections: set[socket.socket] = set()
        # Streams (the change feed) wait for events as long as they come.
        self._upstream = httpx.Client(base_url=self.upstream_url, timeout=httpx.Timeout(30, read=None))
        self._server = _Server(("127.0.0.1", port), _handler_for(self))
        self.port: int = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, name="http-faults", daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def drop_next(self, count: int = 1) -> None:
        """Close the connection of each of the next `count` requests without answering."""
        with self._lock:
            self._faults.extend([_DROP] * count)

    def refuse_next(self, count: int = 1, *, status: int = 503, retry_after: str | None = "1") -> None:
        """Answer each of the next `count` requests with `status` (and Retry-After) itself,
        as a problem document, without forwarding it."""
        with self._lock:
            self._faults.extend([_Refusal(status, retry_after)] * count)

    def clear(self) -> None:
        """Forget the faults not yet used."""
        with self._lock:
            self._faults.clear()

    @property
    def seen(self) -> list[Seen]:
        with self._lock:
            return list(self._seen)

    def count(
        self,
        *,
        method: str | None = None,
        path: str | None = None,
        outcome: str | None = None,
        status: int | None = None,
    ) -> int:
        """How many requests matched: `path` is a prefix of the path and query."""
        return sum(
            1
            for seen in self.seen
            if (method is None or seen.method == method)
            and (path is None or seen.path.startswith(path))
            and (outcome is None or seen.outcome == outcome)
            and (status is None or seen.status == status)
        )

    def close(self) -> None:
        """Stop listening, and end the connections open: nothing answers at `url` afterwards."""
        self._server.shutdown()
        self._server.server_close()
        with self._lock:
            connections = list(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):  # closed by its client already
                connection.shutdown(socket.SHUT_RDWR)
        self._upstream.close()

    def __enter__(self) -> "HttpFaults":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # --- used by the handler ------------------------------------------------------------

    def _next_fault(self) -> Any:
        with self._lock:
            return self._faults.popleft() if self._faults else None

    def _saw(self, seen: Seen) -> None:
        with self._lock:
            self._seen.append(seen)

    def _opened(self, connection: socket.socket) -> None:
        with self._lock:
            self._connections.add(connection)

    def _closed(self, connection: socket.socket) -> None:
        with self._lock:
            self._connections.discard(connection)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    # A client may keep a connection open after the test: closing must not wait for it.
    block_on_close = False

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client gone mid-answer (as tests' clients go), or the proxy closed under a stream.
        if isinstance(sys.exc_info()[1], OSError | httpx.TransportError):
            return
        super().handle_error(request, client_address)


def _handler_for(faults: HttpFaults) -> type[BaseHTTPRequestHandler]:
    class Handler(_Handler):
        pass

    Handler.faults = faults
    return Handler


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the service speaks it
    faults: HttpFaults

    def setup(self) -> None:
        super().setup()
        self.faults._opened(self.connection)

    def finish(self) -> None:
        self.faults._closed(self.connection)
        super().finish()

    def log_message(self, format: str, *args: Any) -> None:
        pass  # a test's output is not the place for an access log

    def do_GET(self) -> None:
        self._handle()

    do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = do_GET

    def _handle(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        headers = {name: value for name, value in self.headers.items()}
        fault = self.faults._next_fault()
        if fault is _DROP:
            self.faults._saw(Seen(self.command, self.path, "dropped", None, headers))
            self.close_connection = True
            return
        if isinstance(fault, _Refusal):
            self.faults._saw(Seen(self.command, self.path, "refused", fault.status, headers))
            self._refuse(fault)
            return
        self._forward(body, headers)

    def _refuse(self, refusal: _Refusal) -> None:
        problem = {
            "type": "urn:http-faults:injected",
            "title": "Injected fault",
            "status": refusal.status,
            "detail": "answered by tests/http_faults.py",
        }
        body = json.dumps(problem).encode()
        self.send_response_only(refusal.status)
        self.send_header("Content-Type", "application/problem+json")
        if refusal.retry_after is not None:
            self.send_header("Retry-After", refusal.retry_after)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _forward(self, body: bytes, headers: dict[str, str]) -> None:
        forwarded = [
            (name, value) for name, value in self.headers.items() if name.lower() not in _OWN_HEADERS
        ]
        request = self.faults._upstream.build_request(
            self.command, self.path, headers=forwarded, content=body
        )
        try:
            response = self.faults._upstream.send(request, stream=True)
        except httpx.TransportError:
            self.faults._saw(Seen(self.command, self.path, "unreachable", 502, headers))
            self._refuse(_Refusal(502, None))
            return
        try:
            self.faults._saw(Seen(self.command, self.path, "forwarded", response.status_code, headers))
            self._relay(response)
        finally:
            response.close()

    def _relay(self, response: httpx.Response) -> None:
        self.send_response_only(response.status_code, response.reason_phrase)
        for name, value in response.headers.multi_items():
            if name.lower() not in _OWN_HEADERS:
                self.send_header(name, value)
        if self.command == "HEAD" or response.status_code in _NO_BODY:
            self.end_headers()
            return
        length = response.headers.get("Content-Length")
        if length is not None:
            self.send_header("Content-Length", length)
            self.end_headers()
            for chunk in response.iter_raw():
                self.wfile.write(chunk)
            return
        # A body of unknown length (an event stream): chunk by chunk, as it comes.
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        for chunk in _nonempty(response.iter_raw()):
            self.wfile.write(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
            self.wfile.flush()
        self.wfile.write(b"0\r\n\r\n")


def _nonempty(chunks: Iterator[bytes]) -> Iterator[bytes]:
    return (chunk for chunk in chunks if chunk)
