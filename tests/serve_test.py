"""End to end: the command users run, against the embedded database and a given one."""

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.server import ROOT, api_client, running_service, service_process
from tests.waiting import wait_until


def test_without_database_url_the_service_runs_on_an_embedded_database_that_persists(tmp_path):
    env = {"DATA_DIR": str(tmp_path / "data"), "LOG_FORMAT": "json"}

    with running_service(env) as url, api_client(url) as client:
        assert client.get("/health/db").json()["status"] == "ok"
        created = client.post("/api/v1/applications", json={"name": "payments"})
        assert created.status_code == 201

    with running_service(env) as url, api_client(url) as client:  # a second run finds the first run's data
        listed = client.get("/api/v1/applications").json()
        assert [a["id"] for a in listed] == [created.json()["id"]]


def test_with_database_url_it_migrates_and_serves(postgres):
    name = postgres.new_database(migrated=False)
    try:
        with running_service({"DATABASE_URL": postgres.url(name)}) as url, api_client(url) as client:
            response = client.post("/api/v1/applications", json={"name": "payments"})
            assert response.status_code == 201
            assert response.headers["location"].startswith(url)
    finally:
        postgres.drop(name)


@pytest.mark.parametrize(
    "command",
    [
        'exec "$BIN/uvicorn" main:app --host 127.0.0.1 --port "$PORT"',
        'exec "$BIN/fastapi" run main.py --host 127.0.0.1 --port "$PORT"',
    ],
    ids=["uvicorn main:app", "fastapi run main.py"],
)
def test_the_usual_commands_serve_the_module_level_app(postgres, command):
    name = postgres.new_database()
    env = {"DATABASE_URL": postgres.url(name), "BIN": str(Path(sys.executable).parent)}
    try:
        with service_process(env, command=["sh", "-c", command]) as service, service.client() as client:
            assert client.post("/api/v1/applications", json={"name": "payments"}).status_code == 201
            assert client.get("/api/v1/applications").json()[0]["name"] == "payments"
    finally:
        postgres.drop(name)


def test_a_bad_setting_stops_start_up_naming_it():
    result = subprocess.run(
        [sys.executable, "main.py"],
        cwd=ROOT,
        env={"PORT": "99999", "PATH": ""},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "invalid setting PORT" in result.stderr


def test_sigterm_shuts_down_gracefully_and_stops_the_embedded_database(tmp_path):
    log = tmp_path / "service.log"
    env = {"DATA_DIR": str(tmp_path / "data")}
    with service_process(env, log=log) as service:
        os.kill(service.pid, signal.SIGTERM)  # what `docker stop` sends
        os.waitpid(service.pid, 0)
        output = log.read_text()
    assert "Application shutdown complete" in output
    assert not (tmp_path / "data" / "postgres" / "postmaster.pid").exists()


def test_an_embedded_database_left_by_a_killed_service_is_stopped_at_the_next_clean_shutdown(tmp_path):
    env = {"DATA_DIR": str(tmp_path / "data")}
    pgdata = (tmp_path / "data" / "postgres").resolve()
    with service_process(env) as service:
        os.kill(service.pid, signal.SIGKILL)  # no atexit, no clean-up: the server stays
        os.waitpid(service.pid, 0)
    orphan = int((pgdata / "postmaster.pid").read_text().split()[0])
    assert _is_running(orphan)
    try:
        with service_process(env) as service:
            assert int((pgdata / "postmaster.pid").read_text().split()[0]) == orphan  # taken over
            os.kill(service.pid, signal.SIGTERM)
            os.waitpid(service.pid, 0)

        wait_until(lambda: not _is_running(orphan), what="the embedded PostgreSQL to stop")
    finally:
        if _is_running(orphan):
            os.kill(orphan, signal.SIGINT)  # as the README says to, by hand: a fast shutdown


def _is_running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True
