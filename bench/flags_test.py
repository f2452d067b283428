"""The flags benchmark's machinery, end to end against the real service with a second of load
and a few toggles. Nothing here measures speed: only that every figure is taken and judged."""

import tempfile
from pathlib import Path

from bench import flags
from bench.suite import service_env
from tests.apps import ADMIN_KEY
from tests.server import service_process


def test_it_takes_every_figure_and_judges_the_goals(database_url):
    with (
        tempfile.TemporaryDirectory() as scratch,
        service_process(service_env(Path(scratch), ADMIN_KEY) | {"DATABASE_URL": database_url}) as service,
    ):
        figures = flags.measure(service.url, ADMIN_KEY, seconds=1, connections=2, toggles=4)

    assert figures["local"]["flags"] == len(flags.FLAGS)
    assert 0 < figures["local"]["mean_us"] <= figures["local"]["slowest_us"]
    endpoint = figures["endpoint"]
    assert endpoint["evaluate_req_s"] > 0 and endpoint["ceiling_req_s"] > 0
    assert endpoint["unexpected"] == 0  # every evaluation answered 200
    assert endpoint["ratio"] == endpoint["evaluate_req_s"] / endpoint["ceiling_req_s"]
    assert figures["kill_switch"]["toggles"] == 4
    assert 0 < figures["kill_switch"]["p50_ms"] <= figures["kill_switch"]["p99_ms"]
    assert len(flags.goals_of(figures)) == 3


def test_goals_compare_with_their_bounds():
    figures = {
        "local": {"mean_us": 5.0, "slowest_us": 21.0, "flags": 12},
        "endpoint": {"ratio": 0.5},
        "kill_switch": {"p99_ms": 999.0},
    }
    assert [met for _, met in flags.goals_of(figures)] == [False, True, True]
