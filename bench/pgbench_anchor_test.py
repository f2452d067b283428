"""The pgbench anchor: reading pgbench's report and its per-transaction log, and, on the test
session's PostgreSQL, its database made and dropped and a one-second run read. Nothing here
judges speed."""

import os

import psycopg2
import pytest

from bench import pgbench_anchor
from bench.pgbench_anchor import anchor_database, parse_pgbench, percentile, transaction_latencies_ms
from tests.postgres import admin_connection

# pgbench 15's report, as captured here.
REPORT_15 = """\
pgbench (15.20 (Debian 15.20-0+deb12u1))
transaction type: <builtin: simple update>
scaling factor: 1
query mode: simple
number of clients: 2
number of threads: 2
maximum number of tries: 1
duration: 1 s
number of transactions actually processed: 1805
number of failed transactions: 3 (0.166%)
latency average = 1.100 ms
initial connection time = 10.505 ms
tps = 1818.526198 (without initial connection time)
"""
# Before 14, two rates; the one without connecting is the second. No count of failures.
REPORT_13 = """\
transaction type: <builtin: simple update>
number of transactions actually processed: 6400
latency average = 1.563 ms
tps = 633.904121 (including connections establishing)
tps = 640.216785 (excluding connections establishing)
"""
# `-l`: client, transaction, latency in µs, script, epoch s, epoch µs; a failed one has a word.
LOG = """\
0 1 5737 0 1796406321 589288
0 2 1695 0 1796406321 591021
0 3 failed 0 1796406321 592818
1 1 3120 0 1796406321 586823

"""


def test_the_report_gives_the_rate_without_connecting_and_the_failures():
    assert parse_pgbench(REPORT_15) == {"req_s": 1818.526198, "unexpected": 3, "socket_errors": 0}
    assert parse_pgbench(REPORT_13) == {"req_s": 640.216785, "unexpected": 0, "socket_errors": 0}


def test_a_report_without_a_rate_is_refused():
    with pytest.raises(ValueError, match="no tps"):
        parse_pgbench("pgbench: error: connection to server failed\n")


def test_the_log_gives_each_finished_transactions_latency_in_ms():
    assert transaction_latencies_ms(LOG) == [5.737, 1.695, 3.12]


def test_percentiles_are_nearest_ranks():
    ordered = [float(n) for n in range(1, 101)]
    assert (percentile(ordered, 0.5), percentile(ordered, 0.99)) == (50.0, 99.0)
    assert percentile([4.0], 0.99) == 4.0
    assert percentile([], 0.5) is None


def test_pgbench_is_found_on_the_path_else_in_the_embedded_postgresql(monkeypatch):
    found = pgbench_anchor.find_pgbench()
    assert found is not None and os.access(found, os.X_OK)  # pgserver, a dependency, ships one
    monkeypatch.setenv("PATH", "/nonexistent")
    assert pgbench_anchor.find_pgbench().endswith("/pgbench")


def _exists(admin_url: str, name: str) -> bool:
    with admin_connection(admin_url) as conn, conn.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
        return cursor.fetchone() is not None


def test_a_run_on_its_own_database_which_is_dropped_after(postgres, tmp_path):
    name = f"pgbench_anchor_test_{os.getpid()}"
    pgbench = pgbench_anchor.find_pgbench()
    with anchor_database(postgres.admin_url, name) as url:
        assert _exists(postgres.admin_url, name)
        pgbench_anchor.initialize(pgbench, url)
        figures = pgbench_anchor.run(pgbench, url, clients=2, seconds=1, log_dir=tmp_path / "logs")
        with psycopg2.connect(url) as conn, conn.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM pgbench_accounts")
            assert cursor.fetchone() == (100_000,)  # scale 1
        conn.close()

    assert not _exists(postgres.admin_url, name)
    assert figures["req_s"] > 0
    assert (figures["unexpected"], figures["socket_errors"]) == (0, 0)
    assert 0 < figures["p50_ms"] <= figures["p99_ms"]


def test_a_database_that_was_there_is_kept(postgres):
    name = f"pgbench_anchor_kept_{os.getpid()}"
    postgres.drop(name)
    with admin_connection(postgres.admin_url) as conn, conn.cursor() as cursor:
        cursor.execute(f'CREATE DATABASE "{name}"')
    try:
        with anchor_database(postgres.admin_url, name):
            pass
        assert _exists(postgres.admin_url, name)
    finally:
        postgres.drop(name)
