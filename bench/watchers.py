"""Idle watchers: N Server-Sent Events streams on one process, then one write.

    pipenv run python -m bench.watchers [--watchers 1000 5000]

Starts the service on a fresh embedded database, opens the streams (plain asyncio sockets,
so the client is cheap), makes one write, and reports how long after the write's response
each stream received the event (p50/p99/max), and the server's resident memory before and
after the streams were opened.
"""

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

from tests.server import service_process

CONNECT_BATCH = 250


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


async def open_stream(host: str, port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    reader, writer = await asyncio.open_connection(host, port)
    writer.write(f"GET /api/v1/events HTTP/1.1\r\nHost: {host}\r\nAccept: text/event-stream\r\n\r\n".encode())
    await reader.readuntil(b"\r\n\r\n")
    return reader, writer


async def first_event_at(reader: asyncio.StreamReader) -> float:
    seen = b""
    while b"\nevent: " not in seen:  # the opening frame and heartbeats have no event line
        chunk = await reader.read(4096)
        if not chunk:
            raise ConnectionError("stream closed")
        seen = seen[-16:] + chunk
    return time.perf_counter()


async def measure(base_url: str, pid: int, watchers: int) -> dict:
    host, port = base_url.removeprefix("http://").split(":")
    async with httpx.AsyncClient(base_url=base_url) as client:
        app_id = (await client.post("/api/v1/applications", json={"name": f"bench-{watchers}"})).json()["id"]
        rss_before = rss_kib(pid)
        streams = []
        for start in range(0, watchers, CONNECT_BATCH):
            count = min(CONNECT_BATCH, watchers - start)
            streams += await asyncio.gather(*(open_stream(host, int(port)) for _ in range(count)))
        await asyncio.sleep(1)
        rss_after = rss_kib(pid)

        receipts = [asyncio.ensure_future(first_event_at(reader)) for reader, _ in streams]
        await asyncio.sleep(0.2)
        response = await client.put(f"/api/v1/applications/{app_id}", json={"comments": "wake up"})
        answered = time.perf_counter()
        assert response.status_code == 200, response.text
        delays = sorted(at - answered for at in await asyncio.gather(*receipts))
        for _, writer in streams:
            writer.close()
    return {
        "watchers": watchers,
        "p50_ms": statistics.median(delays) * 1000,
        "p99_ms": delays[int(len(delays) * 0.99) - 1] * 1000,
        "max_ms": delays[-1] * 1000,
        "rss_before_mib": rss_before / 1024,
        "rss_after_mib": rss_after / 1024,
        "kib_per_watcher": (rss_after - rss_before) / watchers,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--watchers", type=int, nargs="+", default=[1000, 5000])
    args = parser.parse_args()
    heading = ("watchers", "p50 ms", "p99 ms", "max ms", "RSS before", "RSS after", "KiB/watcher")
    print(
        " ".join(f"{title:>{width}}" for title, width in zip(heading, (8, 8, 8, 8, 11, 10, 12), strict=True))
    )
    for watchers in args.watchers:
        with tempfile.TemporaryDirectory() as data_dir:
            env = {"DATA_DIR": data_dir, "LOG_LEVEL": "warning"}
            with service_process(env) as service:
                row = asyncio.run(measure(service.url, service.pid, watchers))
        print(
            f"{row['watchers']:>8} {row['p50_ms']:>8.1f} {row['p99_ms']:>8.1f} {row['max_ms']:>8.1f}"
            f" {row['rss_before_mib']:>9.1f}Mi {row['rss_after_mib']:>8.1f}Mi {row['kib_per_watcher']:>12.1f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
