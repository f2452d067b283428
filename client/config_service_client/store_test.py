"""Last-known-good files: written whole or not at all, the owner's alone, one per service,
application and name."""

import json
import logging
import os
import stat
from pathlib import Path

import pytest

from config_service_client.store import LastKnownGood

CONFIGURATION = {"id": "01J", "name": "database", "config": {"password": "s3cret"}, "version": 4}


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_saved_copy_loads_back(tmp_path: Path) -> None:
    store = LastKnownGood(tmp_path / "lkg", "http://config:8000")

    store.save("payments", "database", CONFIGURATION)

    assert store.load("payments", "database") == CONFIGURATION
    assert store.load("payments", "other") is None
    assert (
        LastKnownGood(tmp_path / "lkg", "http://config:8000/").load("payments", "database") == CONFIGURATION
    )


@pytest.mark.skipif(os.name != "posix", reason="POSIX permissions")
def test_files_and_the_directory_it_makes_are_the_owners_alone(tmp_path: Path) -> None:
    old_umask = os.umask(0o002)  # a permissive umask must not widen them
    try:
        store = LastKnownGood(tmp_path / "nested" / "lkg")
        saved = store.save("payments", "database", CONFIGURATION)
    finally:
        os.umask(old_umask)

    assert mode(saved) == 0o600
    assert mode(tmp_path / "nested" / "lkg") == 0o700


def test_a_copy_is_replaced_whole_and_leaves_no_temporary_file(tmp_path: Path) -> None:
    store = LastKnownGood(tmp_path)
    store.save("payments", "database", CONFIGURATION)

    store.save("payments", "database", CONFIGURATION | {"version": 5})

    assert store.load("payments", "database") == CONFIGURATION | {"version": 5}
    assert [path.name for path in tmp_path.iterdir()] == [store.path("payments", "database").name]


def test_a_write_that_fails_keeps_the_previous_copy(tmp_path: Path) -> None:
    store = LastKnownGood(tmp_path)
    store.save("payments", "database", CONFIGURATION)

    with pytest.raises(TypeError):
        store.save("payments", "database", {"config": {"not json": object()}})

    assert store.load("payments", "database") == CONFIGURATION
    assert len(list(tmp_path.iterdir())) == 1


def test_services_applications_names_and_revealed_copies_are_kept_apart(tmp_path: Path) -> None:
    production = LastKnownGood(tmp_path, "https://config.prod")
    staging = LastKnownGood(tmp_path, "https://config.staging")
    production.save("payments", "database", {"env": "prod"})
    production.save("payments", "database", {"env": "prod", "password": "plain"}, revealed=True)
    staging.save("payments", "database", {"env": "staging"})
    production.save("payments-database", "x", {"env": "other"})

    assert production.load("payments", "database") == {"env": "prod"}
    assert production.load("payments", "database", revealed=True) == {"env": "prod", "password": "plain"}
    assert staging.load("payments", "database") == {"env": "staging"}
    assert staging.load("payments", "database", revealed=True) is None
    assert len(list(tmp_path.iterdir())) == 4


@pytest.mark.parametrize("name", ["../../etc/passwd", "a/b", "..", "", "café ☕", "x" * 300, "C:\\evil"])
def test_any_name_makes_a_file_inside_the_directory(tmp_path: Path, name: str) -> None:
    store = LastKnownGood(tmp_path / "lkg")

    saved = store.save(name, name, {"name": name})

    assert saved.parent == tmp_path / "lkg"
    assert len(saved.name) < 160
    assert store.load(name, name) == {"name": name}


def test_a_damaged_or_foreign_file_is_no_copy(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    store = LastKnownGood(tmp_path)
    store.path("payments", "database").write_text("{not json")
    other = LastKnownGood(tmp_path, "http://elsewhere")
    entry = json.loads(other.save("payments", "database", {"x": 1}).read_text())
    store.path("payments", "cache").write_text(json.dumps(entry))  # another service's copy, moved

    with caplog.at_level(logging.WARNING):
        assert store.load("payments", "database") is None
        assert store.load("payments", "cache") is None

    assert len(caplog.records) == 2


def test_a_deleted_copy_is_gone_and_only_it(tmp_path: Path) -> None:
    store = LastKnownGood(tmp_path)
    store.save("payments", "database", CONFIGURATION)
    store.save("payments", "database", CONFIGURATION, revealed=True)
    store.save("payments", "cache", {"ttl": 30})

    assert store.delete("payments", "database", revealed=True)
    assert not store.delete("payments", "database", revealed=True)  # nothing left to delete

    assert store.load("payments", "database", revealed=True) is None
    assert store.load("payments", "database") == CONFIGURATION
    assert store.load("payments", "cache") == {"ttl": 30}
    assert len(list(tmp_path.iterdir())) == 2
