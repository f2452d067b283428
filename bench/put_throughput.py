"""Write throughput: PUT on one configuration, at 1 and 16 concurrent clients.

    pipenv run python -m bench.put_throughput [--seconds 10] [--url http://host:port]

Without --url it starts the service itself on a fresh embedded database. Needs `wrk`
(Debian package `wrk`). Prints req/s, latency percentiles and non-2xx counts.
"""

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
from contextlib import ExitStack
from pathlib import Path

import httpx

from tests.server import running_service

SCRIPT = Path(__file__).with_name("put_one_configuration.lua")


def prepare(base_url: str) -> str:
    app = httpx.post(f"{base_url}/api/v1/applications", json={"name": "bench-put"}).json()
    config = httpx.post(
        f"{base_url}/api/v1/configurations",
        json={"application_id": app["id"], "name": "target", "config": {"n": 0}},
    ).json()
    return f"{base_url}/api/v1/configurations/{config['id']}"


def run_wrk(url: str, connections: int, seconds: int) -> dict:
    threads = min(connections, 2)
    out = subprocess.run(
        ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", str(SCRIPT), url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {
        "connections": connections,
        "req_s": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
        "p50": re.search(r"^\s+50%\s+(\S+)$", out, re.M).group(1),
        "p99": re.search(r"^\s+99%\s+(\S+)$", out, re.M).group(1),
        "non_2xx": int(non_2xx.group(1)) if non_2xx else 0,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--url", help="a running service; default: start one")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        print("wrk is not installed (apt-get install wrk)", file=sys.stderr)
        return 1
    with ExitStack() as stack:
        base_url = args.url or stack.enter_context(
            running_service(
                {"DATA_DIR": stack.enter_context(tempfile.TemporaryDirectory()), "LOG_LEVEL": "warning"}
            )
        )
        url = prepare(base_url)
        print(f"{'clients':>8} {'req/s':>9} {'p50':>9} {'p99':>9} {'non-2xx':>8}")
        for connections in (1, 16):
            row = run_wrk(url, connections, args.seconds)
            print(
                f"{connections:>8} {row['req_s']:>9.1f} {row['p50']:>9} {row['p99']:>9} {row['non_2xx']:>8}"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
