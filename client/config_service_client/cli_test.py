"""`config-service` against the real service, in-process through Click's runner: each command's
output in a pipe (JSON) and as tables, and the exit status of each kind of failure."""

import json
import sys
import threading
import time
import unicodedata
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner, Result

from config_service_client import cli as cli_module
from config_service_client.cli import MASK, Session, _holds, _same, cli
from config_service_client.watch import EventFeed
from tests.http_faults import HttpFaults
from tests.server import free_port
from tests.waiting import DEADLINE_S, wait_until

Run = Callable[..., Result]


@pytest.fixture
def run(service_url: str, admin_key: str) -> Run:
    """`config-service ARGS` as a user with the URL and key in the environment would run it."""

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
def api(service_url: str, admin_key: str):
    with httpx.Client(
        base_url=f"{service_url}/api/v1", headers={"Authorization": f"Bearer {admin_key}"}
    ) as client:
        yield client


def ok(result: Result) -> Result:
    assert result.exit_code == 0, (result.exit_code, result.output)
    return result


def failed(result: Result, exit_code: int) -> str:
    """The one line that says what failed: the last of stderr, and the only "error:" one."""
    assert result.exit_code == exit_code, (result.exit_code, result.output)
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert errors == result.stderr.splitlines()[-1:], result.stderr
    return errors[0]


def configuration(api: httpx.Client, app: str, name: str) -> dict:
    [application] = api.get("/applications", params={"name": app}).json()
    [found] = api.get("/configurations", params={"application_id": application["id"], "name": name}).json()
    return found


def test_apps_create_list_and_delete(run: Run, app_name: str):
    created = json.loads(ok(run("apps", "create", app_name, "--comments", "the shop")).stdout)
    assert (created["name"], created["comments"]) == (app_name, "the shop")
    other = f"{app_name}-other"
    assert ok(run("--table", "apps", "create", other)).stdout == f"created application {other}\n"
    assert json.loads(ok(run("apps", "delete", other, "--yes")).stdout) == {"deleted": other}
    ok(run("set", app_name, "db", "-", input='{"host": "db"}'))

    listed = {app["name"]: app for app in json.loads(ok(run("apps", "list")).stdout)}
    assert listed[app_name]["comments"] == "the shop"
    assert len(listed[app_name]["configuration_ids"]) == 1

    [row] = [line for line in ok(run("--table", "apps", "list")).stdout.splitlines() if app_name in line]
    assert row.split()[:2] == [app_name, "1"]
    assert row.rstrip().endswith("the shop")

    # Deleting takes its configurations along: it asks first, and "no" deletes nothing.
    refused = run("apps", "delete", app_name, input="n\n")
    assert refused.exit_code == 1
    assert f"Delete application {app_name} and its 1 configuration(s)?" in refused.stderr
    assert app_name in {app["name"] for app in json.loads(ok(run("apps", "list")).stdout)}

    assert (
        ok(run("--table", "apps", "delete", app_name, input="y\n")).stdout
        == f"deleted application {app_name}\n"
    )
    assert app_name not in {app["name"] for app in json.loads(ok(run("apps", "list")).stdout)}
    assert failed(run("apps", "delete", app_name, "--yes"), 1).startswith("error: Not Found: ")


def test_set_creates_then_updates_and_get_prints_the_document(run: Run, app_name: str, tmp_path: Path):
    ok(run("apps", "create", app_name))
    first = tmp_path / "db.json"
    first.write_text('{"host": "db-1", "pool": {"size": 5}}')

    created = json.loads(ok(run("set", app_name, "database", str(first), "--comments", "primary")).stdout)
    assert (created["version"], created["comments"]) == (1, "primary")
    assert ok(
        run("--table", "set", app_name, "database", "-", input='{"host": "db-2", "pool": {"size": 5}}')
    ).stdout == (f"{app_name}/database: version 2\n")

    # In a pipe, the document itself: what `set` takes back.
    assert json.loads(ok(run("get", app_name, "database")).stdout) == {"host": "db-2", "pool": {"size": 5}}
    assert json.loads(ok(run("get", app_name, "database", "--version", "1")).stdout) == {
        "host": "db-1",
        "pool": {"size": 5},
    }
    whole = json.loads(ok(run("--json", "get", app_name, "database")).stdout)
    assert (whole["name"], whole["version"], whole["comments"], whole["config"]["host"]) == (
        "database",
        2,
        "primary",
        "db-2",
    )


def test_set_if_match_writes_only_over_that_version(run: Run, app_name: str, api: httpx.Client):
    ok(run("apps", "create", app_name))
    ok(run("set", app_name, "db", "-", input='{"a": 1}'))
    ok(run("set", app_name, "db", "-", "--if-match", "1", input='{"a": 2}'))

    line = failed(run("set", app_name, "db", "-", "--if-match", "1", input='{"a": 3}'), 1)
    assert line.startswith("error: Precondition Failed: ")
    assert (configuration(api, app_name, "db")["version"], configuration(api, app_name, "db")["config"]) == (
        2,
        {"a": 2},
    )


@pytest.mark.parametrize("document", ["{not json", "[1, 2]"])
def test_a_file_that_is_no_json_object_is_a_usage_error(run: Run, app_name: str, document: str):
    result = run("set", app_name, "db", "-", input=document)
    assert result.exit_code == 2
    assert "FILE" in result.stderr


def test_diff_history_and_rollback(run: Run, app_name: str):
    ok(run("apps", "create", app_name))
    ok(run("set", app_name, "db", "-", input='{"host": "a", "port": 5432}'))
    ok(run("set", app_name, "db", "-", input='{"host": "b", "port": 5432, "tls": true}'))

    changes = json.loads(ok(run("diff", app_name, "db", "--from", "1")).stdout)
    assert (changes["from"], changes["to"]) == (1, 2)
    assert sorted((op["op"], op["path"], op.get("value")) for op in changes["patch"]) == [
        ("add", "/tls", True),
        ("replace", "/host", "b"),
    ]
    table = ok(run("--table", "diff", app_name, "db", "--from", "2", "--to", "1")).stdout
    assert table.splitlines()[0] == f"{app_name}/db: version 2 -> 1"
    assert any(line.split() == ["remove", "/tls"] for line in table.splitlines())
    assert any(line.split() == ["replace", "/host", '"a"'] for line in table.splitlines())

    restored = json.loads(ok(run("rollback", app_name, "db", "1", "--comment", "b broke it")).stdout)
    assert (restored["version"], restored["config"]) == (3, {"host": "a", "port": 5432})
    assert (
        ok(run("--table", "rollback", app_name, "db", "2")).stdout
        == f"{app_name}/db: version 4, as version 2\n"
    )

    revisions = json.loads(ok(run("history", app_name, "db")).stdout)
    assert [revision["version"] for revision in revisions] == [4, 3, 2, 1]
    assert revisions[1]["rolled_back_from"] == 1
    assert [
        revision["version"]
        for revision in json.loads(ok(run("history", app_name, "db", "--limit", "2")).stdout)
    ] == [4, 3]
    rows = [line.split() for line in ok(run("--table", "history", app_name, "db")).stdout.splitlines()]
    assert [row[0] for row in rows if row and row[0].isdigit()] == ["4", "3", "2", "1"]
    assert "b broke it" in ok(run("--table", "history", app_name, "db")).stdout


def test_rollback_and_apps_delete_if_match_act_only_on_that_version(
    run: Run, app_name: str, api: httpx.Client
):
    ok(run("apps", "create", app_name))
    ok(run("set", app_name, "db", "-", input='{"v": 1}'))
    ok(run("set", app_name, "db", "-", input='{"v": 2}'))

    stale = failed(run("rollback", app_name, "db", "1", "--if-match", "1"), 1)
    assert stale.startswith("error: Precondition Failed: ")
    assert configuration(api, app_name, "db")["version"] == 2
    restored = json.loads(ok(run("rollback", app_name, "db", "1", "--if-match", "2")).stdout)
    assert (restored["version"], restored["config"]) == (3, {"v": 1})

    [application] = api.get("/applications", params={"name": app_name}).json()
    version = application["version"]
    stale = failed(run("apps", "delete", app_name, "--yes", "--if-match", str(version + 1)), 1)
    assert stale.startswith("error: Precondition Failed: ")
    assert api.get("/applications", params={"name": app_name}).json() != []
    ok(run("apps", "delete", app_name, "--yes", "--if-match", str(version)))
    assert api.get("/applications", params={"name": app_name}).json() == []


def test_an_error_of_the_service_is_one_line_and_exit_status_1(run: Run, app_name: str):
    line = failed(run("get", app_name, "nothing"), 1)
    assert line.startswith("error: Not Found: ")

    ok(run("apps", "create", app_name))
    assert failed(run("apps", "create", app_name), 1).startswith("error: Conflict: ")


def test_a_wrong_key_is_exit_status_1_and_never_printed(run: Run):
    wrong = "cs_a-key-the-service-does-not-know"
    line = failed(run("apps", "list", env={"CONFIG_SERVICE_API_KEY": wrong}), 1)
    assert line.startswith("error: Unauthorized")
    result = run("--api-key", wrong, "apps", "list")
    assert result.exit_code == 1
    assert wrong not in result.output


@pytest.mark.parametrize(
    ("args", "env", "says"),
    [
        (["apps", "list"], {"CONFIG_SERVICE_URL": ""}, "No service URL"),
        (["apps", "list"], {"CONFIG_SERVICE_API_KEY": ""}, "No API key"),
        (["--url", "localhost:8000", "apps", "list"], {}, "http:// or https://"),
        (["nosuchcommand"], {}, "No such command"),
        (["get", "only-app"], {}, "Missing argument 'NAME'"),
        (["diff", "app", "db"], {}, "Missing option '--from'"),
        (["history", "app", "db", "--limit", "0"], {}, "--limit"),
    ],
)
def test_usage_errors_are_exit_status_2(run: Run, args: list[str], env: dict[str, str], says: str):
    result = run(*args, env=env)
    assert result.exit_code == 2, result.output
    assert says in result.stderr


def test_a_service_that_cannot_be_reached_is_exit_status_3_within_the_timeout(run: Run):
    url = f"http://127.0.0.1:{free_port()}"
    started = time.monotonic()
    line = failed(run("--url", url, "--timeout", "0.5", "apps", "list"), 3)
    assert time.monotonic() - started < DEADLINE_S / 3
    assert line.startswith(f"error: cannot reach the service: Config Service at {url} did not answer GET ")

    # The timeout comes from the environment too.
    assert failed(run("apps", "list", env={"CONFIG_SERVICE_URL": url, "CONFIG_SERVICE_TIMEOUT": "0.5"}), 3)


def test_a_watch_that_can_open_no_stream_is_exit_status_3_within_the_timeout(run: Run):
    url = f"http://127.0.0.1:{free_port()}"
    started = time.monotonic()
    line = failed(run("--url", url, "--timeout", "0.5", "watch"), 3)
    assert time.monotonic() - started < DEADLINE_S / 3
    assert line.startswith(f"error: cannot reach the service: Config Service at {url} did not answer GET ")


def test_a_watch_of_an_application_that_is_not_there_is_exit_status_1(run: Run, app_name: str):
    assert failed(run("watch", app_name), 1).startswith("error: Not Found: ")


def test_the_session_never_shows_its_api_key():
    session = Session("http://127.0.0.1:8000", "cs_the-key-itself", None, 30.0)
    assert "cs_the-key-itself" not in repr(session)
    assert "http://127.0.0.1:8000" in repr(session)


def test_version(run: Run):
    assert ok(run("--version")).stdout.startswith("config-service, version ")


def test_help_shows_no_key(run: Run, admin_key: str):
    shown = ok(run("--help")).stdout
    assert "CONFIG_SERVICE_API_KEY" in shown
    assert admin_key not in shown
    for command in ("apps", "get", "set", "edit", "diff", "history", "rollback", "watch", "export", "import"):
        assert command in shown


# --- edit -------------------------------------------------------------------------------------


def editor(tmp_path: Path, body: str) -> dict[str, str]:
    """EDITOR: a Python script run on the file to edit (its path in sys.argv[1])."""
    script = tmp_path / "editor.py"
    script.write_text("import json, os, sys\npath = sys.argv[1]\n" + body)
    return {"EDITOR": f"{sys.executable} {script}"}


SET_TLS = "doc = json.load(open(path))\ndoc['tls'] = True\njson.dump(doc, open(path, 'w'))\n"


def test_edit_shows_the_diff_asks_and_writes(run: Run, app_name: str, tmp_path: Path, api: httpx.Client):
    ok(run("apps", "create", app_name))
    ok(run("set", app_name, "db", "-", input='{"host": "a"}'))

    result = ok(run("--table", "edit", app_name, "db", input="y\n", env=editor(tmp_path, SET_TLS)))
    assert f"--- {app_name}/db v1" in result.stderr
    assert '+  "tls": true' in result.stderr
    assert f"Write {app_name}/db?" in result.stderr
    assert result.stdout == f"{app_name}/db: version 2\n"
    assert (configuration(api, app_name, "db")["version"], configuration(api, app_name, "db")["config"]) == (
        2,
        {"host": "a", "tls": True},
    )

    # --yes asks nothing.
    drop_tls = "doc = json.load(open(path))\ndel doc['tls']\njson.dump(doc, open(path, 'w'))\n"
    result = ok(run("edit", app_name, "db", "--yes", env=editor(tmp_path, drop_tls)))
    assert "Write" not in result.stderr
    assert '-  "tls": true' in result.stderr
    assert json.loads(result.stdout)["version"] == 3
    assert configuration(api, app_name, "db")["config"] == {"host": "a"}


def test_edit_writes_nothing_when_declined_unchanged_or_broken(
    run: Run, app_name: str, tmp_path: Path, api: httpx.Client
):
    ok(run("apps", "create", app_name))
    ok(run("set", app_name, "db", "-", input='{"host": "a"}'))

    declined = ok(run("edit", app_name, "db", input="n\n", env=editor(tmp_path, SET_TLS)))
    kept = Path(declined.stderr.rsplit("your edit is in ", 1)[1].strip())
    assert json.loads(kept.read_text()) == {"host": "a", "tls": True}

    unchanged = ok(run("edit", app_name, "db", env=editor(tmp_path, "")))
    assert unchanged.stderr == "no changes\n"
    relaid = "doc = json.load(open(path))\njson.dump(doc, open(path, 'w'))\n"  # on one line
    assert ok(run("edit", app_name, "db", env=editor(tmp_path, relaid))).stderr == "no changes\n"

    broken = failed(
        run("edit", app_name, "db", "--yes", env=editor(tmp_path, "open(path, 'a').write('oops')\n")), 1
    )
    assert "not JSON" in broken
    assert "nothing was written" in broken

    assert configuration(api, app_name, "db")["version"] == 1


def test_edit_that_the_service_refuses_is_kept(run: Run, app_name: str, tmp_path: Path, api: httpx.Client):
    schema = {"type": "object", "properties": {"port": {"type": "integer"}}}
    api.post("/schemas", json={"name": app_name, "schema": schema}).raise_for_status()
    app = json.loads(ok(run("apps", "create", app_name)).stdout)
    api.post(
        "/configurations",
        json={
            "application_id": app["id"],
            "name": "db",
            "config": {"port": 5432},
            "schema": {"name": app_name},
        },
    ).raise_for_status()

    not_a_port = "doc = json.load(open(path))\ndoc['port'] = 'x'\njson.dump(doc, open(path, 'w'))\n"
    result = run("edit", app_name, "db", "--yes", env=editor(tmp_path, not_a_port))

    assert result.exit_code == 1
    kept, error = result.stderr.splitlines()[-2:]
    assert error.startswith("error: ")
    assert json.loads(Path(kept.removeprefix("your edit is in ")).read_text()) == {"port": "x"}
    assert configuration(api, app_name, "db")["version"] == 1


def test_edit_of_a_configuration_with_a_secret_keeps_the_secret_it_shows_masked(
    run: Run, app_name: str, tmp_path: Path, api: httpx.Client
):
    schema = {
        "type": "object",
        "properties": {"user": {"type": "string"}, "password": {"type": "string", "writeOnly": True}},
    }
    api.post("/schemas", json={"name": app_name, "schema": schema}).raise_for_status()
    app = json.loads(ok(run("apps", "create", app_name)).stdout)
    created = api.post(
        "/configurations",
        json={
            "application_id": app["id"],
            "name": "db",
            "config": {"user": "u", "password": "hunter2"},
            "schema": {"name": app_name},
        },
    )
    created.raise_for_status()
    # The editor sees the mask, leaves it, and changes something else.
    change_the_user = (
        "doc = json.load(open(path))\n"
        f"assert doc == {{'user': 'u', 'password': {MASK!r}}}, doc\n"
        "doc['user'] = 'v'\n"
        "json.dump(doc, open(path, 'w'))\n"
    )

    result = ok(run("edit", app_name, "db", "--yes", env=editor(tmp_path, change_the_user)))

    assert "hunter2" not in result.output
    assert json.loads(result.stdout)["version"] == 2
    revealed = api.get(f"/configurations/{created.json()['id']}", params={"reveal": "true"})
    assert revealed.json()["config"] == {"user": "v", "password": "hunter2"}


def test_edit_refuses_to_overwrite_a_change_made_meanwhile(
    run: Run, app_name: str, tmp_path: Path, api: httpx.Client, service_url: str, admin_key: str
):
    ok(run("apps", "create", app_name))
    ok(run("set", app_name, "db", "-", input='{"host": "a"}'))
    db = configuration(api, app_name, "db")
    # While the user edits, someone else writes version 2.
    url = f"{service_url}/api/v1/configurations/{db['id']}"
    someone_else = (
        "import httpx\n"
        f"httpx.put({url!r}, json={{'config': {{'host': 'theirs'}}}},\n"
        f"          headers={{'Authorization': 'Bearer {admin_key}'}}).raise_for_status()\n"
    )

    line = failed(run("edit", app_name, "db", "--yes", env=editor(tmp_path, someone_else + SET_TLS)), 1)

    assert line.startswith(
        f"error: someone changed {app_name}/db since you opened version 1; nothing was written"
    )
    assert json.loads(Path(line.rsplit("your edit is in ", 1)[1]).read_text()) == {"host": "a", "tls": True}
    assert configuration(api, app_name, "db")["config"] == {"host": "theirs"}


# --- watch ------------------------------------------------------------------------------------


def test_watch_replays_after_a_seq_and_keeps_to_the_name(run: Run, app_name: str):
    ok(run("apps", "create", app_name))
    ok(run("set", app_name, "db", "-", input='{"v": 1}'))
    ok(run("set", app_name, "cache", "-", input='{"v": 1}'))
    ok(run("set", app_name, "db", "-", input='{"v": 2}'))

    lines = ok(run("watch", app_name, "db", "--after", "0", "--count", "2")).stdout.splitlines()
    events = [json.loads(line) for line in lines]
    assert [(e["action"], e["name"], e["version"]) for e in events] == [
        ("configuration.created", "db", 1),
        ("configuration.updated", "db", 2),
    ]
    assert events[0]["seq"] < events[1]["seq"]

    # Resuming after the first: the second, then the one of `cache` is skipped for the name.
    resumed = ok(
        run("--table", "watch", app_name, "db", "--after", str(events[0]["seq"]), "--count", "1")
    ).stdout
    assert resumed.rstrip().endswith(
        f"#{events[1]['seq']}  configuration.updated  {app_name}/db v2 by {events[1]['actor']}"
    )

    every = [
        json.loads(line)
        for line in ok(run("watch", app_name, "--after", "0", "--count", "4")).stdout.splitlines()
    ]
    assert [e["action"] for e in every] == [
        "application.created",
        "configuration.created",
        "configuration.created",
        "configuration.updated",
    ]


def test_watch_of_every_application_prints_changes_as_they_happen(run: Run, app_name: str, api: httpx.Client):
    ok(run("apps", "create", app_name))
    ok(run("set", app_name, "db", "-", input='{"v": 0}'))
    db = configuration(api, app_name, "db")
    printed: list[Result] = []
    watching = threading.Thread(
        target=lambda: printed.append(run("--table", "watch", "--count", "1")), daemon=True
    )
    watching.start()

    # Without --after it starts with the next change: keep changing until it has printed one.
    version = iter(range(1, 10_000))

    def change_seen() -> bool:
        api.put(f"/configurations/{db['id']}", json={"config": {"v": next(version)}}).raise_for_status()
        watching.join(timeout=0.2)
        return not watching.is_alive()

    wait_until(change_seen, what="watch printed a change")
    [line] = ok(printed[0]).stdout.splitlines()
    assert f"configuration.updated  {app_name}/db v" in line


def test_watch_resumes_after_a_dropped_connection_without_missing_or_repeating(
    run: Run, app_name: str, api: httpx.Client, service_url: str
):
    ok(run("apps", "create", app_name))
    ok(run("set", app_name, "db", "-", input='{"v": 1}'))
    db = configuration(api, app_name, "db")
    proxy = HttpFaults(service_url)
    printed: list[Result] = []
    watching = threading.Thread(
        target=lambda: printed.append(
            run("--url", proxy.url, "watch", app_name, "db", "--after", "0", "--count", "3")
        ),
        daemon=True,
    )
    watching.start()
    wait_until(lambda: proxy.count(path="/api/v1/events", outcome="forwarded"), what="the feed opened")

    # The connection is cut (the proxy goes), a change is made meanwhile, the proxy comes back.
    proxy.close()
    api.put(f"/configurations/{db['id']}", json={"config": {"v": 2}}).raise_for_status()
    with HttpFaults(service_url, port=proxy.port) as back:
        wait_until(lambda: back.count(path="/api/v1/events", outcome="forwarded"), what="the feed resumed")
        api.put(f"/configurations/{db['id']}", json={"config": {"v": 3}}).raise_for_status()
        watching.join(DEADLINE_S)

    events = [json.loads(line) for line in ok(printed[0]).stdout.splitlines()]
    assert [event["version"] for event in events] == [1, 2, 3]
    [resumed] = [seen for seen in back.seen if seen.path.startswith("/api/v1/events")]
    assert int(resumed.headers["Last-Event-ID"]) in {0, events[0]["seq"]}


def test_watch_cut_off_before_any_change_resumes_from_where_its_stream_began_when_the_service_asks(
    run: Run, app_name: str, api: httpx.Client, service_url: str, monkeypatch: pytest.MonkeyPatch
):
    feeds: list[EventFeed] = []

    class Recorded(EventFeed):
        """The command's feed, seen from the test: whether it has read the stream's opening."""

        def __init__(self, *args: object, **kwargs: object) -> None:
            super().__init__(*args, **kwargs)
            feeds.append(self)

    monkeypatch.setattr(cli_module, "EventFeed", Recorded, raising=False)
    ok(run("apps", "create", app_name))
    ok(run("set", app_name, "db", "-", input='{"v": 1}'))
    db = configuration(api, app_name, "db")
    proxy = HttpFaults(service_url)
    printed: list[Result] = []
    watching = threading.Thread(
        target=lambda: printed.append(run("--url", proxy.url, "watch", app_name, "db", "--count", "1")),
        daemon=True,
    )
    watching.start()
    # Without --after: it starts where the service's feed is, as the stream's opening says.
    wait_until(lambda: feeds and feeds[0].last_seq is not None, what="the stream's opening read")
    opened_at = feeds[0].last_seq

    cut_at = time.monotonic()
    proxy.close()
    api.put(f"/configurations/{db['id']}", json={"config": {"v": 2}}).raise_for_status()
    with HttpFaults(service_url, port=proxy.port) as back:
        wait_until(lambda: back.count(path="/api/v1/events"), what="the feed resumed")
        resumed_in = time.monotonic() - cut_at
        watching.join(DEADLINE_S)

    [event] = [json.loads(line) for line in ok(printed[0]).stdout.splitlines()]
    assert (event["name"], event["version"]) == ("db", 2)  # made while it was cut off
    [resumed] = [seen for seen in back.seen if seen.path.startswith("/api/v1/events")]
    assert resumed.headers["Last-Event-ID"] == str(opened_at)
    assert resumed_in >= 3.0  # the service's `retry: 3000`, not a quick backoff


def test_watch_keeps_to_a_name_typed_decomposed(run: Run, app_name: str):
    ok(run("apps", "create", app_name))
    ok(run("set", app_name, unicodedata.normalize("NFC", "r\u00e9sum\u00e9"), "-", input='{"v": 1}'))
    printed: list[Result] = []
    decomposed = unicodedata.normalize("NFD", "r\u00e9sum\u00e9")
    watching = threading.Thread(
        target=lambda: printed.append(run("watch", app_name, decomposed, "--after", "0", "--count", "1")),
        daemon=True,
    )
    watching.start()
    watching.join(DEADLINE_S)

    assert printed, "the watch printed no change of its name"
    [event] = [json.loads(line) for line in ok(printed[0]).stdout.splitlines()]
    assert (event["action"], event["version"]) == ("configuration.created", 1)


# --- pure logic -------------------------------------------------------------------------------


def test_a_masked_secret_is_found_at_any_depth():
    assert _holds({"a": [{"b": MASK}]}, MASK)
    assert _holds([1, MASK], MASK)
    assert not _holds({"a": ["*******", {"b": 1}], "c": None}, MASK)


def test_a_schema_binding_without_a_version_is_the_one_that_follows_the_latest():
    assert _same("schema", {"name": "db"}, {"name": "db", "version": None})
    assert not _same("schema", {"name": "db"}, {"name": "db", "version": 2})
    assert not _same("schema", {"name": "db"}, None)
    assert _same("config", {"a": 1}, {"a": 1})
