"""Schema migrations: the `.sql` files in sql/, applied by yoyo under its lock.

The lock makes replicas that start together safe: one applies, the others wait and then
find nothing left to do.

    python -m database.migrations [apply | rollback [N] [--yes] | status]

A rollback drops tables and columns, and their data with them. Against a database that a
running service uses, it says what would be lost and asks first (or needs --yes).
"""

import argparse
import re
import sys
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import psycopg2
from yoyo import get_backend, read_migrations

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "sql"
LOCK_TIMEOUT_S = 60
CONNECT_TIMEOUT_S = 5


def migration_url(url: str, connect_timeout_s: int = CONNECT_TIMEOUT_S) -> str:
    """The URL yoyo connects with: a server that does not answer fails the connect in
    `connect_timeout_s` instead of hanging start-up. Statements get no timeout: a migration
    may rightly take long. Settings already in the URL are kept."""
    # yoyo picks its driver from the scheme; plain postgres:// is not one it knows.
    parts = urlsplit(url.replace("postgres://", "postgresql://", 1))
    given = dict(parse_qsl(parts.query))
    wanted = {"connect_timeout": str(connect_timeout_s), "keepalives": "1", "keepalives_idle": "5"}
    return urlunsplit(parts._replace(query=urlencode({**wanted, **given})))


def _backend(url: str, connect_timeout_s: int = CONNECT_TIMEOUT_S):
    # yoyo hands the URL's query to psycopg2.connect as keyword arguments.
    return get_backend(migration_url(url, connect_timeout_s))


def apply_migrations(url: str, connect_timeout_s: int = CONNECT_TIMEOUT_S) -> list[str]:
    """Apply every pending migration; return the ids applied."""
    backend = _backend(url, connect_timeout_s)
    try:
        with backend.lock(LOCK_TIMEOUT_S):
            pending = backend.to_apply(read_migrations(str(MIGRATIONS_DIR)))
            backend.apply_migrations(pending)
            return [migration.id for migration in pending]
    finally:
        backend.connection.close()


def rollback_migrations(
    url: str, count: int | None = None, connect_timeout_s: int = CONNECT_TIMEOUT_S
) -> list[str]:
    """Roll back the newest `count` applied migrations (all of them when None)."""
    backend = _backend(url, connect_timeout_s)
    try:
        with backend.lock(LOCK_TIMEOUT_S):
            applied = backend.to_rollback(read_migrations(str(MIGRATIONS_DIR)))
            chosen = applied[:count] if count is not None else applied
            backend.rollback_migrations(chosen)
            return [migration.id for migration in chosen]
    finally:
        backend.connection.close()


def migrations_to_roll_back(url: str, count: int | None, connect_timeout_s: int = CONNECT_TIMEOUT_S) -> list:
    """The applied migrations a rollback of `count` would undo, newest first."""
    backend = _backend(url, connect_timeout_s)
    try:
        applied = backend.to_rollback(read_migrations(str(MIGRATIONS_DIR)))
        return list(applied[:count] if count is not None else applied)
    finally:
        backend.connection.close()


# What each process of the service names its connections (database/pool.py's connection_dsn,
# database/listener.py). A DATABASE_URL that sets another application_name hides them.
SERVICE_CONNECTIONS = """
SELECT count(*) FROM pg_stat_activity
WHERE datname = current_database()
  AND pid <> pg_backend_pid()
  AND application_name IN ('config-service', 'config-service-listener')
"""


def service_connections(url: str, connect_timeout_s: int = CONNECT_TIMEOUT_S) -> int:
    """How many connections of running services the database has now."""
    conn = psycopg2.connect(migration_url(url, connect_timeout_s))
    try:
        with conn.cursor() as cursor:
            cursor.execute(SERVICE_CONNECTIONS)
            return cursor.fetchone()[0]
    finally:
        conn.close()


DROPPED_TABLE = re.compile(r"\bDROP\s+TABLE\s+(?:IF\s+EXISTS\s+)?(\w+)", re.IGNORECASE)
ALTERED_TABLE = re.compile(r"\bALTER\s+TABLE\s+(?:IF\s+EXISTS\s+)?(?:ONLY\s+)?(\w+)", re.IGNORECASE)
DROPPED_COLUMN = re.compile(r"\bDROP\s+COLUMN\s+(?:IF\s+EXISTS\s+)?(\w+)", re.IGNORECASE)
DELETED_FROM = re.compile(r"\bDELETE\s+FROM\s+(\w+)", re.IGNORECASE)


def data_dropped(rollback_sql: str) -> list[str]:
    """What a rollback script destroys, in its own words: tables, columns and rows. (Indexes,
    functions and triggers hold no data and are left unsaid.)"""
    lost = []
    for statement in re.sub(r"--[^\n]*", "", rollback_sql).split(";"):
        lost += [f"table {table} with all its rows" for table in DROPPED_TABLE.findall(statement)]
        altered = ALTERED_TABLE.search(statement)
        if altered:
            lost += [f"column {altered[1]}.{column}" for column in DROPPED_COLUMN.findall(statement)]
        lost += [f"rows of {table}" for table in DELETED_FROM.findall(statement)]
    return lost


def rollback_summary(migrations: list) -> str:
    lines = []
    for migration in migrations:
        rollback_file = MIGRATIONS_DIR / f"{migration.id}.rollback.sql"
        lost = data_dropped(rollback_file.read_text()) if rollback_file.is_file() else []
        lines.append(f"  {migration.id}: drops {', '.join(lost)}" if lost else f"  {migration.id}")
    return "\n".join(lines)


def migration_status(url: str, connect_timeout_s: int = CONNECT_TIMEOUT_S) -> list[tuple[str, bool]]:
    backend = _backend(url, connect_timeout_s)
    try:
        migrations = read_migrations(str(MIGRATIONS_DIR))
        return [(migration.id, backend.is_applied(migration)) for migration in migrations]
    finally:
        backend.connection.close()


def main(argv: list[str] | None = None) -> int:
    from config.settings import SettingsError, load_settings
    from database.embedded import resolve_database_url

    parser = argparse.ArgumentParser(prog="migrate", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command")
    commands.add_parser("apply", help="apply pending migrations (the default)")
    rollback = commands.add_parser("rollback", help="roll back the newest migrations")
    rollback.add_argument("count", nargs="?", type=int, default=1, help="how many (default 1)")
    rollback.add_argument("--yes", action="store_true", help="do not ask, even while a service uses it")
    commands.add_parser("status", help="list migrations and whether each is applied")
    args = parser.parse_args(argv)

    try:
        settings = load_settings()
    except SettingsError as error:
        print(error, file=sys.stderr)
        return 2
    url, timeout = resolve_database_url(settings), settings.db_connect_timeout_s
    if args.command == "rollback":
        if not _rollback_agreed(url, args.count, args.yes, timeout):
            return 2
        done = rollback_migrations(url, args.count, timeout)
        print("rolled back:", ", ".join(done) or "nothing")
    elif args.command == "status":
        for migration_id, applied in migration_status(url, timeout):
            print(f"[{'x' if applied else ' '}] {migration_id}")
    else:
        done = apply_migrations(url, timeout)
        print("applied:", ", ".join(done) or "nothing (up to date)")
    return 0


def _rollback_agreed(url: str, count: int, yes: bool, timeout: int) -> bool:
    """Under a running service, a rollback goes ahead only when the operator says so: at the
    prompt, or with --yes where no one can answer (a script, CI)."""
    chosen = migrations_to_roll_back(url, count, timeout)
    in_use = service_connections(url, timeout) if chosen else 0
    if not in_use:
        return True
    warning = (
        f"A running Config Service is using this database ({in_use} connections). Rolling back "
        f"would undo, and lose for good:\n{rollback_summary(chosen)}\n"
        "and the service's requests would fail until migrations are applied again."
    )
    print(warning, file=sys.stderr)
    if yes:
        return True
    if not sys.stdin.isatty():
        print("Refusing without a terminal to ask on: stop the service, or pass --yes.", file=sys.stderr)
        return False
    if input("Roll back anyway? [y/N] ").strip().lower() in ("y", "yes"):
        return True
    print("Nothing rolled back.", file=sys.stderr)
    return False


if __name__ == "__main__":
    sys.exit(main())
