"""The write-throughput benchmark against the real service: the configuration it writes to,
and its main path with wrk for a second per client count. Nothing here judges speed."""

import os
import shutil
import subprocess
import sys

import pytest

from bench.put_throughput import prepare
from tests.apps import ADMIN_KEY
from tests.server import ROOT, api_client, running_service


@pytest.fixture
def service(database_url):
    # As the benchmark starts it: at a rate limit no run reaches.
    env = {"DATABASE_URL": database_url, "LOG_LEVEL": "warning", "RATE_LIMIT_PER_SECOND": "1000000"}
    with running_service(env) as url:
        yield url


def test_prepare_creates_the_configuration_it_names(service):
    config_id = prepare(service, ADMIN_KEY)

    with api_client(service) as client:
        response = client.get(f"/api/v1/configurations/{config_id}")
    assert response.status_code == 200
    assert (response.json()["name"], response.json()["config"]) == ("target", {"n": 0})


def test_a_short_run_prints_a_row_per_client_count_without_errors(service):
    if shutil.which("wrk") is None:
        pytest.skip("wrk is not installed")
    result = subprocess.run(
        [sys.executable, "-m", "bench.put_throughput", "--url", service, "--seconds", "1"],
        cwd=ROOT,
        env=os.environ | {"BENCH_API_KEY": ADMIN_KEY},
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.returncode == 0, result.stderr
    heading, *rows = (line.split() for line in result.stdout.splitlines())
    assert heading == ["clients", "req/s", "p50", "ms", "p99", "ms", "errors"]
    assert [row[0] for row in rows] == ["1", "16"]
    for _, req_s, p50_ms, p99_ms, errors in rows:
        assert float(req_s) > 0
        assert 0 < float(p50_ms) <= float(p99_ms)
        assert errors == "0"
    # Each request carried a new config, so each made a revision of the one configuration.
    with api_client(service) as client:
        [target] = client.get("/api/v1/configurations").json()
    assert target["version"] > 1
