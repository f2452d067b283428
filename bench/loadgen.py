"""A closed-loop HTTP/1.1 load generator for machines without wrk.

One asyncio process per core, raw keep-alive sockets, minimal parsing: cheap enough not to
be what is measured. It reports what the suite reads from wrk, and fails as wrk does: a
connection that breaks (refused, reset, silent past the timeout, answering what it cannot
parse) counts one socket error and is opened again, so the loop keeps its connections; and
a run ends on time whatever the server does. Responses must carry Content-Length (the
service's and the ceiling's do).
"""

import asyncio
import itertools
import multiprocessing
import os
import queue
import random
import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit

# As the suite gives wrk (--timeout): a request not answered by then is an error.
TIMEOUT_S = 10.0
# Beyond its run, how long a worker may take to start and to report before it is given up on.
START_GRACE_S = 10.0
# After a failed connect, a pause before the next, so that a closed port is not a busy loop.
RECONNECT_PAUSE_S = 0.01

_sequence = itertools.count(1)  # per process: makes every PUT body of a run new


class BadResponse(Exception):
    """Not a response this reader understands: the connection is out of step."""


_GET_HEADERS = {"not-modified": 'If-None-Match: "1"\r\n', "gzip": "Accept-Encoding: gzip\r\n"}


@dataclass(frozen=True)
class Plan:
    """What every connection does; sent to the worker processes."""

    host: str
    port: int
    paths: list[str]
    mode: str  # get | gzip | not-modified | put | post (of `body`)
    expect: int | None  # the status wanted; None: any 2xx
    seconds: float
    timeout_s: float
    key: str | None = None  # the API key every request carries; None: none
    body: bytes = b""  # a post's: the same every time (an evaluation: it reads, writes nothing)

    def request(self) -> bytes:
        path = random.choice(self.paths)
        every = f"Host: {self.host}\r\n"  # what every request's head holds
        if self.key is not None:
            every += f"Authorization: Bearer {self.key}\r\n"
        if self.mode == "put":
            body = f'{{"config": {{"writer": {os.getpid()}, "n": {next(_sequence)}}}}}'.encode()
            head = f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
            return f"PUT {path} HTTP/1.1\r\n{every}{head}\r\n".encode() + body
        if self.mode == "post":
            head = f"Content-Type: application/json\r\nContent-Length: {len(self.body)}\r\n"
            return f"POST {path} HTTP/1.1\r\n{every}{head}\r\n".encode() + self.body
        extra = _GET_HEADERS.get(self.mode, "")
        return f"GET {path} HTTP/1.1\r\n{every}{extra}\r\n".encode()

    def unexpected(self, status: int) -> bool:
        return status != self.expect if self.expect is not None else not 200 <= status < 300


@dataclass
class Tally:
    connections: int
    latencies: list[float] = field(default_factory=list)
    unexpected: int = 0
    socket_errors: int = 0

    def add(self, other: "Tally") -> None:
        self.connections += other.connections
        self.latencies += other.latencies
        self.unexpected += other.unexpected
        self.socket_errors += other.socket_errors


async def _exchange(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, plan: Plan
) -> tuple[int, bool]:
    """One request and its response: the status, and whether the connection stays open."""
    writer.write(plan.request())
    status_line = await reader.readline()
    try:
        status = int(status_line.split(None, 2)[1])
    except (IndexError, ValueError):
        raise BadResponse(f"status line {status_line!r}") from None
    length, keep_alive = 0, True
    while (line := await reader.readline()) not in (b"\r\n", b"\n"):
        if not line.endswith(b"\n"):
            raise BadResponse("closed within the head")
        name, _, value = line.partition(b":")
        name = name.lower()
        if name == b"content-length":
            try:
                length = int(value)
            except ValueError:
                raise BadResponse(f"header {line!r}") from None
        elif name == b"connection":
            keep_alive = value.strip().lower() != b"close"
        elif name == b"transfer-encoding":
            raise BadResponse("chunked bodies are not read")
    await reader.readexactly(length)
    return status, keep_alive


async def _connection(plan: Plan, deadline: float, tally: Tally) -> None:
    """One connection of the closed loop, opened again whenever it breaks, until `deadline`."""
    loop = asyncio.get_running_loop()

    def limit() -> asyncio.Timeout:
        # A request still out when the run ends is cut then, and that is no error.
        return asyncio.timeout_at(min(loop.time() + plan.timeout_s, deadline))

    while loop.time() < deadline:
        writer = None
        try:
            async with limit():
                reader, writer = await asyncio.open_connection(plan.host, plan.port)
            keep_alive = True
            while keep_alive and loop.time() < deadline:
                started = time.perf_counter()
                async with limit():
                    status, keep_alive = await _exchange(reader, writer, plan)
                tally.latencies.append(time.perf_counter() - started)
                tally.unexpected += plan.unexpected(status)
        except TimeoutError:  # before OSError, of which it is one
            if loop.time() < deadline:
                tally.socket_errors += 1
        except (OSError, EOFError, BadResponse):  # EOFError: asyncio.IncompleteReadError
            tally.socket_errors += 1
            if writer is None:
                await asyncio.sleep(RECONNECT_PAUSE_S)
        finally:
            if writer is not None:
                writer.close()


async def _connections(plan: Plan, tally: Tally) -> None:
    deadline = asyncio.get_running_loop().time() + plan.seconds
    await asyncio.gather(*(_connection(plan, deadline, tally) for _ in range(tally.connections)))


def _worker(plan: Plan, connections: int, results: multiprocessing.Queue) -> None:
    tally = Tally(connections)
    try:
        asyncio.run(_connections(plan, tally))
    finally:  # whatever happened, the parent hears of it
        results.put(tally)


def _collect(workers: list, shares: list[int], results: multiprocessing.Queue, deadline: float) -> Tally:
    """What the workers report; the connections of any that cannot (it died, or it is still
    running at `deadline`) are counted as socket errors. Never waits past `deadline`."""
    total = Tally(0)
    reported = 0
    while reported < len(workers):
        gone = time.monotonic() > deadline or not any(worker.is_alive() for worker in workers)
        try:
            tally = results.get(timeout=0.1)
        except queue.Empty:
            if gone:  # nothing more can come
                break
            continue
        total.add(tally)
        reported += 1
    for worker in workers:
        worker.join(timeout=max(0.0, min(1.0, deadline - time.monotonic())))
        if worker.is_alive():
            worker.terminate()
            worker.join()
    total.socket_errors += sum(shares) - total.connections
    return total


def run(
    url: str,
    paths: list[str],
    mode: str,
    connections: int,
    seconds: float,
    *,
    expect: int | None = None,
    timeout_s: float = TIMEOUT_S,
    key: str | None = None,
    body: bytes = b"",
) -> dict:
    """Load `url` with `connections` for `seconds`, each request with the API key `key` (None:
    none), and a post with `body`; figures as the suite reads them from wrk. A response whose
    status is not `expect` (None: not 2xx) counts as unexpected."""
    parts = urlsplit(url)
    plan = Plan(parts.hostname, parts.port or 80, paths, mode, expect, seconds, timeout_s, key, body)
    processes = max(1, min(os.cpu_count() or 1, connections))
    shares = [connections // processes + (i < connections % processes) for i in range(processes)]
    # Spawned, not forked: a fork of a threaded parent (the suite, a test runner) can inherit
    # a lock another thread held, and hang.
    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    workers = [context.Process(target=_worker, args=(plan, share, results), daemon=True) for share in shares]
    for worker in workers:
        worker.start()
    total = _collect(workers, shares, results, time.monotonic() + seconds + START_GRACE_S)
    latencies = sorted(total.latencies)
    return {
        "req_s": len(latencies) / seconds,
        "p50_ms": latencies[len(latencies) // 2] * 1000 if latencies else None,
        "p99_ms": latencies[int(len(latencies) * 0.99)] * 1000 if latencies else None,
        "unexpected": total.unexpected,
        "socket_errors": total.socket_errors,
    }
