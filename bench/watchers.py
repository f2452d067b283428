"""Idle watchers: N Server-Sent Events streams on one process, then one write.

    pipenv run python -m bench.watchers [--watchers 1000 5000] [--json PATH]

Starts the service (on a fresh embedded database, or DATABASE_URL), opens the streams
(bare asyncio sockets, so the client is cheap), makes one write, and reports how long after
the write's response each stream received the event (p50/p99/max; and p99 counted from when
the write was sent, which no clock ordering can make low), and the server's resident memory
before and after the streams were opened. With --json, the rows are also written to PATH
(`{"rows": [...]}`, one per watcher count, the keys of measure()), for bench.suite to read.

Every arrival is timed in the protocol callback that receives its bytes, not when a task
gets round to reading them: with thousands of sockets ready at once, a task reading the
write's response could resume after the events had been read, and delays would read low
or even negative. The client shares the machine with the service, so it runs on uvloop,
as the service does, and does as little as it can per socket: what it spends delays the
service's writes too.
"""

import argparse
import asyncio
import contextlib
import json
import math
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx
import uvloop

from bench.suite import api_key, authorized, service_env
from tests.server import service_process

CONNECT_BATCH = 250
# What a stream waits for: the write's event. It may hear the application's creation first,
# when the service's feed had not caught up with it yet as the stream opened.
WRITE_EVENT = b"\nevent: application.updated\n"
# Besides one socket per watcher, in each process: the client's other files; the service's
# pool, listener and log (about 30 of them).
SPARE_FILES = 64
# Besides the watchers' connections, the service must admit the benchmark's own requests.
SPARE_CONNECTIONS = 10


class Stream(asyncio.Protocol):
    """One idle event stream; notes when its first event arrives."""

    def __init__(self, request: bytes) -> None:
        loop = asyncio.get_running_loop()
        self.request = request
        self.opened = loop.create_future()  # the response head has arrived
        self.first_event_at = loop.create_future()
        self._tail = b""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport
        transport.write(self.request)

    def data_received(self, data: bytes) -> None:
        now = time.perf_counter()
        seen = self._tail + data
        self._tail = seen[-len(WRITE_EVENT) :]
        if not self.opened.done() and b"\r\n\r\n" in seen:
            self.opened.set_result(None)
        if self.opened.done() and not self.first_event_at.done() and WRITE_EVENT in seen:
            self.first_event_at.set_result(now)

    def connection_lost(self, exc: Exception | None) -> None:
        for waiter in (self.opened, self.first_event_at):
            if not waiter.done():
                waiter.set_exception(ConnectionError("stream closed"))


class Exchange(asyncio.Protocol):
    """One request; notes when the first bytes of its response arrive."""

    def __init__(self, request: bytes) -> None:
        self.request = request
        self.answered = asyncio.get_running_loop().create_future()  # (time, first bytes)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        transport.write(self.request)

    def data_received(self, data: bytes) -> None:
        if not self.answered.done():
            self.answered.set_result((time.perf_counter(), data))

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.answered.done():
            self.answered.set_exception(ConnectionError("closed before answering"))


def http_request(
    method: str, host: str, path: str, body: dict | None = None, *, key: str | None = None
) -> bytes:
    """A request's bytes; with `key`, it carries that API key."""
    head = f"{method} {path} HTTP/1.1\r\nHost: {host}\r\n"
    if key is not None:
        head += f"Authorization: Bearer {key}\r\n"
    if body is None:
        return f"{head}\r\n".encode()
    content = json.dumps(body).encode()
    return (
        f"{head}Content-Type: application/json\r\nContent-Length: {len(content)}\r\n\r\n".encode() + content
    )


async def answer(host: str, port: int, request: bytes) -> tuple[float, bytes]:
    """When the response began arriving, and its first bytes."""
    transport, exchange = await asyncio.get_running_loop().create_connection(
        lambda: Exchange(request), host, port
    )
    try:
        return await exchange.answered
    finally:
        transport.close()


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def p99(ordered: list[float]) -> float:
    """Nearest rank: the least sample that at least 99% of them do not exceed."""
    return ordered[math.ceil(len(ordered) * 0.99) - 1]


async def open_streams(host: str, port: int, count: int, key: str) -> list[Stream]:
    loop = asyncio.get_running_loop()
    # Not filtered: every stream hears the write.
    request = http_request("GET", host, "/api/v1/events", key=key)
    streams: list[Stream] = []
    for start in range(0, count, CONNECT_BATCH):
        batch = min(CONNECT_BATCH, count - start)
        connected = await asyncio.gather(
            *(loop.create_connection(lambda: Stream(request), host, port) for _ in range(batch))
        )
        streams += [stream for _, stream in connected]
    await asyncio.gather(*(stream.opened for stream in streams))
    return streams


async def measure(base_url: str, pid: int, watchers: int, key: str) -> dict:
    """With `key` sent on every request."""
    host, port = base_url.removeprefix("http://").split(":")
    name = f"bench-{watchers}-{time.time_ns()}"  # unique also on a database that is kept
    async with httpx.AsyncClient(base_url=base_url, headers=authorized(key)) as client:
        created = await client.post("/api/v1/applications", json={"name": name})
    assert created.status_code == 201, created.text
    app_id = created.json()["id"]
    rss_before = rss_kib(pid)
    streams = await open_streams(host, int(port), watchers, key)
    await asyncio.sleep(1)
    rss_after = rss_kib(pid)

    write = http_request("PUT", host, f"/api/v1/applications/{app_id}", {"comments": "wake up"}, key=key)
    sent = time.perf_counter()
    answered, response = await answer(host, int(port), write)
    assert response.startswith(b"HTTP/1.1 200"), response
    received = await asyncio.gather(*(stream.first_event_at for stream in streams))
    for stream in streams:
        stream.transport.close()
    after_answer = sorted(at - answered for at in received)
    after_sending = sorted(at - sent for at in received)
    return {
        "watchers": watchers,
        "write_ms": (answered - sent) * 1000,
        "p50_ms": statistics.median(after_answer) * 1000,
        "p99_ms": p99(after_answer) * 1000,
        "max_ms": after_answer[-1] * 1000,
        "p99_from_sending_ms": p99(after_sending) * 1000,
        "rss_before_mib": rss_before / 1024,
        "rss_after_mib": rss_after / 1024,
        "kib_per_watcher": (rss_after - rss_before) / watchers,
    }


def raise_open_files_limit(needed: int = 0) -> int:
    """The soft limit on open files raised to the hard one, and both to `needed` where the
    hard one is lower and the process may raise it (root may); the service, started from
    here, inherits them. Never lowers either. Returns the soft limit now in force (-1: none)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < needed:
        with contextlib.suppress(ValueError, OSError):  # not allowed: the caller says so
            resource.setrlimit(resource.RLIMIT_NOFILE, (needed, needed))
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard and hard != resource.RLIM_INFINITY:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def fitting(watchers: int, open_files_limit: int) -> int:
    """As many of `watchers` as the limit on open files lets each process hold: where the
    hard limit cannot be raised, the most it allows is measured rather than nothing."""
    if open_files_limit == resource.RLIM_INFINITY:
        return watchers
    return max(1, min(watchers, open_files_limit - SPARE_FILES))


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--watchers", type=int, nargs="+", default=[1000, 5000])
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write the rows to PATH, as JSON")
    return parser.parse_args(argv)


def service_settings(scratch: Path, key: str, watchers: int) -> dict[str, str]:
    """The service's environment: the suite's, quiet, and admitting every watcher."""
    return {
        **service_env(scratch, key),
        "LOG_LEVEL": "warning",
        "MAX_CONNECTIONS": str(watchers + SPARE_CONNECTIONS),
    }


def write_json(path: Path, rows: list[dict]) -> None:
    path.write_text(json.dumps({"rows": rows}, indent=2) + "\n")


HEADING = (
    ("watchers", 8),
    ("write ms", 9),
    ("p50 ms", 8),
    ("p99 ms", 8),
    ("max ms", 8),
    ("p99 sent", 9),
    ("RSS before", 11),
    ("RSS after", 10),
    ("KiB/watcher", 12),
)


def main() -> int:
    args = parse_args()
    limit = raise_open_files_limit(max(args.watchers) + SPARE_FILES)
    counts = [fitting(watchers, limit) for watchers in args.watchers]
    for asked, measured in zip(args.watchers, counts, strict=True):
        if measured < asked:
            print(
                f"WARNING: {asked} watchers need {asked + SPARE_FILES} open files and {limit} are"
                f" allowed (ulimit -Hn): measuring {measured}",
                file=sys.stderr,
            )
    print(" ".join(f"{title:>{width}}" for title, width in HEADING))
    key = api_key()
    rows = []
    for asked, watchers in zip(args.watchers, counts, strict=True):
        with (
            tempfile.TemporaryDirectory() as scratch,
            service_process(service_settings(Path(scratch), key, watchers)) as service,
        ):
            row = uvloop.run(measure(service.url, service.pid, watchers, key))
        rows.append({**row, "requested": asked})
        if args.json is not None:  # after each count, so that a later failure keeps these
            write_json(args.json, rows)
        print(
            f"{row['watchers']:>8} {row['write_ms']:>9.1f} {row['p50_ms']:>8.1f} {row['p99_ms']:>8.1f}"
            f" {row['max_ms']:>8.1f} {row['p99_from_sending_ms']:>9.1f}"
            f" {row['rss_before_mib']:>9.1f}Mi {row['rss_after_mib']:>8.1f}Mi {row['kib_per_watcher']:>12.1f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
