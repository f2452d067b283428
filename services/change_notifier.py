"""Telling every process, this one included, that changes were committed: a NOTIFY on the
change feed's channel, sent after the commit, in a transaction of its own.

A transaction that sends NOTIFY holds a lock shared by the whole server from just before its
commit until the commit is durable (PostgreSQL queues notifications in commit order that
way). Sent by the writes themselves, it made every write commit one at a time. Sent
afterwards, by a transaction that writes nothing (no WAL to flush), it holds that lock for
moments, and a burst of commits is told by one notification.
"""

import asyncio
import contextlib
import logging

from database.errors import DatabaseUnavailable
from database.pool import Database
from repositories import audit

logger = logging.getLogger(__name__)


# The channel the change feed listens on (database/listener.py), and commits are told on.
CHANGES_CHANNEL = "config_changes"


class ChangeNotifier:
    def __init__(self, db: Database, channel: str) -> None:
        self._db = db
        self._channel = channel
        self._pending = False
        self._sending: asyncio.Task | None = None

    def committed(self) -> None:
        """A write committed: notify now, or right after the notification in flight, which
        may have left before the commit."""
        self._pending = True
        if self._sending is None or self._sending.done():
            self._sending = asyncio.get_running_loop().create_task(self._send())

    async def close(self) -> None:
        if self._sending is not None:
            self._sending.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sending

    async def _send(self) -> None:
        while self._pending:
            self._pending = False
            try:
                await self._db.read(lambda conn: audit.announce(conn, self._channel))
            except DatabaseUnavailable as error:
                # The change is committed, only untold: every feed finds it at its next
                # wake-up, at the latest by its periodic poll.
                logger.warning("could not notify of committed changes: %s", error.detail)
                return
