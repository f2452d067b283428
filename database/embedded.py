"""The embedded PostgreSQL used when no DATABASE_URL is given (pgserver: PostgreSQL in a wheel).

The server is shared by every process of this checkout that asks for it and stopped when the
last one exits; its data stays in `<DATA_DIR>/postgres` between runs.
"""

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
    server = pgserver.get_server(pgdata, cleanup_mode=cleanup)
    return server.get_uri("postgres")


def resolve_database_url(settings: Settings) -> str:
    if settings.database_url:
        return settings.database_url
    pgdata = (settings.data_dir / "postgres").resolve()
    logger.info("DATABASE_URL is not set; using the embedded PostgreSQL in %s", pgdata)
    return start_embedded(pgdata)
