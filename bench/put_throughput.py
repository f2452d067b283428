"""Write throughput: PUT on one configuration, at 1 and 16 concurrent clients.

    pipenv run python -m bench.put_throughput [--seconds 10] [--url http://host:port]

Without --url it starts the service itself (on a fresh embedded database, or DATABASE_URL).
Every request carries an API key: BENCH_API_KEY for a service given with --url (a key with
the write scope, and a rate limit above what it measures).
Needs `wrk` (Debian package `wrk`). Every request carries a new config: a repeated body
would be a no-op (no revision, no audit event) and measure less than a real write.
"""

import argparse
import shutil
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

import httpx

from bench.suite import api_key, authorized, run_wrk, service_env
from tests.server import running_service


def prepare(base_url: str, key: str) -> str:
    """A configuration to write to; its id."""
    name = f"bench-put-{time.time_ns()}"  # unique also on a database that is kept
    with httpx.Client(base_url=f"{base_url}/api/v1", headers=authorized(key)) as client:
        app = client.post("/applications", json={"name": name}).raise_for_status().json()
        config = client.post(
            "/configurations", json={"application_id": app["id"], "name": "target", "config": {"n": 0}}
        )
    return config.raise_for_status().json()["id"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--url", help="a running service; default: start one")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        print("wrk is not installed (apt-get install wrk)", file=sys.stderr)
        return 1
    with ExitStack() as stack:
        scratch = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        key = api_key()
        base_url = args.url or stack.enter_context(
            running_service({**service_env(scratch, key), "LOG_LEVEL": "warning"})
        )
        ids = scratch / "ids.txt"
        ids.write_text(prepare(base_url, key) + "\n")
        print(f"{'clients':>8} {'req/s':>9} {'p50 ms':>9} {'p99 ms':>9} {'errors':>8}")
        for connections in (1, 16):
            row = run_wrk(
                base_url, connections, args.seconds, [str(ids), "/api/v1/configurations/", "", "put"], key
            )
            errors = row["unexpected"] + row["socket_errors"]
            latency = " ".join(
                "        -" if ms is None else f"{ms:>9.2f}" for ms in (row["p50_ms"], row["p99_ms"])
            )
            print(f"{connections:>8} {row['req_s']:>9.1f} {latency} {errors:>8}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
