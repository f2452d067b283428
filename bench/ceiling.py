"""The ceiling: a bare FastAPI endpoint returning a constant, configuration-sized JSON.

Served by the same uvicorn, with the same worker count, as the service it is compared with:
the service is doing well when it comes close to this.

    CEILING_BODY=response.json PORT=8100 WEB_CONCURRENCY=1 python -m bench.ceiling
"""

import json
import os
from pathlib import Path

import uvicorn
from fastapi import FastAPI

app = FastAPI()
BODY = json.loads(Path(os.environ.get("CEILING_BODY", "/dev/null")).read_text() or "{}")


@app.get("/ceiling")
async def ceiling() -> dict:
    return BODY


@app.get("/health")
async def health() -> dict:
    return {"status": "ok"}


if __name__ == "__main__":
    uvicorn.run(
        "bench.ceiling:app",
        host=os.environ.get("HOST", "127.0.0.1"),
        port=int(os.environ["PORT"]),
        workers=int(os.environ.get("WEB_CONCURRENCY", "1")),
        log_level="warning",
        access_log=False,
    )
