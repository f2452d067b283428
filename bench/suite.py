"""The benchmark suite: the service's reads and writes beside their anchors, in one run, and
issue 12's goals judged as ratios between them.

    pipenv run bench [--workers 1 2] [--connections 1 32 256] [--seconds 6]
                     [--skip-reads] [--skip-writes] [--skip-validation] [--skip-watchers]

Starts PostgreSQL (a fresh embedded server, or the one DATABASE_URL names) and on it the
service; seeds applications and configurations. For each worker count, the service's reads,
each right after a shorter run of the FastAPI ceiling (and the cached read also right after
the bare-ASGI floor), both served by the same uvicorn with the same worker count; then its
writes, each right after `pgbench -N` with as many clients on the same server; at the fewest
workers, 1 KB PUTs to configurations bound to a schema, each right after the same PUTs to
unbound ones, and bench.flags (issue 16: a flag evaluated in process, the evaluate endpoint
beside the ceiling, a kill switch's delay). Last, bench.watchers with 20,000 streams. Every
ratio thus compares figures taken moments apart. Before all that, bench.validators' cost of one validation.
Prints a table and the goals, and writes both as JSON to bench/results/. See bench/README.md
for how to read them.
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
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import httpx
import psycopg2

from bench import goals, loadgen, pgbench_anchor, validators
from database.embedded import start_embedded
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
# The ceiling is measured before every read target, for this share of the target's time:
# long enough for a steady figure, short enough to keep the full run near ten minutes. The
# anchors the goals divide by (the floor, pgbench) run as long as their targets.
CEILING_SHARE = 0.4
WARM_UP_PASSES = 10
# Per validator and document: four in all.
VALIDATOR_SECONDS = 1.0


@dataclass(frozen=True)
class Target:
    name: str
    ids: str | None  # which ids file; None: the path is prefix + suffix
    prefix: str
    suffix: str = ""
    mode: str = "get"  # get | gzip (a get accepting gzip) | not-modified | put | put-spread
    expect: int | None = None  # the status every response must have; None: any 2xx
    connections: int | None = None  # measured at this many only; None: at each of --connections
    body: str | None = None  # a put's: a file of the body, with validators' marks; None: a tiny one


READ_TARGETS = [
    # As most clients send it: Accept-Encoding: gzip. A body under 1 KB is sent as it is.
    Target(goals.CACHED_GET, "read_configurations", "/api/v1/configurations/", mode="gzip"),
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
]
WRITE_TARGETS = [
    # One client, a new config each time, on a random one of the configurations kept for writes.
    Target(goals.PUT_ONE, "write_configurations", "/api/v1/configurations/", mode="put", connections=1),
    # 16 clients over 16 configurations, never two at once on one (targets.lua, put-spread).
    Target(
        goals.PUT_SPREAD,
        "spread_configurations",
        "/api/v1/configurations/",
        mode="put-spread",
        connections=goals.SPREAD_CONNECTIONS,
    ),
]
TARGETS = READ_TARGETS + WRITE_TARGETS
# What validating a write costs: the same 1 KB PUTs (validators.VALID_CONFIG, a new one each
# time) to configurations bound to validators.SCHEMA, each right after the same to unbound
# ones, its anchor. At one client, on a random one of 16; at 16, put-spread over the 16.
PUT_BODY = "put_1kb"
VALIDATION_PAIRS = [
    (
        Target(
            f"PUT 1 KB{over}, unbound",
            "unbound_configurations",
            "/api/v1/configurations/",
            mode=mode,
            connections=connections,
            body=PUT_BODY,
        ),
        Target(
            f"PUT 1 KB{over}, bound",
            "bound_configurations",
            "/api/v1/configurations/",
            mode=mode,
            connections=connections,
            body=PUT_BODY,
        ),
    )
    for over, mode, connections in (("", "put", 1), (" over 16", "put-spread", goals.SPREAD_CONNECTIONS))
]
CEILING = Target(goals.CEILING, None, "/ceiling")
FLOOR = Target(goals.FLOOR, None, "/floor")
ANCHORS = (CEILING, FLOOR)  # sent no key: they check none


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
            # Whatever the seed's size, exactly as many as the spread writes have clients.
            spread_app = await post("/applications", {"name": f"bench-{run_id}-spread"})
            spread_ids = await asyncio.gather(
                *(
                    post(
                        "/configurations",
                        {"application_id": spread_app, "name": f"spread-{n}", "config": SAMPLE_CONFIG},
                    )
                    for n in range(goals.SPREAD_CONNECTIONS)
                )
            )
            # The validation targets' configurations: as many unbound as bound to the schema.
            schema = f"bench-{run_id}"
            await post("/schemas", {"name": schema, "schema": validators.SCHEMA})
            validation_app = await post("/applications", {"name": f"bench-{run_id}-validation"})
            validated = {
                binding: await asyncio.gather(
                    *(
                        post(
                            "/configurations",
                            {
                                "application_id": validation_app,
                                "name": f"{binding}-{n}",
                                "config": validators.VALID_CONFIG,
                                **({"schema": {"name": schema}} if binding == "bound" else {}),
                            },
                        )
                        for n in range(goals.SPREAD_CONNECTIONS)
                    )
                )
                for binding in ("unbound", "bound")
            }
        cut = int(len(config_ids) * (1 - WRITE_SHARE))
        return {
            "applications": list(app_ids),
            "read_configurations": list(config_ids[:cut]),
            "write_configurations": list(config_ids[cut:]),
            "large_configurations": list(large_ids),
            "spread_configurations": list(spread_ids),
            "unbound_configurations": list(validated["unbound"]),
            "bound_configurations": list(validated["bound"]),
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
    `key` (None: none). The script reads it from the environment, out of wrk's command line,
    and its thread count too (put-spread shares the ids out between the threads)."""
    threads = min(connections, 2)
    command = [
        "wrk",
        f"-t{threads}",
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
    env["BENCH_WRK_THREADS"] = str(threads)
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
        key = None if target in ANCHORS else self.key
        if self.wrk:
            ids_file = "-" if target.ids is None else str(self.ids_dir / f"{target.ids}.txt")
            expect = "" if target.expect is None else str(target.expect)
            body = "" if target.body is None else str(self.ids_dir / f"{target.body}.json")
            script_args = [ids_file, target.prefix, target.suffix, target.mode, expect, body]
            return run_wrk(base_url, connections, seconds, script_args, key)
        if target.body is not None:
            raise ValueError(f"{target.name}: the load generator sends only its own tiny bodies")
        ids = [""] if target.ids is None else self.ids[target.ids]
        paths = [f"{target.prefix}{i}{target.suffix}" for i in ids]
        # It picks ids at random: its spread writes may meet on one configuration now and then.
        mode = "put" if target.mode == "put-spread" else target.mode
        return loadgen.run(base_url, paths, mode, connections, seconds, expect=target.expect, key=key)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument(
        "--connections", type=int, nargs="+", default=[1, 32, 256], help="for the reads; writes: 1 and 16"
    )
    parser.add_argument("--seconds", type=int, default=6, help="per target (the ceiling: 0.4 of it)")
    parser.add_argument("--applications", type=int, default=100)
    parser.add_argument("--configurations", type=int, default=100, help="per application")
    parser.add_argument("--skip-reads", action="store_true", help="no reads, no ceiling, no floor")
    parser.add_argument("--skip-writes", action="store_true", help="no writes, no pgbench")
    parser.add_argument(
        "--skip-validation", action="store_true", help="no validators' cost, no PUTs bound to a schema"
    )
    parser.add_argument("--skip-watchers", action="store_true", help=f"no {goals.WATCHERS:,} streams")
    parser.add_argument("--skip-flags", action="store_true", help="no flag evaluation, no kill switch")
    parser.add_argument(
        "--env",
        nargs=2,
        action="append",
        default=[],
        metavar=("NAME", "VALUE"),
        help="a setting for the service",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    run_id = time.strftime("%Y%m%dT%H%M%S")
    rows: list[dict] = []
    watch = None
    load = None
    validation = None if args.skip_validation else measure_validators()
    flag_figures = None
    with tempfile.TemporaryDirectory() as scratch_dir, database_server(Path(scratch_dir)) as server_url:
        scratch = Path(scratch_dir)
        key = api_key()
        started_with = {**service_env(scratch, key), "DATABASE_URL": server_url}
        with ExitStack() as anchors:
            pgbench = None if args.skip_writes else pgbench_on(server_url, scratch, anchors)
            for workers in args.workers:
                env = {**started_with, "WEB_CONCURRENCY": str(workers), **dict(args.env)}
                with service_process(env, log=scratch / f"service-{workers}.log", timeout_s=120) as service:
                    if load is None:
                        load = seeded(service.url, key, args, run_id, scratch)
                    if not args.skip_reads:
                        measure_reads(load, service.url, workers, args, scratch, rows)
                    if not args.skip_writes:
                        measure_writes(load, service.url, workers, args.seconds, pgbench, rows)
                    if not (args.skip_writes or args.skip_validation) and workers == min(args.workers):
                        measure_validation(load, service.url, workers, args.seconds, rows)
                    if not args.skip_flags and workers == min(args.workers):
                        flag_figures = measure_flags(service.url, key, args.seconds)
        if not args.skip_watchers:
            watch = measure_watchers(server_url, scratch)

    judged = goals.judge(rows, watch)
    print()
    print(HEADER)
    for row in rows:
        print_row(row)
    print()
    if validation is not None:
        validators.print_figures(validation)
        print()
    goals.print_goals(judged)
    if flag_figures is not None:
        print()
        flag_bench().print_figures(flag_figures)
    RESULTS.mkdir(exist_ok=True)
    report = {
        "run": run_id,
        "commit": subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=ROOT
        ).stdout.strip(),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "load_tool": "wrk" if load is not None and load.wrk else "loadgen",
        },
        "seconds": args.seconds,
        "ceiling_seconds": ceiling_seconds(args.seconds),
        "rows": rows,
        "watchers": watch,
        "validation": validation,
        "flags": flag_figures,
        "goals": goals.as_json(judged),
    }
    path = RESULTS / f"{run_id}.json"
    path.write_text(json.dumps(report, indent=2) + "\n")
    print(f"\nwritten to {path.relative_to(ROOT)}")
    return 0


def flag_bench():
    """bench.flags, which uses this module's helpers: imported when used."""
    from bench import flags

    return flags


def measure_flags(service_url: str, key: str, seconds: int) -> dict:
    """Issue 16's figures: local evaluation, the evaluate endpoint at 32 clients beside the
    ceiling, and a kill switch's delay to a watching client (p99 over 50 toggles)."""
    print("flags: local evaluation, evaluate beside the ceiling, 50 kill-switch toggles", flush=True)
    return flag_bench().measure(service_url, key, seconds=seconds, connections=32, toggles=50)


def ceiling_seconds(seconds: int) -> int:
    return max(1, round(seconds * CEILING_SHARE))


@contextmanager
def database_server(scratch: Path) -> Iterator[str]:
    """The PostgreSQL server of the whole run, service and pgbench alike; its URL. The one
    DATABASE_URL names, else a fresh embedded one in `scratch`: started here rather than by
    the service, so that pgbench can be pointed at it, and stopped on leaving (before
    `scratch` goes; pgserver would stop it only at this process's exit)."""
    if os.environ.get("DATABASE_URL"):
        yield os.environ["DATABASE_URL"]
        return
    pgdata = scratch / "data" / "postgres"
    url = start_embedded(pgdata)
    try:
        yield url
    finally:
        import pgserver

        # The handle start_embedded made; the last process using the server stops it.
        pgserver.get_server(pgdata).cleanup()


def pgbench_on(server_url: str, scratch: Path, anchors: ExitStack) -> Callable[[int, int], dict] | None:
    """`pgbench -N` on the server, in a database of its own that `anchors` drops: a function
    of the clients and the seconds, returning figures as wrk's. None, said why, when it
    cannot be had."""
    pgbench = pgbench_anchor.find_pgbench()
    if pgbench is None:
        print(pgbench_anchor.MISSING, flush=True)
        return None
    try:
        url = anchors.enter_context(pgbench_anchor.anchor_database(server_url))
    except psycopg2.Error as error:
        print(f"cannot create {pgbench_anchor.DATABASE} for pgbench ({error}): its anchors are skipped")
        return None
    print(f"pgbench: {pgbench}, initializing its tables (scale 1)...", flush=True)
    pgbench_anchor.initialize(pgbench, url)
    return partial(pgbench_anchor.run, pgbench, url, log_dir=scratch / "pgbench")


def seeded(base_url: str, key: str, args: argparse.Namespace, run_id: str, scratch: Path) -> Load:
    """The seeded ids, as files for wrk beside a copy of a seeded configuration's response
    (the body the ceiling and the floor answer with)."""
    print(f"seeding {args.applications} x {args.configurations} configurations...", flush=True)
    ids = seed(base_url, key, args.applications, args.configurations, run_id)
    for name, values in ids.items():
        (scratch / f"{name}.txt").write_text("\n".join(values) + "\n")
    (scratch / f"{PUT_BODY}.json").write_text(validators.body_template())
    sample = httpx.get(
        f"{base_url}/api/v1/configurations/{ids['read_configurations'][0]}", headers=authorized(key)
    )
    sample.raise_for_status()  # the anchors must not answer with an error document
    bound = httpx.get(
        f"{base_url}/api/v1/configurations/{ids['bound_configurations'][0]}", headers=authorized(key)
    )
    if bound.raise_for_status().json().get("schema") is None:  # else bound and unbound would be alike
        raise RuntimeError("a configuration created bound to a schema came back unbound")
    (scratch / "body.json").write_text(sample.text)
    return Load(scratch, ids, key)


def measure_reads(
    load: Load, service_url: str, workers: int, args: argparse.Namespace, scratch: Path, rows: list[dict]
) -> None:
    """Each read target at each connection count, right after the ceiling; the cached read
    also right after the floor, which is its anchor (and the ceiling's row is the floor's
    measure of FastAPI)."""
    body = str(scratch / "body.json")
    anchor_env = {"WEB_CONCURRENCY": str(workers), "CEILING_BODY": body, "FLOOR_BODY": body}
    with (
        service_process(anchor_env, command=[sys.executable, "-m", "bench.ceiling"]) as ceiling,
        service_process(anchor_env, command=[sys.executable, "-m", "bench.floor"]) as floor,
    ):
        warm_up(load, service_url, min(32, max(args.connections)), max(1, args.seconds // 2))
        shorter = ceiling_seconds(args.seconds)
        for connections in args.connections:
            for target in READ_TARGETS:
                ceiling_figures = load.target(ceiling.url, CEILING, connections, shorter)
                anchor = ("ceiling", ceiling_figures)
                if target.name == goals.CACHED_GET:
                    floor_figures = load.target(floor.url, FLOOR, connections, args.seconds)
                    record(rows, measured(workers, connections, FLOOR.name, floor_figures))
                    anchor = ("floor", floor_figures)
                    record(rows, measured(workers, connections, CEILING.name, ceiling_figures, anchor))
                figures = load.target(service_url, target, connections, args.seconds)
                record(rows, measured(workers, connections, target.name, figures, anchor))


def measure_writes(
    load: Load,
    service_url: str,
    workers: int,
    seconds: int,
    pgbench: Callable[[int, int], dict] | None,
    rows: list[dict],
) -> None:
    """Each write target right after pgbench -N with as many clients, its anchor (None: none)."""
    for target in WRITE_TARGETS:
        anchor = None
        if pgbench is not None:
            pgbench_figures = pgbench(target.connections, seconds)
            # Not the service's: no worker count.
            record(rows, measured(None, target.connections, goals.PGBENCH, pgbench_figures))
            anchor = ("pgbench", pgbench_figures)
        figures = load.target(service_url, target, target.connections, seconds)
        record(rows, measured(workers, target.connections, target.name, figures, anchor))


def measure_validation(load: Load, service_url: str, workers: int, seconds: int, rows: list[dict]) -> None:
    """Each bound target right after its unbound one, its anchor: the same PUTs, at as many
    clients, to configurations bound to no schema. Only with wrk, the one that sends their
    bodies."""
    if not load.wrk:
        print("the PUTs bound to a schema need wrk: not measured", flush=True)
        return
    for unbound, bound in VALIDATION_PAIRS:
        unbound_figures = load.target(service_url, unbound, unbound.connections, seconds)
        record(rows, measured(workers, unbound.connections, unbound.name, unbound_figures))
        figures = load.target(service_url, bound, bound.connections, seconds)
        record(rows, measured(workers, bound.connections, bound.name, figures, ("unbound", unbound_figures)))


def measure_validators() -> dict:
    """bench.validators' figures, printed as they come: measured before anything else runs."""
    print("bench.validators: the cost of one validation...", flush=True)
    figures = validators.measure(seconds=VALIDATOR_SECONDS)
    validators.print_figures(figures)
    return figures


def measure_watchers(server_url: str, scratch: Path) -> dict | None:
    """bench.watchers with goals.WATCHERS streams, on the same server: its row, with the
    figures the goals judge (None, said why, when it failed)."""
    path = scratch / "watchers.json"
    command = [sys.executable, "-m", "bench.watchers", "--watchers", str(goals.WATCHERS), "--json", str(path)]
    print(f"\npython {' '.join(command[1:])}", flush=True)
    result = subprocess.run(command, cwd=ROOT, env=os.environ | {"DATABASE_URL": server_url})
    try:
        report = json.loads(path.read_text())
    except (OSError, ValueError) as error:
        print(f"bench.watchers (exit {result.returncode}) left no results: {error}", flush=True)
        return None
    watch = goals.watch_figures(report)
    if watch is None:
        print(f"bench.watchers left no row for {goals.WATCHERS} streams", flush=True)
    return watch


def warm_up(load: Load, base_url: str, connections: int, seconds: int) -> None:
    """Run the read targets until none adds a cache miss: every worker then holds every
    resource (random ids leave some unread after one pass, and each worker has its own
    cache). The measured runs then show the steady state, not the first reads' misses. A
    target whose pass added no miss is warm, and left out of the passes after it: the many
    configurations take five or six passes of 3 s, the rest one."""
    cold = list(READ_TARGETS)
    for passes in range(1, WARM_UP_PASSES + 1):
        missed = []
        for target in cold:
            misses = scraped(base_url, "configsvc_cache_misses_total")
            load.target(base_url, target, connections, seconds)
            if scraped(base_url, "configsvc_cache_misses_total") != misses:
                missed.append(target)
        cold = missed
        if not cold:
            print(f"warm after {passes} passes", flush=True)
            return
    print(f"WARNING: still missing the cache after {WARM_UP_PASSES} warm-up passes", flush=True)


def measured(
    workers: int | None, connections: int, target: str, figures: dict, anchor: tuple[str, dict] | None = None
) -> dict:
    """A row: what was measured, and its ratios to `anchor` (its name and figures, measured
    just before; None: it has none, being an anchor itself)."""
    where = {"workers": workers, "connections": connections, "target": target}
    return where | figures | compared(figures, anchor)


def compared(row: dict, anchor: tuple[str, dict] | None) -> dict:
    """The anchor measured just before the row's run, and the row's ratios to it."""
    if anchor is None:
        return {"anchor": None, "ratio": None, "p99_ratio": None}
    name, figures = anchor
    return {
        "anchor": {"name": name, **figures},
        "ratio": _ratio(row["req_s"], figures["req_s"]),
        "p99_ratio": _ratio(row["p99_ms"], figures["p99_ms"]),
    }


def _ratio(value: float | None, base: float | None) -> float | None:
    return None if value is None or not base else value / base


def record(rows: list[dict], row: dict) -> None:
    rows.append(row)
    print_row(row)


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
    + f" {'errors':>7}  {'anchor':<8} {'req/s':>8} {'x anchor':>8}"
)


def print_row(row: dict) -> None:
    """One line of the table; a figure that could not be had (no request completed) is "-"."""
    errors = row["unexpected"] + row["socket_errors"]
    anchor = row["anchor"] or {"name": "-", "req_s": None}
    workers = "-" if row["workers"] is None else row["workers"]
    print(
        f"{workers:>7} {row['connections']:>5}  {row['target']:<28} {row['req_s']:>8.0f}"
        f" {_figure(row['p50_ms'], 7, '.2f')} {_figure(row['p99_ms'], 7, '.2f')} {errors:>7}"
        f"  {anchor['name']:<8} {_figure(anchor['req_s'], 8, '.0f')} {_figure(row['ratio'], 8, '.2f')}",
        flush=True,
    )


def _figure(value: float | None, width: int, spec: str) -> str:
    return f"{'-':>{width}}" if value is None else f"{value:>{width}{spec}}"


if __name__ == "__main__":
    sys.exit(main())
