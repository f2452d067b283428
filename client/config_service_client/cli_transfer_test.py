"""`config-service export` and `import` against the real service: the dump's format, a dry run
that writes nothing, an import that creates, updates and, done twice, changes nothing; secrets;
and what a terminal sees (tables, a progress bar) against what a pipe gets."""

import copy
import json
import os
import pty
import select
import subprocess
import sys
import time
import unicodedata
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner, Result

from config_service_client.cli import EXPORT_FORMAT, MASK, cli
from tests.waiting import DEADLINE_S

Run = Callable[..., Result]


@pytest.fixture
def run(service_url: str, admin_key: str) -> Run:
    def invoke(*args: str, input: str | None = None, env: dict[str, str] | None = None) -> Result:
        environment = {
            "CONFIG_SERVICE_URL": service_url,
            "CONFIG_SERVICE_API_KEY": admin_key,
            "COLUMNS": "200",
        }
        result = CliRunner().invoke(
            cli, list(args), input=input, env=environment | (env or {}), catch_exceptions=False
        )
        assert admin_key not in result.output  # whatever happened, the key was not printed
        return result

    return invoke


@pytest.fixture
def api(service_url: str, admin_key: str) -> Iterator[httpx.Client]:
    with httpx.Client(
        base_url=f"{service_url}/api/v1", headers={"Authorization": f"Bearer {admin_key}"}
    ) as client:
        yield client


def ok(result: Result) -> Result:
    assert result.exit_code == 0, (result.exit_code, result.output)
    return result


def application(api: httpx.Client, name: str) -> dict | None:
    found = api.get("/applications", params={"name": name}).json()
    return found[0] if found else None


def configurations(api: httpx.Client, app: str) -> dict[str, dict]:
    found = application(api, app)
    if found is None:
        return {}
    return {c["name"]: c for c in api.get("/configurations", params={"application_id": found["id"]}).json()}


def make_application(api: httpx.Client, name: str, comments: str | None = None) -> str:
    created = api.post("/applications", json={"name": name, "comments": comments})
    created.raise_for_status()
    return created.json()["id"]


def make_configuration(api: httpx.Client, app_id: str, name: str, config: dict, **more: object) -> dict:
    created = api.post(
        "/configurations", json={"application_id": app_id, "name": name, "config": config} | more
    )
    created.raise_for_status()
    return created.json()


def make_schema(api: httpx.Client, name: str, properties: dict) -> None:
    api.post(
        "/schemas", json={"name": name, "schema": {"type": "object", "properties": properties}}
    ).raise_for_status()


def versions(api: httpx.Client, app: str) -> dict[str, int]:
    return {name: found["version"] for name, found in configurations(api, app).items()}


def test_export_then_import_creates_updates_and_twice_changes_nothing(
    run: Run, api: httpx.Client, app_name: str, tmp_path: Path
):
    schema = f"{app_name}-db"
    make_schema(api, schema, {"host": {"type": "string"}})
    app_id = make_application(api, app_name, "the shop")
    make_configuration(api, app_id, "db", {"host": "a"}, comments="primary", schema={"name": schema})
    make_configuration(api, app_id, "cache", {"ttl": 60})

    exported = ok(run("export", app_name))
    assert exported.stderr == ""  # no progress bar in a pipe
    dump = json.loads(exported.stdout)
    assert (dump["format"], dump["secrets"]) == (EXPORT_FORMAT, "masked")
    assert dump["applications"] == [
        {
            "name": app_name,
            "comments": "the shop",
            "configurations": [
                {"name": "cache", "comments": None, "config": {"ttl": 60}, "schema": None},
                {
                    "name": "db",
                    "comments": "primary",
                    "config": {"host": "a"},
                    "schema": {"name": schema, "version": None},
                },
            ],
        }
    ]
    path = tmp_path / "dump.json"
    path.write_text(exported.stdout)

    # The dump of what is there: nothing to do.
    assert ok(run("--table", "import", str(path))).stdout.splitlines() == [
        f"unchanged app {app_name} (v1)",
        f"unchanged {app_name}/cache (v1)",
        f"unchanged {app_name}/db (v1)",
    ]

    # A changed dump, a dry run first: it says what it would do and writes nothing.
    other = f"{app_name}-other"
    changed = copy.deepcopy(dump)
    changed["applications"][0]["comments"] = "the new shop"
    changed["applications"][0]["configurations"][1]["config"] = {"host": "b"}
    changed["applications"][0]["configurations"].append({"name": "queue", "config": {"url": "amqp://q"}})
    changed["applications"].append({"name": other, "configurations": [{"name": "x", "config": {"n": 1}}]})
    path.write_text(json.dumps(changed))
    planned = [
        f"update app {app_name} (v1 -> v2)",
        f"unchanged {app_name}/cache (v1)",
        f"update {app_name}/db (v1 -> v2)",
        f"create {app_name}/queue",
        f"create app {other}",
        f"create {other}/x",
    ]
    assert ok(run("--table", "import", str(path), "--dry-run")).stdout.splitlines() == [
        line if line.startswith("unchanged") else f"would {line}" for line in planned
    ]
    assert versions(api, app_name) == {"cache": 1, "db": 1}
    assert application(api, app_name)["comments"] == "the shop"
    assert application(api, other) is None

    # In a pipe: what it did, as JSON.
    done = json.loads(ok(run("import", str(path))).stdout)
    assert done["dry_run"] is False
    assert [(s["action"], s["application"], s["configuration"], s["to_version"]) for s in done["steps"]] == [
        ("update", app_name, None, 2),
        ("unchanged", app_name, "cache", 1),
        ("update", app_name, "db", 2),
        ("create", app_name, "queue", 1),
        ("create", other, None, 1),
        ("create", other, "x", 1),
    ]
    assert application(api, app_name)["comments"] == "the new shop"
    held = configurations(api, app_name)
    assert (held["db"]["config"], held["db"]["comments"], held["db"]["schema"]["name"]) == (
        {"host": "b"},
        "primary",
        schema,
    )
    assert held["queue"]["config"] == {"url": "amqp://q"}
    assert configurations(api, other)["x"]["config"] == {"n": 1}

    # Again: nothing changes.
    again = json.loads(ok(run("import", str(path))).stdout)
    assert {step["action"] for step in again["steps"]} == {"unchanged"}
    assert versions(api, app_name) == {"cache": 1, "db": 2, "queue": 1}


def test_import_recreates_what_was_deleted_with_comments_and_schema(
    run: Run, api: httpx.Client, app_name: str, tmp_path: Path
):
    schema = f"{app_name}-db"
    make_schema(api, schema, {"host": {"type": "string"}})
    app_id = make_application(api, app_name, "the shop")
    make_configuration(
        api, app_id, "db", {"host": "a"}, comments="primary", schema={"name": schema, "version": 1}
    )
    path = tmp_path / "dump.json"
    path.write_text(ok(run("export")).stdout)  # every application
    assert app_name in {app["name"] for app in json.loads(path.read_text())["applications"]}

    api.delete(f"/applications/{app_id}").raise_for_status()
    lines = ok(run("--table", "import", "-", input=path.read_text())).stdout.splitlines()
    assert lines[lines.index(f"create app {app_name}") + 1] == f"create {app_name}/db"

    assert application(api, app_name)["comments"] == "the shop"
    db = configurations(api, app_name)["db"]
    assert (db["config"], db["comments"], db["schema"]) == (
        {"host": "a"},
        "primary",
        {"name": schema, "version": 1},
    )


def test_a_masked_dump_restores_in_place_but_creates_no_secret(
    run: Run, api: httpx.Client, app_name: str, tmp_path: Path
):
    schema = f"{app_name}-login"
    make_schema(api, schema, {"user": {"type": "string"}, "password": {"type": "string", "writeOnly": True}})
    app_id = make_application(api, app_name)
    db = make_configuration(api, app_id, "db", {"user": "u", "password": "hunter2"}, schema={"name": schema})

    masked = ok(run("export", app_name)).stdout
    assert json.loads(masked)["applications"][0]["configurations"][0]["config"] == {
        "user": "u",
        "password": MASK,
    }
    assert "hunter2" not in masked
    assert (
        ok(run("--table", "import", "-", input=masked)).stdout.splitlines()[1]
        == f"unchanged {app_name}/db (v1)"
    )

    revealed = ok(run("export", app_name, "--reveal")).stdout
    assert json.loads(revealed)["secrets"] == "revealed"
    assert json.loads(revealed)["applications"][0]["configurations"][0]["config"]["password"] == "hunter2"
    assert (
        ok(run("--table", "import", "-", input=revealed)).stdout.splitlines()[1]
        == f"unchanged {app_name}/db (v1)"
    )

    api.delete(f"/applications/{app_id}").raise_for_status()
    refused = run("import", "-", input=masked)
    assert refused.exit_code == 1
    assert refused.stderr.startswith(f"error: {app_name}/db holds masked secrets")
    assert application(api, app_name) is None  # nothing at all was written

    ok(run("import", "-", input=revealed))
    recreated = configurations(api, app_name)["db"]
    assert recreated["id"] != db["id"]
    plain = api.get(f"/configurations/{recreated['id']}", params={"reveal": "true"}).json()
    assert plain["config"] == {"user": "u", "password": "hunter2"}


def test_import_makes_the_service_hold_the_dump_whatever_changed_since_the_export(
    run: Run, api: httpx.Client, app_name: str
):
    app_id = make_application(api, app_name)
    make_configuration(api, app_id, "db", {"host": "a"})
    dump = json.loads(ok(run("export", app_name)).stdout)
    dump["applications"][0]["configurations"][0]["config"] = {"host": "mine"}
    # Between the export and the import, someone writes version 2: the dump is what is wanted,
    # so the import compares with version 2 and writes over it.
    db = configurations(api, app_name)["db"]
    api.put(f"/configurations/{db['id']}", json={"config": {"host": "theirs"}}).raise_for_status()

    lines = ok(run("--table", "import", "-", input=json.dumps(dump))).stdout.splitlines()
    assert lines[1] == f"update {app_name}/db (v2 -> v3)"
    assert configurations(api, app_name)["db"]["config"] == {"host": "mine"}


def test_an_import_that_fails_midway_says_what_it_did_before(run: Run, api: httpx.Client, app_name: str):
    dump = {
        "format": EXPORT_FORMAT,
        "applications": [
            {
                "name": app_name,
                "configurations": [
                    {"name": "fine", "config": {"n": 1}},
                    {"name": "unbound", "config": {"n": 2}, "schema": {"name": f"{app_name}-no-such-schema"}},
                    {"name": "never", "config": {"n": 3}},
                ],
            }
        ],
    }

    result = run("--table", "import", "-", input=json.dumps(dump))

    assert result.exit_code == 1
    assert result.stdout.splitlines() == [f"create app {app_name}", f"create {app_name}/fine"]
    [line] = result.stderr.splitlines()
    assert line.startswith("error: ")
    assert set(configurations(api, app_name)) == {"fine"}


@pytest.mark.parametrize(
    "document",
    [
        "not json",
        '{"format": "something-else/1", "applications": []}',
        # a configuration without its config
        '{"format": "config-service-export/1",'
        ' "applications": [{"name": "a", "configurations": [{"name": "x"}]}]}',
        '{"format": "config-service-export/1", "applications": [{"name": "a", "surprise": 1}]}',
    ],
)
def test_a_file_that_is_no_export_is_a_usage_error(run: Run, document: str):
    result = run("import", "-", input=document)
    assert result.exit_code == 2, result.output
    assert "DUMP" in result.stderr


def test_names_typed_decomposed_are_the_names_the_service_keeps(run: Run, api: httpx.Client, app_name: str):
    application = unicodedata.normalize("NFC", f"caf\u00e9-{app_name}")
    configuration = unicodedata.normalize("NFC", "r\u00e9sum\u00e9")
    make_configuration(api, make_application(api, application), configuration, {"n": 1})

    dump = json.loads(ok(run("export", unicodedata.normalize("NFD", application))).stdout)
    assert [app["name"] for app in dump["applications"]] == [application]

    # The same dump with its names decomposed: the same application and configuration.
    dump["applications"][0]["name"] = unicodedata.normalize("NFD", application)
    dump["applications"][0]["configurations"][0]["name"] = unicodedata.normalize("NFD", configuration)
    lines = ok(run("--table", "import", "-", input=json.dumps(dump))).stdout.splitlines()
    assert [line.split()[0] for line in lines] == ["unchanged", "unchanged"]
    assert versions(api, application) == {configuration: 1}


def test_export_of_an_application_that_is_not_there_is_exit_status_1(run: Run, app_name: str):
    result = run("export", app_name)
    assert result.exit_code == 1
    assert result.stderr.startswith("error: Not Found: ")


# --- a terminal and a pipe, as users run the command --------------------------------------------


def run_on_terminal(args: list[str], env: dict[str, str], *, stdout_on_terminal: bool) -> tuple[str, str]:
    """`python -m config_service_client.cli ARGS` with stderr (and stdout, if asked) on a
    pseudo-terminal: (what the terminal showed, what went to stdout when not shown there)."""
    controller, terminal = pty.openpty()
    stdout_file = subprocess.PIPE if not stdout_on_terminal else terminal
    process = subprocess.Popen(
        [sys.executable, "-m", "config_service_client.cli", *args],
        stdout=stdout_file,
        stderr=terminal,
        env=os.environ | env | {"COLUMNS": "200", "TERM": "xterm"},
    )
    os.close(terminal)
    shown = b""
    deadline = time.monotonic() + DEADLINE_S
    while time.monotonic() < deadline:
        ready, _, _ = select.select([controller], [], [], 0.1)
        if ready:
            try:
                chunk = os.read(controller, 65536)
            except OSError:  # the terminal closed: the process is done with it
                break
            if not chunk:
                break
            shown += chunk
        elif process.poll() is not None:
            break
    piped = b""
    if process.stdout is not None:
        with process.stdout:
            piped = process.stdout.read()
    assert process.wait(timeout=DEADLINE_S) == 0, shown
    os.close(controller)
    return shown.decode(errors="replace"), piped.decode()


def test_a_terminal_gets_tables_and_progress_a_pipe_gets_json(
    api: httpx.Client, app_name: str, service_url: str, admin_key: str
):
    make_configuration(api, make_application(api, app_name), "db", {"host": "a"})
    env = {"CONFIG_SERVICE_URL": service_url, "CONFIG_SERVICE_API_KEY": admin_key}

    shown, _ = run_on_terminal(["apps", "list"], env, stdout_on_terminal=True)
    assert "NAME" in shown
    assert any(line.split()[:2] == [app_name, "1"] for line in shown.splitlines() if line.split())

    shown, _ = run_on_terminal(["get", app_name, "db"], env, stdout_on_terminal=True)
    assert "host" in shown
    assert "\x1b[" in shown  # highlighted

    _, piped = run_on_terminal(["get", app_name, "db"], env, stdout_on_terminal=False)
    assert json.loads(piped) == {"host": "a"}

    progress, dump = run_on_terminal(["export", app_name], env, stdout_on_terminal=False)
    assert "exporting" in progress
    assert json.loads(dump)["applications"][0]["name"] == app_name


def test_import_shows_progress_on_a_terminal_and_nothing_in_a_pipe(
    api: httpx.Client, app_name: str, service_url: str, admin_key: str, tmp_path: Path
):
    env = {"CONFIG_SERVICE_URL": service_url, "CONFIG_SERVICE_API_KEY": admin_key}
    dump = {
        "format": EXPORT_FORMAT,
        "applications": [{"name": app_name, "configurations": [{"name": "db", "config": {"n": 1}}]}],
    }
    path = tmp_path / "dump.json"
    path.write_text(json.dumps(dump))

    progress, report = run_on_terminal(["import", str(path)], env, stdout_on_terminal=False)
    assert "importing" in progress
    assert [step["action"] for step in json.loads(report)["steps"]] == ["create", "create"]

    dump["applications"][0]["configurations"][0]["config"] = {"n": 2}
    path.write_text(json.dumps(dump))
    piped = subprocess.run(
        [sys.executable, "-m", "config_service_client.cli", "import", str(path)],
        capture_output=True,
        env=os.environ | env,
        timeout=DEADLINE_S,
        check=True,
    )
    assert piped.stderr == b""
    assert [step["action"] for step in json.loads(piped.stdout)["steps"]] == ["unchanged", "update"]
    assert versions(api, app_name) == {"db": 2}
