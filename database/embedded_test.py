import json
import os
import subprocess
import sys

import psycopg2
import pytest

from config.settings import load_settings
from database.embedded import (
    EmbeddedDatabaseUnavailable,
    _forget_processes_that_are_gone,
    resolve_database_url,
    start_embedded,
)


def test_a_configured_url_is_used_as_it_is():
    settings = load_settings(database_url="postgresql://db.example/config", _env_file=None)
    assert resolve_database_url(settings) == "postgresql://db.example/config"


def test_without_a_url_an_embedded_server_keeps_its_data_in_the_data_dir(tmp_path):
    settings = load_settings(database_url=None, data_dir=tmp_path / "data", _env_file=None)

    url = resolve_database_url(settings)

    assert (tmp_path / "data" / "postgres" / "PG_VERSION").is_file()
    with psycopg2.connect(url) as conn, conn.cursor() as cursor:
        cursor.execute("SHOW server_version")
        assert cursor.fetchone()[0].startswith("16")
    assert start_embedded(tmp_path / "data" / "postgres") == url  # joined, not started twice


def test_without_pgserver_the_message_says_what_to_do(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "pgserver", None)
    with pytest.raises(EmbeddedDatabaseUnavailable, match="set DATABASE_URL"):
        start_embedded(tmp_path / "pg")


def test_users_of_the_server_that_were_killed_are_forgotten(tmp_path):
    killed = subprocess.Popen([sys.executable, "-c", "pass"])
    killed.wait()
    handles = tmp_path / ".handle_pids.json"
    handles.write_text(json.dumps([killed.pid, os.getpid()]))

    _forget_processes_that_are_gone(tmp_path)

    assert json.loads(handles.read_text()) == [os.getpid()]
