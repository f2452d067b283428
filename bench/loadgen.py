"""A closed-loop HTTP/1.1 load generator for machines without wrk.

One asyncio process per core, raw keep-alive sockets, minimal parsing: cheap enough not to
be what is measured. It reports what the suite reads from wrk.
"""

import asyncio
import multiprocessing
import os
import random
import time
from urllib.parse import urlsplit


async def _connection(host, port, paths, method, headers, body_for, deadline, latencies, counts):
    reader, writer = await asyncio.open_connection(host, port)
    n = 0
    try:
        while time.perf_counter() < deadline:
            n += 1
            body = body_for(n)
            head = f"{method} {random.choice(paths)} HTTP/1.1\r\nHost: {host}\r\n{headers}"
            if body:
                head += f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
            started = time.perf_counter()
            writer.write(head.encode() + b"\r\n" + body)
            status_line = await reader.readline()
            length = 0
            while (line := await reader.readline()) not in (b"\r\n", b""):
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:])
            await reader.readexactly(length)
            latencies.append(time.perf_counter() - started)
            status = int(status_line.split()[1])
            counts["non_2xx"] += status >= 400
    except (OSError, asyncio.IncompleteReadError):
        counts["socket_errors"] += 1
    finally:
        writer.close()


def _worker(url, paths, method, headers, put, connections, seconds, queue):
    parts = urlsplit(url)
    latencies, counts = [], {"non_2xx": 0, "socket_errors": 0}

    def body_for(n: int) -> bytes:
        return f'{{"config": {{"writer": {os.getpid()}, "n": {n}}}}}'.encode() if put else b""

    async def run():
        deadline = time.perf_counter() + seconds
        await asyncio.gather(
            *(
                _connection(
                    parts.hostname, parts.port, paths, method, headers, body_for, deadline, latencies, counts
                )
                for _ in range(connections)
            )
        )

    asyncio.run(run())
    queue.put((latencies, counts))


def run(url: str, paths: list[str], mode: str, connections: int, seconds: int) -> dict:
    method = "PUT" if mode == "put" else "GET"
    headers = 'If-None-Match: "1"\r\n' if mode == "not-modified" else ""
    processes = max(1, min(os.cpu_count() or 1, connections))
    queue = multiprocessing.Queue()
    shares = [connections // processes + (i < connections % processes) for i in range(processes)]
    workers = [
        multiprocessing.Process(
            target=_worker, args=(url, paths, method, headers, mode == "put", share, seconds, queue)
        )
        for share in shares
    ]
    for worker in workers:
        worker.start()
    latencies, non_2xx, socket_errors = [], 0, 0
    for _ in workers:
        got, counts = queue.get()
        latencies += got
        non_2xx += counts["non_2xx"]
        socket_errors += counts["socket_errors"]
    for worker in workers:
        worker.join()
    latencies.sort()
    return {
        "req_s": len(latencies) / seconds,
        "p50_ms": latencies[len(latencies) // 2] * 1000 if latencies else None,
        "p99_ms": latencies[int(len(latencies) * 0.99)] * 1000 if latencies else None,
        "non_2xx": non_2xx,
        "socket_errors": socket_errors,
    }
