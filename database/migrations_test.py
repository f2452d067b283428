import threading
import time
from urllib.parse import parse_qsl, urlsplit

import psycopg2
import pytest
from yoyo import read_migrations

from database import migrations
from database.migrations import (
    MIGRATIONS_DIR,
    apply_migrations,
    migration_status,
    rollback_migrations,
)
from database.pool import Database, PoolOptions
from tests.proxy import FreezableProxy

SCHEMA_QUERY = """
SELECT table_name, column_name, data_type, is_nullable, column_default, collation_name
FROM information_schema.columns
WHERE table_schema = 'public' AND table_name NOT LIKE '%%yoyo%%'
ORDER BY table_name, column_name
"""

OBJECTS_QUERY = """
SELECT conname AS name FROM pg_constraint WHERE connamespace = 'public'::regnamespace
UNION ALL
SELECT indexname FROM pg_indexes WHERE schemaname = 'public'
UNION ALL
SELECT tgname FROM pg_trigger WHERE NOT tgisinternal
UNION ALL
SELECT proname FROM pg_proc WHERE pronamespace = 'public'::regnamespace
ORDER BY 1
"""


@pytest.fixture
def empty_database_url(postgres):
    name = postgres.new_database(migrated=False)
    yield postgres.url(name)
    postgres.drop(name)


def schema(url: str) -> tuple[list, list]:
    with psycopg2.connect(url) as conn, conn.cursor() as cursor:
        cursor.execute(SCHEMA_QUERY)
        columns = cursor.fetchall()
        cursor.execute(OBJECTS_QUERY)
        objects = [row[0] for row in cursor.fetchall() if "yoyo" not in row[0]]
    return columns, objects


def all_migration_ids() -> list[str]:
    return sorted(
        p.name.removesuffix(".sql") for p in MIGRATIONS_DIR.glob("*.sql") if ".rollback" not in p.name
    )


def test_every_migration_has_a_rollback():
    for migration_id in all_migration_ids():
        assert (MIGRATIONS_DIR / f"{migration_id}.rollback.sql").is_file(), migration_id


def test_all_up_all_down_all_up(empty_database_url):
    assert apply_migrations(empty_database_url) == all_migration_ids()
    applied_schema = schema(empty_database_url)
    assert applied_schema[0], "the migrations created no tables"

    assert rollback_migrations(empty_database_url) == list(reversed(all_migration_ids()))
    assert schema(empty_database_url) == ([], [])

    assert apply_migrations(empty_database_url) == all_migration_ids()
    assert schema(empty_database_url) == applied_schema


def test_applying_again_does_nothing(database_url):
    assert apply_migrations(database_url) == []
    assert all(applied for _, applied in migration_status(database_url))


def test_rollback_by_count_then_status(empty_database_url):
    apply_migrations(empty_database_url)
    newest = all_migration_ids()[-1]

    assert rollback_migrations(empty_database_url, 1) == [newest]
    assert dict(migration_status(empty_database_url))[newest] is False
    assert apply_migrations(empty_database_url) == [newest]


def test_replicas_migrating_at_once_apply_each_migration_once(empty_database_url):
    results, errors = [], []

    def replica():
        try:
            results.append(apply_migrations(empty_database_url))
        except Exception as error:  # collected to fail the test in the main thread
            errors.append(error)

    threads = [threading.Thread(target=replica) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert sorted(results, key=len) == [[], [], [], all_migration_ids()]


def test_postgres_scheme_is_accepted(database_url):
    assert apply_migrations(database_url.replace("postgresql://", "postgres://", 1)) == []


def test_command_line(monkeypatch, capsys, empty_database_url):
    monkeypatch.setenv("DATABASE_URL", empty_database_url)

    assert migrations.main([]) == 0
    assert migrations.main(["status"]) == 0
    assert migrations.main(["rollback"]) == 0
    out = capsys.readouterr().out
    assert f"applied: {', '.join(all_migration_ids())}" in out
    assert f"[x] {all_migration_ids()[0]}" in out
    assert f"rolled back: {all_migration_ids()[-1]}" in out


@pytest.fixture
def service_using(empty_database_url):
    """The database migrated, with a running service's connections open on it."""
    apply_migrations(empty_database_url)
    db = Database(empty_database_url, PoolOptions(min_connections=2, max_connections=2))
    db.open()
    yield empty_database_url
    db.close()


def newest_migration_applied(url: str) -> bool:
    return dict(migration_status(url))[all_migration_ids()[-1]]


def test_a_rollback_under_a_running_service_without_a_terminal_refuses_and_says_what_is_lost(
    monkeypatch, capsys, service_using
):
    monkeypatch.setenv("DATABASE_URL", service_using)
    monkeypatch.setattr("sys.stdin.isatty", lambda: False)

    assert migrations.main(["rollback", "2"]) == 2

    err = capsys.readouterr().err
    assert "A running Config Service is using this database (2 connections)" in err
    for migration_id in all_migration_ids()[-2:]:
        assert f"  {migration_id}" in err
    assert "pass --yes" in err
    assert newest_migration_applied(service_using)


def test_with_yes_it_rolls_back_under_a_running_service(monkeypatch, capsys, service_using):
    monkeypatch.setenv("DATABASE_URL", service_using)
    assert migrations.main(["rollback", "--yes"]) == 0
    assert f"rolled back: {all_migration_ids()[-1]}" in capsys.readouterr().out
    assert not newest_migration_applied(service_using)


@pytest.mark.parametrize(("answer", "exit_code", "rolled_back"), [("y", 0, True), ("", 2, False)])
def test_on_a_terminal_it_asks(monkeypatch, capsys, service_using, answer, exit_code, rolled_back):
    monkeypatch.setenv("DATABASE_URL", service_using)
    monkeypatch.setattr("sys.stdin.isatty", lambda: True)
    monkeypatch.setattr("builtins.input", lambda prompt: answer)

    assert migrations.main(["rollback"]) == exit_code
    assert newest_migration_applied(service_using) is not rolled_back


def test_connections_of_others_are_not_a_running_service(empty_database_url):
    apply_migrations(empty_database_url)
    with psycopg2.connect(empty_database_url, application_name="psql"):
        assert migrations.service_connections(empty_database_url) == 0


def test_what_a_rollback_destroys_is_named():
    rollback_sql = """
    DROP INDEX audit_events_on_behalf_of_seq_idx;
    -- DROP TABLE in_a_comment;
    DELETE FROM audit_events WHERE entity_type = 'api_key';
    ALTER TABLE audit_events
        DROP CONSTRAINT audit_events_entity_type_known,
        DROP COLUMN on_behalf_of;
    DROP TABLE api_keys;
    """
    assert migrations.data_dropped(rollback_sql) == [
        "rows of audit_events",
        "column audit_events.on_behalf_of",
        "table api_keys with all its rows",
    ]
    every_migration = read_migrations(str(MIGRATIONS_DIR))
    summary = migrations.rollback_summary([m for m in every_migration if m.id.startswith("0001")])
    assert summary == "  0001.create-applications: drops table applications with all its rows"


def test_command_line_reports_bad_settings(monkeypatch, capsys):
    monkeypatch.setenv("DATABASE_URL", "mysql://nope")
    assert migrations.main(["status"]) == 2
    assert "DATABASE_URL" in capsys.readouterr().err


def test_the_change_feed_numbers_earlier_events_in_the_order_they_were_made(empty_database_url):
    backend = migrations._backend(empty_database_url)
    try:
        everything = read_migrations(str(MIGRATIONS_DIR))
        with backend.lock():
            backend.apply_migrations(backend.to_apply(everything.filter(lambda m: m.id < "0004")))
    finally:
        backend.connection.close()
    with psycopg2.connect(empty_database_url) as conn, conn.cursor() as cursor:
        for event_id in ("01ARZ3NDEKTSV4RRFFQ69G5FA2", "01ARZ3NDEKTSV4RRFFQ69G5FA1"):
            cursor.execute(
                "INSERT INTO audit_events (id, actor, action, entity_type, entity_id, application_id)"
                " VALUES (%s, 'a', 'application.created', 'application', %s, %s)",
                (event_id, event_id, event_id),
            )

    apply_migrations(empty_database_url)

    with psycopg2.connect(empty_database_url) as conn, conn.cursor() as cursor:
        cursor.execute("SELECT id, seq FROM audit_events ORDER BY seq")
        assert cursor.fetchall() == [("01ARZ3NDEKTSV4RRFFQ69G5FA1", 1), ("01ARZ3NDEKTSV4RRFFQ69G5FA2", 2)]
        cursor.execute("SELECT nextval('change_seq')")  # numbers go on after the earlier events
        assert cursor.fetchone() == (3,)
        with pytest.raises(psycopg2.errors.InsufficientPrivilege):
            cursor.execute("UPDATE audit_events SET seq = 9")  # append-only again


def test_the_migration_url_adds_a_connect_timeout_and_keeps_what_the_url_says():
    url = migrations.migration_url("postgres://u@h:5/db?connect_timeout=9&sslmode=require", 2)
    assert url.startswith("postgresql://u@h:5/db?")
    query = dict(parse_qsl(urlsplit(url).query))
    assert query["connect_timeout"] == "9"
    assert query["sslmode"] == "require"
    plain = migrations.migration_url("postgresql://h/db", 2)
    assert plain == "postgresql://h/db?connect_timeout=2&keepalives=1&keepalives_idle=5"


def test_a_server_that_does_not_answer_fails_migrations_in_bounded_time(database_url):
    with FreezableProxy(database_url) as proxy:
        proxy.freeze()
        started = time.monotonic()
        with pytest.raises(psycopg2.OperationalError):
            apply_migrations(proxy.url, connect_timeout_s=1)
    assert time.monotonic() - started < 20  # the connect timeout (at least 2 s in libpq), not a hang


def test_change_numbers_go_on_from_the_counter_row_and_back(empty_database_url):
    """0007 replaces the counter row with a sequence that goes on from it; its rollback puts
    the row back at the highest number used."""
    backend = migrations._backend(empty_database_url)
    try:
        everything = read_migrations(str(MIGRATIONS_DIR))
        with backend.lock():
            backend.apply_migrations(backend.to_apply(everything.filter(lambda m: m.id < "0007")))
        with psycopg2.connect(empty_database_url) as conn, conn.cursor() as cursor:
            cursor.execute("UPDATE change_sequence SET last_seq = 41")
        with backend.lock():
            backend.apply_migrations(backend.to_apply(everything.filter(lambda m: m.id.startswith("0007"))))
        with psycopg2.connect(empty_database_url) as conn, conn.cursor() as cursor:
            cursor.execute("SELECT nextval('change_seq')")
            assert cursor.fetchone() == (42,)
        with backend.lock():
            backend.rollback_migrations(
                backend.to_rollback(everything.filter(lambda m: m.id.startswith("0007")))
            )
        with psycopg2.connect(empty_database_url) as conn, conn.cursor() as cursor:
            cursor.execute("SELECT last_seq FROM change_sequence")
            assert cursor.fetchone() == (0,)  # no event was recorded: none was numbered
    finally:
        backend.connection.close()
