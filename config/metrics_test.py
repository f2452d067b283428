from prometheus_client.parser import text_string_to_metric_families

from config import metrics


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
