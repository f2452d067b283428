"""The floor: a bare ASGI callable, no framework, answering every request with fixed JSON bytes.

What any Python web service pays per request under this server, before doing anything of its
own: uvicorn's parsing and writing (httptools, on uvloop when installed, as the service runs),
one ASGI call, two sends. Served with the same worker count as the service it is compared
with, and no access log.

    FLOOR_BODY=response.json PORT=8101 WEB_CONCURRENCY=1 python -m bench.floor
"""

import os
from pathlib import Path

import uvicorn

# Read once, sent as they are: the floor neither parses nor serializes.
BODY = Path(os.environ.get("FLOOR_BODY", "/dev/null")).read_bytes() or b"{}"
START = {
    "type": "http.response.start",
    "status": 200,
    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(BODY)).encode())],
}
END = {"type": "http.response.body", "body": BODY}


async def app(scope: dict, receive, send) -> None:
    """Every path, /health included (which is how the benchmarks see that it is up)."""
    await send(START)
    await send(END)


if __name__ == "__main__":
    uvicorn.run(
        "bench.floor:app",
        host=os.environ.get("HOST", "127.0.0.1"),
        port=int(os.environ["PORT"]),
        workers=int(os.environ.get("WEB_CONCURRENCY", "1")),
        # The service's HTTP parser (api/protocol.py extends uvicorn's httptools protocol) and,
        # like the service, uvloop when installed ("auto").
        http="httptools",
        loop="auto",
        lifespan="off",
        log_level="warning",
        access_log=False,
    )
