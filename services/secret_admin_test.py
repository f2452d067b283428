import base64
import io
import os
import subprocess
import sys

import psycopg2
import pytest
from psycopg2.extras import RealDictCursor

from main import create_app
from models.audit import AuditContext
from models.errors import SecretUnreadable
from models.ids import new_id
from models.json_pointer import at, set_at
from models.sealed import copy_json, is_sealed, walk
from repositories import applications, configurations
from services import secret_admin
from services.secrets import SecretBox, key_id, opened
from tests.apps import settings_for, sync_client
from tests.fixtures import CONFIGURATIONS, create_application, create_configuration
from tests.server import ROOT
from tests.stored import TABLES, configuration_with_versions, tables_holding
from tests.waiting import wait_until

OLD, NEW, LOST = (os.urandom(32) for _ in range(3))
AS_T = AuditContext("t")
SECRET = "s3cr3t-plaintext"  # every plain secret here holds it, so output can be searched for it
LEAKED = "leaked-db-password-4711"


def text(*keys: bytes) -> str:
    return ",".join(base64.b64encode(key).decode() for key in keys)


@pytest.fixture
def environment(database_url, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)  # no .env of a developer's
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.delenv("ADMIN_API_KEY", raising=False)
    monkeypatch.delenv("SECRETS_KEY_FILE", raising=False)
    monkeypatch.setenv("SECRETS_KEY", text(NEW, OLD))
    return monkeypatch


@pytest.fixture
def app_id(conn) -> str:
    return applications.insert(conn, id=new_id(), name="payments", comments=None)["id"]


def plain_version(n: int, tag: str) -> dict:
    return {
        "db": {"host": f"db{n}", "password": f"{SECRET}-{tag}-{n}"},
        "tokens": [f"{SECRET}-token-{tag}-{n}", {"nested": {"key": f"{SECRET}-nested-{tag}"}}],
        "port": 5432,
    }


SECRET_PATHS = ["/db/password", "/tokens/0", "/tokens/1/nested"]


def sealed_for(plain: dict, box: SecretBox, configuration_id: str) -> dict:
    sealed = copy_json(plain)
    for path in SECRET_PATHS:
        _, value = at(sealed, path)
        set_at(sealed, path, box.seal(value, configuration_id, path))
    return sealed


def seed(conn, application_id: str, box: SecretBox, name: str, versions: int = 2) -> tuple[str, dict]:
    """A configuration whose every version, revision and audit image holds values sealed with
    `box`; returns its id and its plain config by version."""
    configuration_id = new_id()
    plain = {n: plain_version(n, name) for n in range(1, versions + 1)}
    sealed = [sealed_for(plain[n], box, configuration_id) for n in sorted(plain)]
    configuration_with_versions(conn, application_id, name, sealed, configuration_id=configuration_id)
    conn.commit()
    return configuration_id, plain


def query(database_url: str, sql: str, params=None) -> list[dict]:
    with psycopg2.connect(database_url, cursor_factory=RealDictCursor) as conn, conn.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    conn.close()
    return rows


_SEALED = """jsonb_path_query({}, 'strict $.**."$secret"') #>> '{{}}' AS token"""
_TOKENS = {
    "configurations": f"SELECT {_SEALED.format('config')} FROM configurations ORDER BY id",
    "configuration_revisions": f"""SELECT {_SEALED.format("config")} FROM configuration_revisions
        ORDER BY configuration_id, version""",
    "audit_events": f"""SELECT {_SEALED.format("image")}
        FROM audit_events, LATERAL (VALUES (1, before), (2, after)) AS images(side, image)
        WHERE image IS NOT NULL ORDER BY seq, side""",
}


def tokens(database_url: str) -> dict[str, list[str]]:
    """Every sealed value's token, by table, as SQL finds them."""
    return {table: [row["token"] for row in query(database_url, sql)] for table, sql in _TOKENS.items()}


def sealed_with(token: str, key: bytes) -> bool:
    return token.startswith(f"v1:{key_id(key)}:")


def assert_all_open_with(database_url: str, key: bytes, plain: dict[str, dict[int, dict]]) -> None:
    """Each table holds each configuration's plain config (by version) sealed so that `key`
    alone opens it, at its own place."""
    box = SecretBox([key])
    for row in query(database_url, "SELECT id, version, config FROM configurations"):
        assert opened(row["config"], box, row["id"])[0] == plain[row["id"]][row["version"]]
    for row in query(database_url, "SELECT configuration_id, version, config FROM configuration_revisions"):
        configuration_id = row["configuration_id"]
        assert opened(row["config"], box, configuration_id)[0] == plain[configuration_id][row["version"]]
    events = query(
        database_url,
        "SELECT entity_id, version, before, after FROM audit_events WHERE entity_type = 'configuration'",
    )
    for row in events:
        versions = plain[row["entity_id"]]
        if row["after"] is None:  # a deletion: the image before is of the version deleted
            assert opened(row["before"]["config"], box, row["entity_id"])[0] == versions[row["version"]]
            continue
        assert opened(row["after"]["config"], box, row["entity_id"])[0] == versions[row["version"]]
        if row["before"] is not None:
            assert opened(row["before"]["config"], box, row["entity_id"])[0] == versions[row["version"] - 1]


def test_rotate_reseals_every_stored_secret_with_the_first_key(
    environment, conn, app_id, database_url, capsys
):
    old = SecretBox([OLD])
    plain = dict(seed(conn, app_id, old, f"c{n}", versions=n) for n in range(1, 4))
    plain_only = configurations.insert(
        conn,
        AS_T,
        id=new_id(),
        event_id=new_id(),
        application_id=app_id,
        name="nothing-secret",
        comments=None,
        config={"a": 1},
    )
    plain[plain_only["id"]] = {1: {"a": 1}}
    gone, plain[gone] = seed(conn, app_id, old, "gone", versions=2)  # its events stay
    assert configurations.delete(conn, gone, AS_T, event_id=new_id(), if_match=None)["written"]
    conn.commit()
    before = tokens(database_url)
    assert all(sealed_with(token, OLD) for found in before.values() for token in found)
    # 3 values a version. Configurations: 3; revisions: 1 + 2 + 3 = 6; events: 6 with an
    # after, and a before in each but the first of a configuration; and the deleted one's 3
    # events: 2 afters, 2 befores.
    counts = {table: len(found) for table, found in before.items()}
    assert counts == {"configurations": 9, "configuration_revisions": 18, "audit_events": 18 + 9 + 12}
    rows = 3 + 6 + 6 + 3

    assert secret_admin.main(["rotate", "--batch-size", "2"]) == 0

    after = tokens(database_url)
    assert {table: len(found) for table, found in after.items()} == counts
    assert all(sealed_with(token, NEW) for found in after.values() for token in found)
    assert_all_open_with(database_url, NEW, plain)
    out, err = capsys.readouterr()
    assert f"re-sealed {sum(counts.values())} values in {rows} rows with key {key_id(NEW)}" in out
    assert "rotating [" in err and f"{rows}/{rows} rows" in err
    assert SECRET not in out + err
    untouched = query(database_url, "SELECT config FROM configurations WHERE id = %s", (plain_only["id"],))
    assert untouched == [{"config": {"a": 1}}]

    # Run again, there is nothing left to do: every value counts as done.
    assert secret_admin.main(["rotate"]) == 0
    out, _ = capsys.readouterr()
    assert f"re-sealed 0 values in 0 rows with key {key_id(NEW)}; {sum(counts.values())} were sealed" in out
    assert tokens(database_url) == after


def test_rotate_keeps_what_the_service_sealed_readable(environment, database_url):
    schema = {"type": "object", "properties": {"password": {"type": "string", "writeOnly": True}}}
    config = {"host": "db", "password": f"{SECRET}-through-the-api"}
    with sync_client(create_app(settings_for(database_url, secrets_key=text(OLD)))) as client:
        assert client.post("/api/v1/schemas", json={"name": "db", "schema": schema}).status_code == 201
        application = create_application(client)
        created = create_configuration(client, application["id"], "db", config=config, schema={"name": "db"})
        url = f"{CONFIGURATIONS}/{created['id']}"
        assert client.put(url, json={"config": config | {"host": "db2"}}).status_code == 200

    assert secret_admin.main(["rotate"]) == 0

    assert all(sealed_with(token, NEW) for found in tokens(database_url).values() for token in found)
    with sync_client(create_app(settings_for(database_url, secrets_key=text(NEW)))) as client:
        assert client.get(url, params={"reveal": "true"}).json()["config"] == config | {"host": "db2"}
        assert client.get(f"{url}/versions/1", params={"reveal": "true"}).json()["config"] == config
        assert client.get(url).json()["config"] == {"host": "db2", "password": "********"}


def test_a_value_no_key_opens_is_named_and_the_rest_is_rotated(
    environment, conn, app_id, database_url, capsys
):
    lost_id, _ = seed(conn, app_id, SecretBox([LOST]), "lost", versions=1)
    kept_id, plain = seed(conn, app_id, SecretBox([OLD]), "kept", versions=1)
    lost_before = query(database_url, "SELECT config FROM configurations WHERE id = %s", (lost_id,))

    assert secret_admin.main(["rotate"]) == 1

    out, err = capsys.readouterr()
    assert f"re-sealed 9 values in 3 rows with key {key_id(NEW)}" in out
    for table, row in [
        ("configurations", ""),
        ("configuration_revisions", ", version 1"),
        ("audit_events", ", event "),
    ]:
        for path in SECRET_PATHS:
            assert f"value at {path} of configuration {lost_id} ({table}{row}" in err
    assert "9 values could not be re-sealed" in err
    assert SECRET not in out + err
    assert query(database_url, "SELECT config FROM configurations WHERE id = %s", (lost_id,)) == lost_before
    box = SecretBox([NEW])
    for row in query(database_url, "SELECT id, config FROM configurations WHERE id = %s", (kept_id,)):
        assert opened(row["config"], box, kept_id)[0] == plain[1]


def test_an_interrupted_rotation_resumes(environment, conn, app_id, database_url, tmp_path, capsys):
    old = SecretBox([OLD])
    plain = dict(seed(conn, app_id, old, f"c{n}") for n in range(5))
    ids = sorted(plain)
    locker = psycopg2.connect(database_url)
    log = tmp_path / "rotate.log"
    try:
        with locker.cursor() as cursor:  # held until released: the rotation waits on it
            cursor.execute("SELECT id FROM configurations WHERE id = %s FOR UPDATE", (ids[2],))
        with log.open("w") as stderr:
            rotation = subprocess.Popen(
                [sys.executable, "-m", "services.secret_admin", "rotate", "--batch-size", "1"],
                cwd=tmp_path,
                env={
                    "PATH": os.environ.get("PATH", ""),
                    "PYTHONPATH": str(ROOT),
                    "DATABASE_URL": database_url,
                    "SECRETS_KEY": text(NEW, OLD),
                },
                stdout=subprocess.DEVNULL,
                stderr=stderr,
            )
        try:

            def blocked_after_two() -> bool:
                assert rotation.poll() is None, log.read_text()
                waiting = query(
                    database_url,
                    """SELECT count(*) AS n FROM pg_stat_activity
                       WHERE datname = current_database() AND wait_event_type = 'Lock'""",
                )
                return waiting[0]["n"] == 1 and rotated(database_url) == ids[:2]

            wait_until(blocked_after_two, what="rotation waiting on the locked row after two done")
        finally:
            rotation.kill()
            rotation.wait()
    finally:
        locker.rollback()
        locker.close()
    assert rotated(database_url) == ids[:2]  # killed halfway: the rest are as they were

    assert secret_admin.main(["rotate", "--batch-size", "1"]) == 0

    out, _ = capsys.readouterr()
    # 5 configurations of 2 versions: 3 values in each config, revision and image, 18 in all
    # each; of them, 3 in each of the 2 configurations re-sealed before the kill.
    assert f"re-sealed {5 * 18 - 2 * 3} values" in out and "; 6 were sealed with it already" in out
    assert all(sealed_with(token, NEW) for found in tokens(database_url).values() for token in found)
    assert_all_open_with(database_url, NEW, plain)


def rotated(database_url: str) -> list[str]:
    """The configurations whose current config is sealed with the new key throughout, by id."""
    rows = query(database_url, "SELECT id, config FROM configurations ORDER BY id")
    return [
        row["id"]
        for row in rows
        if all(
            sealed_with(value["$secret"], NEW) for _, value, _, _ in walk(row["config"]) if is_sealed(value)
        )
    ]


def leaked(conn, application_id: str) -> str:
    """A configuration written while unbound, with a password in plain at /db/password in
    every version, revision and audit image."""
    configs = [{"db": {"host": host, "password": LEAKED}} for host in ("h1", "h2", "h3")]
    configuration_id = configuration_with_versions(conn, application_id, "db", configs)
    conn.commit()
    return configuration_id


def test_scrub_seals_a_leaked_value_everywhere_and_records_it(
    environment, conn, app_id, database_url, capsys
):
    environment.setenv("SECRETS_KEY", text(OLD))
    configuration_id = leaked(conn, app_id)
    assert tables_holding(database_url, LEAKED) == list(TABLES)

    assert secret_admin.main(["scrub", "--configuration", configuration_id, "--path", "/db/password"]) == 0

    out, err = capsys.readouterr()
    # 3 revisions, 5 audit images (created: after; two updates: before and after), the config.
    assert f"sealed 9 values at /db/password in configuration {configuration_id}" in out
    assert LEAKED not in out + err
    assert tables_holding(database_url, LEAKED) == []
    box = SecretBox([OLD])
    documents = [row["config"] for row in query(database_url, "SELECT config FROM configurations")]
    documents += [row["config"] for row in query(database_url, "SELECT config FROM configuration_revisions")]
    images = query(
        database_url,
        "SELECT before, after FROM audit_events WHERE action <> 'configuration.scrubbed' ORDER BY seq",
    )
    documents += [image["config"] for row in images for image in (row["before"], row["after"]) if image]
    assert len(documents) == 9
    for document in documents:
        found, sealed = at(document, "/db/password")
        assert found and is_sealed(sealed)
        assert box.open(sealed, configuration_id, "/db/password") == LEAKED
        with pytest.raises(SecretUnreadable):
            box.open(sealed, configuration_id, "/db/host")  # it opens only where it was sealed
    scrubbed = query(database_url, "SELECT * FROM audit_events WHERE action = 'configuration.scrubbed'")
    assert len(scrubbed) == 1
    event = scrubbed[0]
    assert event["actor"] == "secret-admin" and event["entity_type"] == "configuration"
    assert event["entity_id"] == configuration_id and event["application_id"] == app_id
    assert event["note"] == "scrubbed /db/password: sealed 9 values"
    assert event["before"] is None and event["after"] is None

    # Scrubbed already: nothing to seal, nothing recorded.
    assert secret_admin.main(["scrub", "--configuration", configuration_id, "--path", "/db/password"]) == 0
    assert "nothing to seal at /db/password" in capsys.readouterr().out
    assert (
        len(query(database_url, "SELECT id FROM audit_events WHERE action = 'configuration.scrubbed'")) == 1
    )


def test_scrub_of_a_path_found_nowhere_says_so(environment, conn, app_id, database_url, capsys):
    configuration_id = leaked(conn, app_id)
    assert secret_admin.main(["scrub", "--configuration", configuration_id, "--path", "/db/user"]) == 0
    out, err = capsys.readouterr()
    assert "nothing to seal at /db/user" in out and LEAKED not in out + err
    assert tables_holding(database_url, LEAKED) == list(TABLES)
    assert query(database_url, "SELECT id FROM audit_events WHERE action = 'configuration.scrubbed'") == []


def test_scrub_of_an_unknown_configuration_or_a_bad_path_is_exit_2(environment, capsys):
    unknown = new_id()
    assert secret_admin.main(["scrub", "--configuration", unknown, "--path", "/db/password"]) == 2
    assert f'Configuration "{unknown}" does not exist' in capsys.readouterr().err
    assert secret_admin.main(["scrub", "--configuration", "not-an-id", "--path", "/a"]) == 2
    assert "does not exist" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exited:
        secret_admin.main(["scrub", "--configuration", unknown, "--path", "db/password"])
    assert exited.value.code == 2
    assert "JSON Pointer" in capsys.readouterr().err


def test_a_bad_key_is_one_line_without_the_key(environment, capsys):
    environment.setenv("SECRETS_KEY", "bm90IDMyIGJ5dGVz")
    assert secret_admin.main(["rotate"]) == 2
    err = capsys.readouterr().err
    assert "SECRETS_KEY" in err and "bm90IDMyIGJ5dGVz" not in err


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_is_redrawn_in_place_on_a_terminal_and_by_tenths_in_a_log():
    terminal, log = Terminal(), io.StringIO()
    for stream in (terminal, log):
        progress = secret_admin.Progress(40, stream)
        for _ in range(40):
            progress.advance(1)
        progress.advance(2)  # rows written meanwhile: the total grows with them
        progress.finish()
    assert terminal.getvalue().count("\r") == 42 and terminal.getvalue().endswith("42/42 rows\n")
    lines = log.getvalue().splitlines()
    assert len(lines) == 12 and lines[0].endswith("] 0/40 rows") and lines[-1].endswith("] 42/42 rows")
    assert lines[-1] == f"rotating [{'#' * 30}] 42/42 rows"
