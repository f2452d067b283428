"""The settings-load benchmark's machinery, end to end against the real service with a few
loads and writes. Nothing here measures speed."""

import tempfile
from pathlib import Path

from bench import settings_load
from bench.suite import service_env
from tests.apps import ADMIN_KEY
from tests.server import service_process


def test_the_percentile_is_the_nearest_rank():
    assert settings_load.percentile([7.0], 99) == 7.0
    assert settings_load.percentile([float(n) for n in range(1, 101)], 99) == 99.0
    assert settings_load.percentile([float(n) for n in range(1, 101)], 50) == 50.0
    assert settings_load.percentile([float(n) for n in range(1, 11)], 99) == 10.0


def test_it_measures_loads_and_every_write_reaching_a_live_holder(database_url):
    with (
        tempfile.TemporaryDirectory() as scratch,
        service_process(service_env(Path(scratch), ADMIN_KEY) | {"DATABASE_URL": database_url}) as service,
    ):
        rows = settings_load.measure(service.url, ADMIN_KEY, loads=6, writes=3)
    assert [(r["what"].split(",")[0], r["n"]) for r in rows] == [
        ("Settings load", 6),
        ("Settings load with a SecretStr", 6),
        ("Settings load", 1),
        ("live holder: write answered -> on_change", 3),
        ("live holder: write sent -> on_change", 3),
    ]
    assert all(0 < r["p50_ms"] <= r["p99_ms"] for r in rows)
