"""The README's `Settings` class, run as its readers would run it: a script of its own, in
a process of its own, with the client's environment variables, against the real service;
then with the service down, from the last-known-good copy."""

import os
import re
import subprocess
import sys
from pathlib import Path

from config_service_client import ConfigClient

from tests.apps import ADMIN_KEY
from tests.server import ROOT, service_process

EXAMPLE = re.compile(r"^<!-- settings-example -->\n```python\n(.*?)^```$", re.MULTILINE | re.DOTALL)
# Marked secret by its schema: sealed at rest, masked unless read with ?reveal=true.
DATABASE_SCHEMA = {
    "type": "object",
    "properties": {
        "database": {
            "type": "object",
            "properties": {"host": {"type": "string"}, "password": {"type": "string", "writeOnly": True}},
        }
    },
}


def the_example() -> str:
    (block,) = EXAMPLE.findall((ROOT / "README.md").read_text())
    return block


def run(script: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    ours = {name: value for name, value in os.environ.items() if not name.startswith("CONFIG_SERVICE_")}
    return subprocess.run(
        [sys.executable, script],
        env=ours | env,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=script.parent,
    )


def test_the_readme_settings_load_from_the_service_then_from_the_last_known_good_copy(database_url, tmp_path):
    script = tmp_path / "settings_example.py"
    script.write_text(
        the_example()
        + "print(repr(settings.database.password), settings.database.password.get_secret_value())\n"
    )
    cache = tmp_path / "cache"
    with service_process({"DATABASE_URL": database_url}) as service:
        with ConfigClient(service.url, ADMIN_KEY) as client:
            client.create_application("payments")
            client._http.post(
                "/api/v1/schemas", json={"name": "payments-db", "schema": DATABASE_SCHEMA}
            ).raise_for_status()
            client.set(
                "payments", "common", {"pool_size": 20, "database": {"host": "localhost", "port": 5433}}
            )
            client._http.post(
                "/api/v1/configurations",
                json={
                    "application_id": client.application_id("payments"),
                    "name": "database",
                    "config": {"database": {"host": "db-1", "password": "s3cret"}},
                    "schema": {"name": "payments-db"},
                },
            ).raise_for_status()
        env = {
            "CONFIG_SERVICE_URL": service.url,
            "CONFIG_SERVICE_API_KEY": ADMIN_KEY,
            "CONFIG_SERVICE_CACHE_DIR": str(cache),
        }
        loaded = run(script, env)
        assert loaded.returncode == 0, loaded.stderr
        # database's host wins over common's; common's pool_size and port stay; the secret is revealed.
        assert loaded.stdout.splitlines() == ["db-1 20", "SecretStr('**********') s3cret"]
        overridden = run(script, env | {"POOL_SIZE": "50", "DATABASE__HOST": "db-2"})
        assert overridden.stdout.splitlines()[0] == "db-2 50"

    # The same service, gone: nothing answers at its address. Retrying for the default 30 s
    # before falling back would be as right, and slower.
    down = run(script, env | {"CONFIG_SERVICE_TIMEOUT": "2"})
    assert down.returncode == 0, down.stderr
    assert down.stdout.splitlines() == ["db-1 20", "SecretStr('**********') s3cret"]
    warnings = [
        line for line in down.stderr.splitlines() if "last-known-good" in line or "stale" in line.lower()
    ]
    assert len(warnings) == 2, down.stderr  # once for each configuration
    assert "s3cret" not in down.stderr and ADMIN_KEY not in down.stderr
