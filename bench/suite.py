"""The read-path benchmark: the service against a bare FastAPI ceiling, in one run.

    pipenv run bench [--workers 1 2] [--connections 1 32 256] [--seconds 10]

Starts the service (on a fresh embedded database, or DATABASE_URL) and the ceiling app with
the same worker count, seeds applications and configurations, and measures each target
right after a shorter run of the ceiling, so that each ratio compares figures taken
moments apart. Prints a table and writes it as JSON to bench/results/. See bench/README.md
for how to read it.
"""

import argparse
import asyncio
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from bench import loadgen
from tests.apps import ADMIN_KEY
from tests.server import ROOT, scraped, service_process

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
# What a seeded configuration holds: about the size of a real one (~1 KB rendered).
SAMPLE_CONFIG = {
    "database": {"host": "db.internal", "port": 5432, "name": "payments", "pool": {"min": 2, "max": 20}},
    "timeouts_ms": {"connect": 500, "read": 2000, "write": 2000},
    "features": {"three_d_secure": True, "wallets": ["apple_pay", "google_pay"], "new_checkout": False},
    "retry": {"attempts": 3, "backoff_ms": [100, 400, 1600]},
    "endpoints": [f"https://api-{n}.internal/v2" for n in range(6)],
    "labels": {"team": "payments", "tier": "critical", "region": "eu-west-1"},
}
# A large configuration, about 4 KB rendered: sent gzip-compressed (to about a quarter) to a
# client that accepts it, from a copy the cache compressed once.
LARGE_CONFIG = {
    "services": {
        f"service-{n:02d}": {
            "url": f"https://service-{n:02d}.internal/v1",
            "timeout_ms": 1000 + n,
            "retries": 3,
        }
        for n in range(45)
    }
}
# Writes go to configurations of their own, so the reads' If-None-Match "1" stays current.
WRITE_SHARE = 0.1
# The ceiling is measured before every target, for this share of the target's time: long
# enough for a steady figure, short enough to keep the full run under ten minutes.
CEILING_SHARE = 0.4
WARM_UP_PASSES = 5


@dataclass(frozen=True)
class Target:
    name: str
    ids: str | None  # which ids file; None: the path is prefix + suffix
    prefix: str
    suffix: str = ""
    mode: str = "get"  # get | gzip (a get accepting gzip) | not-modified | put
    expect: int | None = None  # the status every response must have; None: any 2xx


TARGETS = [
    # As most clients send it: Accept-Encoding: gzip. A body under 1 KB is sent as it is.
    Target("GET /configurations/{id}", "read_configurations", "/api/v1/configurations/", mode="gzip"),
    Target("GET 4 KB configuration, gzip", "large_configurations", "/api/v1/configurations/", mode="gzip"),
    Target(
        "GET .. If-None-Match (304)",
        "read_configurations",
        "/api/v1/configurations/",
        mode="not-modified",
        expect=304,
    ),
    Target("GET /applications/{id}", "applications", "/api/v1/applications/"),
    Target("GET list page (10)", "applications", "/api/v1/applications/", "/configurations?limit=10"),
    Target("PUT /configurations/{id}", "write_configurations", "/api/v1/configurations/", mode="put"),
]
CEILING = Target("ceiling", None, "/ceiling")
READ_TARGETS = [target for target in TARGETS if target.mode != "put"]


def database_env(scratch: Path) -> dict[str, str]:
    """Where the service under test keeps its data: the database DATABASE_URL names, if set
    (tests/server.py starts the service without the caller's), else a fresh embedded one."""
    if os.environ.get("DATABASE_URL"):
        return {"DATABASE_URL": os.environ["DATABASE_URL"]}
    return {"DATA_DIR": str(scratch / "data")}


def api_key() -> str:
    """The key every request to the service carries, as a real client's does (the ceiling
    checks none and is sent none): BENCH_API_KEY, for a service of one's own (--url), else
    the test suite's; a service the benchmarks start has it as its ADMIN_API_KEY."""
    return os.environ.get("BENCH_API_KEY") or ADMIN_KEY


def service_env(scratch: Path, key: str) -> dict[str, str]:
    """How the benchmarks start the service: on database_env's database, with `key` as its
    admin key, at a rate limit no run reaches (a benchmark measures serving, not refusing)."""
    return {**database_env(scratch), "ADMIN_API_KEY": key, "RATE_LIMIT_PER_SECOND": "1000000"}


def authorized(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def seed(
    base_url: str, key: str, applications: int, configurations: int, run_id: str
) -> dict[str, list[str]]:
    async def create_all() -> dict[str, list[str]]:
        limits = asyncio.Semaphore(16)
        headers = authorized(key)
        async with httpx.AsyncClient(base_url=f"{base_url}/api/v1", headers=headers, timeout=60) as client:

            async def post(path: str, body: dict) -> str:
                async with limits:
                    response = await client.post(path, json=body)
                    response.raise_for_status()
                    return response.json()["id"]

            app_ids = await asyncio.gather(
                *(post("/applications", {"name": f"bench-{run_id}-{n}"}) for n in range(applications))
            )
            config_ids = await asyncio.gather(
                *(
                    post(
                        "/configurations",
                        {"application_id": application_id, "name": f"config-{n}", "config": SAMPLE_CONFIG},
                    )
                    for application_id in app_ids
                    for n in range(configurations)
                )
            )
            large_ids = await asyncio.gather(
                *(
                    post(
                        "/configurations",
                        {"application_id": application_id, "name": "large", "config": LARGE_CONFIG},
                    )
                    for application_id in app_ids
                )
            )
        cut = int(len(config_ids) * (1 - WRITE_SHARE))
        return {
            "applications": list(app_ids),
            "read_configurations": list(config_ids[:cut]),
            "write_configurations": list(config_ids[cut:]),
            "large_configurations": list(large_ids),
        }

    return asyncio.run(create_all())


_UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def _ms(text: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text).groups()
    return float(number) * _UNITS_MS[unit]


def parse_wrk(out: str) -> dict:
    """wrk's report (with targets.lua's count of unexpected statuses) as the suite's figures.
    No request completed: no latencies."""
    completed = int(re.search(r"^\s*(\d+) requests in", out, re.M).group(1))
    socket_errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    unexpected = re.search(r"^Unexpected statuses: (\d+)", out, re.M)
    if unexpected is None:
        raise ValueError("no count of unexpected statuses: was wrk run with targets.lua?")

    def percentile(name: str) -> float | None:
        found = re.search(rf"^\s+{name}%\s+(\S+)\s*$", out, re.M)
        return _ms(found.group(1)) if completed and found else None

    return {
        "req_s": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
        "p50_ms": percentile("50"),
        "p99_ms": percentile("99"),
        "unexpected": int(unexpected.group(1)),
        "socket_errors": sum(map(int, socket_errors.groups())) if socket_errors else 0,
    }


def run_wrk(url: str, connections: int, seconds: int, script_args: list[str], key: str | None) -> dict:
    """wrk with targets.lua and its arguments (see there) against `url`, each request with
    `key` (None: none). The script reads it from the environment, out of wrk's command line."""
    command = [
        "wrk",
        f"-t{min(connections, 2)}",
        f"-c{connections}",
        f"-d{seconds}s",
        "--latency",
        "--timeout",
        "10s",
        "-s",
        str(HERE / "targets.lua"),
        url,
        "--",
        *script_args,
    ]
    env = {name: value for name, value in os.environ.items() if name != "BENCH_API_KEY"}
    if key is not None:
        env["BENCH_API_KEY"] = key
    result = subprocess.run(command, capture_output=True, text=True, env=env)
    if result.returncode != 0:  # it gives up at once when it cannot connect at all
        raise RuntimeError(f"wrk failed: {(result.stderr or result.stdout).strip()}")
    return parse_wrk(result.stdout)


class Load:
    """wrk when installed, else the Python load generator."""

    def __init__(self, ids_dir: Path, ids: dict[str, list[str]], key: str) -> None:
        self.wrk = shutil.which("wrk") is not None
        self.ids_dir = ids_dir
        self.ids = ids
        self.key = key

    def target(self, base_url: str, target: Target, connections: int, seconds: int) -> dict:
        key = None if target is CEILING else self.key  # the ceiling stays keyless
        if self.wrk:
            ids_file = "-" if target.ids is None else str(self.ids_dir / f"{target.ids}.txt")
            expect = "" if target.expect is None else str(target.expect)
            script_args = [ids_file, target.prefix, target.suffix, target.mode, expect]
            return run_wrk(base_url, connections, seconds, script_args, key)
        ids = [""] if target.ids is None else self.ids[target.ids]
        paths = [f"{target.prefix}{i}{target.suffix}" for i in ids]
        return loadgen.run(base_url, paths, target.mode, connections, seconds, expect=target.expect, key=key)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--connections", type=int, nargs="+", default=[1, 32, 256])
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--applications", type=int, default=100)
    parser.add_argument("--configurations", type=int, default=100, help="per application")
    parser.add_argument(
        "--env",
        nargs=2,
        action="append",
        default=[],
        metavar=("NAME", "VALUE"),
        help="a setting for the service",
    )
    args = parser.parse_args()

    run_id = time.strftime("%Y%m%dT%H%M%S")
    ceiling_seconds = max(1, round(args.seconds * CEILING_SHARE))
    rows = []
    with tempfile.TemporaryDirectory() as scratch_dir:
        scratch = Path(scratch_dir)
        key = api_key()
        started_with = service_env(scratch, key)
        load = None
        for workers in args.workers:
            env = {**started_with, "WEB_CONCURRENCY": str(workers), **dict(args.env)}
            with service_process(env, log=scratch / f"service-{workers}.log", timeout_s=120) as service:
                if load is None:
                    print(
                        f"seeding {args.applications} x {args.configurations} configurations...", flush=True
                    )
                    ids = seed(service.url, key, args.applications, args.configurations, run_id)
                    for name, values in ids.items():
                        (scratch / f"{name}.txt").write_text("\n".join(values) + "\n")
                    sample = httpx.get(
                        f"{service.url}/api/v1/configurations/{ids['read_configurations'][0]}",
                        headers=authorized(key),
                    )
                    sample.raise_for_status()  # the ceiling must not answer with an error document
                    (scratch / "body.json").write_text(sample.text)
                    load = Load(scratch, ids, key)
                ceiling_env = {"WEB_CONCURRENCY": str(workers), "CEILING_BODY": str(scratch / "body.json")}
                ceiling_command = [sys.executable, "-m", "bench.ceiling"]
                with service_process(ceiling_env, command=ceiling_command) as ceiling:
                    warm_up(load, service.url, min(32, max(args.connections)), max(1, args.seconds // 2))
                    for connections in args.connections:
                        for target in TARGETS:
                            ceiling_row = load.target(ceiling.url, CEILING, connections, ceiling_seconds)
                            row = load.target(service.url, target, connections, args.seconds)
                            rows.append(
                                {
                                    "workers": workers,
                                    "connections": connections,
                                    "target": target.name,
                                    **row,
                                    **compared(row, ceiling_row),
                                }
                            )
                            print_row(rows[-1])

    print()
    print(HEADER)
    for row in rows:
        print_row(row)
    RESULTS.mkdir(exist_ok=True)
    report = {
        "run": run_id,
        "commit": subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=ROOT
        ).stdout.strip(),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "load_tool": "wrk" if load.wrk else "loadgen",
        },
        "seconds": args.seconds,
        "ceiling_seconds": ceiling_seconds,
        "rows": rows,
    }
    path = RESULTS / f"{run_id}.json"
    path.write_text(json.dumps(report, indent=2) + "\n")
    print(f"\nwritten to {path.relative_to(ROOT)}")
    return 0


def warm_up(load: Load, base_url: str, connections: int, seconds: int) -> None:
    """Run the read targets until a pass adds no cache miss: every worker then holds every
    resource (random ids leave some unread after one pass, and each worker has its own
    cache). The measured runs then show the steady state, not the first reads' misses."""
    for passes in range(1, WARM_UP_PASSES + 1):
        misses = scraped(base_url, "configsvc_cache_misses_total")
        for target in READ_TARGETS:
            load.target(base_url, target, connections, seconds)
        if scraped(base_url, "configsvc_cache_misses_total") == misses:
            print(f"warm after {passes} passes", flush=True)
            return
    print(f"WARNING: still missing the cache after {WARM_UP_PASSES} warm-up passes", flush=True)


def compared(row: dict, ceiling: dict) -> dict:
    """The ceiling measured just before the row's run, and the row's ratios to it."""
    return {
        "ceiling": ceiling,
        "ratio": _ratio(row["req_s"], ceiling["req_s"]),
        "p99_ratio": _ratio(row["p99_ms"], ceiling["p99_ms"]),
    }


def _ratio(value: float | None, base: float | None) -> float | None:
    return None if value is None or not base else value / base


HEADER = (
    " ".join(
        f"{title:>{width}}" if width > 0 else f"{title:<{-width}}"
        for title, width in (
            ("workers", 7),
            ("conns", 5),
            (" target", -29),
            ("req/s", 8),
            ("p50 ms", 7),
            ("p99 ms", 7),
        )
    )
    + f" {'errors':>7} {'ceiling':>8} {'x ceiling':>9}"
)


def print_row(row: dict) -> None:
    """One line of the table; a figure that could not be had (no request completed) is "-"."""
    errors = row["unexpected"] + row["socket_errors"]
    print(
        f"{row['workers']:>7} {row['connections']:>5}  {row['target']:<28} {row['req_s']:>8.0f}"
        f" {_figure(row['p50_ms'], 7, '.2f')} {_figure(row['p99_ms'], 7, '.2f')} {errors:>7}"
        f" {_figure(row['ceiling']['req_s'], 8, '.0f')} {_figure(row['ratio'], 9, '.2f')}",
        flush=True,
    )


def _figure(value: float | None, width: int, spec: str) -> str:
    return f"{'-':>{width}}" if value is None else f"{value:>{width}{spec}}"


if __name__ == "__main__":
    sys.exit(main())
