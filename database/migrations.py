"""Schema migrations: the `.sql` files in sql/, applied by yoyo under its lock.

The lock makes replicas that start together safe: one applies, the others wait and then
find nothing left to do.

    python -m database.migrations [apply | rollback [N] | status]
"""

import argparse
import sys
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

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
    commands.add_parser("status", help="list migrations and whether each is applied")
    args = parser.parse_args(argv)

    try:
        settings = load_settings()
    except SettingsError as error:
        print(error, file=sys.stderr)
        return 2
    url, timeout = resolve_database_url(settings), settings.db_connect_timeout_s
    if args.command == "rollback":
        done = rollback_migrations(url, args.count, timeout)
        print("rolled back:", ", ".join(done) or "nothing")
    elif args.command == "status":
        for migration_id, applied in migration_status(url, timeout):
            print(f"[{'x' if applied else ' '}] {migration_id}")
    else:
        done = apply_migrations(url, timeout)
        print("applied:", ", ".join(done) or "nothing (up to date)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
