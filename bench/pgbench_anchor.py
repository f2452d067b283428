"""The write anchor: pgbench's simple-update transaction (`pgbench -N`) on the service's own
PostgreSQL server, in a database of its own.

A change through the service is at best a PostgreSQL transaction or two, so what the server
commits per second with pgbench's smallest realistic write (an UPDATE, a SELECT and an INSERT
in one transaction) is what the service's writes are measured against, on the same server,
in the same run.

    with anchor_database(server_url) as url:
        initialize(pgbench, url)
        figures = run(pgbench, url, clients=16, seconds=6, log_dir=scratch)
"""

import math
import os
import re
import shutil
import subprocess
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from psycopg2 import sql

from tests.postgres import admin_connection, with_database

DATABASE = "pgbench_anchor"
MISSING = (
    "pgbench is not installed (Debian: apt-get install postgresql-client): the pgbench anchors,"
    " and the write goals measured against them, are skipped"
)


def find_pgbench() -> str | None:
    """The pgbench on PATH, else the one the embedded PostgreSQL (pgserver) ships; None: none."""
    on_path = shutil.which("pgbench")
    if on_path:
        return on_path
    try:
        with warnings.catch_warnings():
            # platformdirs warns on import when XDG_RUNTIME_DIR is unset, then uses /tmp.
            warnings.simplefilter("ignore")
            from pgserver._commands import POSTGRES_BIN_PATH
    except ImportError:
        return None
    bundled = Path(POSTGRES_BIN_PATH) / "pgbench"
    return str(bundled) if os.access(bundled, os.X_OK) else None


@contextmanager
def anchor_database(server_url: str, name: str = DATABASE) -> Iterator[str]:
    """A database `name` on the server `server_url` reaches; its URL. Created if missing, and
    then dropped at the end; one that was there already (a run that was killed) is kept."""
    with admin_connection(server_url) as conn, conn.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
        created = cursor.fetchone() is None
        if created:
            cursor.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield with_database(server_url, name)
    finally:
        if created:
            with admin_connection(server_url) as conn, conn.cursor() as cursor:
                drop = sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)")
                cursor.execute(drop.format(sql.Identifier(name)))


def initialize(pgbench: str, url: str) -> None:
    """pgbench's tables at scale 1 (100,000 accounts), made anew."""
    _pgbench(pgbench, ["-i", "-s", "1", "-q", url])


def run(pgbench: str, url: str, clients: int, seconds: int, log_dir: Path) -> dict:
    """`pgbench -N` with `clients` for `seconds`; its figures as the suite keeps wrk's:
    transactions per second as req_s, latency percentiles from its per-transaction log,
    failed transactions as unexpected."""
    log_dir.mkdir(parents=True, exist_ok=True)
    for old in log_dir.glob("pgbench.*"):
        old.unlink()
    threads = min(clients, os.cpu_count() or 1)
    logged = ["-l", f"--log-prefix={log_dir / 'pgbench'}"]
    output = _pgbench(pgbench, ["-N", f"-c{clients}", f"-j{threads}", f"-T{seconds}", *logged, url])
    latencies = sorted(
        latency for log in log_dir.glob("pgbench.*") for latency in transaction_latencies_ms(log.read_text())
    )
    return parse_pgbench(output) | {
        "p50_ms": percentile(latencies, 0.50),
        "p99_ms": percentile(latencies, 0.99),
    }


def _pgbench(pgbench: str, arguments: list[str]) -> str:
    result = subprocess.run([pgbench, *arguments], capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"pgbench {arguments[0]} failed: {(result.stderr or result.stdout).strip()}")
    return result.stdout


def parse_pgbench(out: str) -> dict:
    """pgbench's report: tps (PostgreSQL 14+ prints it once, "without initial connection
    time"; older ones twice, the second "excluding connections establishing"), and the
    failed transactions (counted since 15; none before)."""
    rates = re.findall(r"^tps = ([\d.]+) \((.*)\)\s*$", out, re.M)
    if not rates:
        raise ValueError(f"no tps in pgbench's report:\n{out}")
    without_connecting = [rate for rate, note in rates if note.startswith(("without", "excluding"))]
    failed = re.search(r"^number of failed transactions: (\d+)", out, re.M)
    return {
        "req_s": float((without_connecting or [rates[0][0]])[0]),
        "unexpected": int(failed.group(1)) if failed else 0,
        "socket_errors": 0,
    }


def transaction_latencies_ms(log: str) -> list[float]:
    """The latencies in a pgbench per-transaction log (`-l`): each line is `client transaction
    latency_us script epoch_s epoch_us [lag]`; a transaction that failed or was skipped has
    a word in place of its latency and is left out."""
    rows = (line.split() for line in log.splitlines())
    return [float(fields[2]) / 1000 for fields in rows if len(fields) > 2 and fields[2].isdigit()]


def percentile(ordered: list[float], share: float) -> float | None:
    """Nearest rank, as bench.watchers; None when there is nothing."""
    return ordered[max(0, math.ceil(len(ordered) * share) - 1)] if ordered else None
