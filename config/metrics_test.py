import subprocess
import sys

from prometheus_client.parser import text_string_to_metric_families

from config import metrics
from tests.server import ROOT


def families(text: bytes) -> dict:
    return {family.name: family for family in text_string_to_metric_families(text.decode())}


def test_a_single_process_exposes_its_own_registry(monkeypatch):
    monkeypatch.delenv(metrics.MULTIPROCESS_DIR, raising=False)
    metrics.LISTENER_RECONNECTS.inc(0)

    body, content_type = metrics.exposition()

    assert content_type.startswith("text/plain")
    assert "configsvc_listener_reconnects" in families(body)


def test_several_processes_are_summed_from_their_files(monkeypatch, tmp_path):
    monkeypatch.setenv(metrics.MULTIPROCESS_DIR, str(tmp_path))
    body, _ = metrics.exposition()  # no worker has written yet: empty, but well-formed
    assert families(body) == {}
    metrics.process_exited(12345)  # a worker that never wrote leaves nothing to clean


def test_process_exited_needs_no_directory(monkeypatch):
    monkeypatch.delenv(metrics.MULTIPROCESS_DIR, raising=False)
    metrics.process_exited(12345)


# Every label value the code uses: a series that appears only once used is invisible to a
# dashboard (and to rate()) until then.
KNOWN_SERIES = {
    "configsvc_cache_evictions_total": ("reason", {"capacity", "changed", "suspended"}),
    "configsvc_open_watchers": ("kind", {"stream", "long_poll"}),
    "configsvc_db_pool_connections": ("state", {"in_use", "idle", "max"}),
    "configsvc_db_unit_duration_seconds_count": ("kind", {"read", "write"}),
}


def labelled(text: bytes) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {name: set() for name in KNOWN_SERIES}
    for family in families(text).values():
        for sample in family.samples:
            if sample.name in KNOWN_SERIES:
                found[sample.name].add(sample.labels[KNOWN_SERIES[sample.name][0]])
    return found


def test_known_label_values_are_exposed_before_first_use(monkeypatch):
    # A fresh process: in this one, other tests have used most series already.
    monkeypatch.delenv(metrics.MULTIPROCESS_DIR, raising=False)
    script = "import sys; from config import metrics; sys.stdout.buffer.write(metrics.exposition()[0])"
    text = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, check=True).stdout
    assert labelled(text) == {name: values for name, (_, values) in KNOWN_SERIES.items()}
