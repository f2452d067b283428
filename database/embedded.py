"""The embedded PostgreSQL used when no DATABASE_URL is given (pgserver: PostgreSQL in a wheel).

The server is shared by every process of this checkout that asks for it and stopped when the
last one exits; its data stays in `<DATA_DIR>/postgres` between runs.

pgserver counts the processes using a server in `<pgdata>/.handle_pids.json`, and each removes
itself at exit. A process killed outright (kill -9, the OOM killer) never does: the server it
leaves runs on, is joined by the next start, and would outlive every later user, since its
count never comes down to one. So a start first forgets the processes that are gone.
"""

import json
import logging
import warnings
from pathlib import Path

from config.settings import Settings

logger = logging.getLogger(__name__)


class EmbeddedDatabaseUnavailable(RuntimeError):
    pass


def start_embedded(pgdata: Path, *, cleanup: str | None = "stop") -> str:
    """Start (or join) the embedded server keeping its data in `pgdata`; return its URL."""
    try:
        with warnings.catch_warnings():
            # platformdirs warns on import when XDG_RUNTIME_DIR is unset, then uses /tmp.
            warnings.simplefilter("ignore")
            import pgserver
    except ImportError as error:  # pgserver has no wheels for every Python (none for 3.13 yet)
        raise EmbeddedDatabaseUnavailable(
            "The embedded PostgreSQL (pgserver) is not installed for this Python; "
            "set DATABASE_URL to a PostgreSQL server instead"
        ) from error
    pgdata.parent.mkdir(parents=True, exist_ok=True)
    _forget_processes_that_are_gone(pgdata.expanduser().resolve())
    server = pgserver.get_server(pgdata, cleanup_mode=cleanup)
    return server.get_uri("postgres")


def _forget_processes_that_are_gone(pgdata: Path) -> None:
    """Drop dead processes from pgserver's list of the server's users, under pgserver's own
    lock, so that the last live user stops the server at its exit."""
    from pgserver.postgres_server import PostgresServer

    handles = pgdata / ".handle_pids.json"
    with PostgresServer._lock:
        if not handles.is_file():
            return
        pids = json.loads(handles.read_text())
        alive = [pid for pid in pids if _is_running(pid)]
        if alive != pids:
            logger.info(
                "the embedded PostgreSQL outlived processes killed before: %s", sorted(set(pids) - set(alive))
            )
            handles.write_text(json.dumps(alive))


def _is_running(pid: int) -> bool:
    import psutil  # pgserver's own dependency

    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE  # a zombie has exited
    except psutil.NoSuchProcess:
        return False


def resolve_database_url(settings: Settings) -> str:
    if settings.database_url:
        return settings.database_url
    pgdata = (settings.data_dir / "postgres").resolve()
    logger.info("DATABASE_URL is not set; using the embedded PostgreSQL in %s", pgdata)
    return start_embedded(pgdata)
