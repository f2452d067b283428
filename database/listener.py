"""One LISTEN connection per process, read on the event loop.

It is not taken from the request pool and needs no thread: the loop watches its socket, so
waiting costs nothing until a notification arrives. If the connection breaks (a database
restart), it reconnects with backoff and says so through `on_connect`, because whatever was
notified in between was missed.
"""

import asyncio
import logging
from collections.abc import Callable

import psycopg2
from psycopg2 import sql
from psycopg2.extensions import connection as Connection
from psycopg2.extensions import make_dsn

from config import metrics

logger = logging.getLogger(__name__)

FIRST_RETRY_S = 0.1
LAST_RETRY_S = 5.0


class Listener:
    def __init__(
        self,
        url: str,
        channel: str,
        *,
        on_notify: Callable[[str], None],
        on_connect: Callable[[], None],
        on_disconnect: Callable[[], None] = lambda: None,
        connect_timeout_s: int = 5,
    ) -> None:
        # Keepalives notice a server that vanished without closing the socket.
        self._dsn = make_dsn(
            url,
            connect_timeout=connect_timeout_s,
            application_name="config-service-listener",
            keepalives=1,
            keepalives_idle=5,
            keepalives_interval=2,
            keepalives_count=3,
        )
        self._channel = channel
        self._on_notify = on_notify
        self._on_connect = on_connect
        self._on_disconnect = on_disconnect
        self._conn: Connection | None = None
        self._fd = -1  # kept: a closed connection no longer tells its socket's number
        self._reconnecting: asyncio.Task | None = None
        self._closed = False
        self.reconnects = 0

    @property
    def connected(self) -> bool:
        return self._conn is not None

    async def start(self) -> None:
        """Connect and listen; raises psycopg2.OperationalError if the database is unreachable."""
        await self._connect()

    async def close(self) -> None:
        self._closed = True
        if self._reconnecting is not None:
            self._reconnecting.cancel()
        self._drop()

    async def _connect(self) -> None:
        conn = await asyncio.to_thread(self._open)
        self._conn, self._fd = conn, conn.fileno()
        asyncio.get_running_loop().add_reader(self._fd, self._readable)
        self._on_connect()

    def _open(self) -> Connection:
        conn = psycopg2.connect(self._dsn)
        conn.autocommit = True
        with conn.cursor() as cursor:
            cursor.execute(sql.SQL("LISTEN {}").format(sql.Identifier(self._channel)))
        return conn

    def _readable(self) -> None:
        conn = self._conn
        try:
            conn.poll()
        except psycopg2.Error as error:
            logger.warning("lost the LISTEN connection: %s", str(error).strip())
            self._lost()
            return
        while conn.notifies:
            self._on_notify(conn.notifies.pop(0).payload)
        if conn.closed:
            self._lost()

    def _lost(self) -> None:
        self._drop()
        self._on_disconnect()
        if not self._closed:
            self._reconnecting = asyncio.get_running_loop().create_task(self._reconnect())

    def _drop(self) -> None:
        if self._conn is None:
            return
        asyncio.get_running_loop().remove_reader(self._fd)
        self._conn.close()
        self._conn = None

    async def _reconnect(self) -> None:
        delay = FIRST_RETRY_S
        while not self._closed:
            await asyncio.sleep(delay)
            try:
                await self._connect()
            except psycopg2.OperationalError as error:
                logger.info("LISTEN reconnect failed (next in %.1fs): %s", delay, str(error).strip())
                delay = min(delay * 2, LAST_RETRY_S)
            else:
                self.reconnects += 1
                metrics.LISTENER_RECONNECTS.inc()
                logger.info("LISTEN connection re-established")
                return
