"""The only door to PostgreSQL: a psycopg2 pool driven from worker threads.

psycopg2 blocks, so no query may run on the event loop. Callers hand over a *unit of work*,
a plain function `work(connection)`, which runs in one worker thread on one pooled
connection: in autocommit for reads (no BEGIN/ROLLBACK round trips) or as one transaction
for writes (commit on success, rollback on any error). One unit costs one thread hop,
however many statements it runs.

There are exactly as many worker threads as connections, and at most that many units are
admitted at once; the rest queue on the event loop for a bounded time and are then refused
with `DatabaseBusy` (HTTP 503), so a burst can never exhaust the pool.
"""

import asyncio
import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Iterator, TypeVar

import psycopg2
import psycopg2.errors
from psycopg2.extensions import connection as Connection
from psycopg2.extensions import make_dsn, parse_dsn
from psycopg2.extras import RealDictCursor
from psycopg2.pool import ThreadedConnectionPool

from database.errors import DatabaseBusy, DatabaseUnavailable

T = TypeVar("T")
Work = Callable[[Connection], T]

logger = logging.getLogger(__name__)

# After a failed connect, new connections are not attempted for this long: requests fail
# fast with 503 instead of each waiting out the connect timeout against a dead server.
CONNECT_COOLDOWN_S = 1.0


@dataclass(frozen=True)
class PoolOptions:
    min_connections: int = 1
    max_connections: int = 10
    statement_timeout_ms: int = 5000
    connect_timeout_s: int = 5
    acquire_timeout_s: float = 5.0


@dataclass(frozen=True)
class PoolStats:
    max_connections: int
    in_use: int
    idle: int
    waiting: int


def connection_dsn(url: str, options: PoolOptions) -> str:
    """The URL with our session settings added; settings already in the URL are kept."""
    given = parse_dsn(url)
    session = f"-c statement_timeout={options.statement_timeout_ms} -c TimeZone=UTC"
    return make_dsn(
        url,
        options=" ".join(filter(None, [given.get("options"), session])),
        application_name=given.get("application_name", "config-service"),
        connect_timeout=given.get("connect_timeout", options.connect_timeout_s),
        # A server that vanishes mid-query (no RST) is noticed in seconds, not hours.
        keepalives=1,
        keepalives_idle=5,
        keepalives_interval=2,
        keepalives_count=3,
    )


class RetainingPool(ThreadedConnectionPool):
    """ThreadedConnectionPool that keeps its connections and backs off from a dead server."""

    def __init__(self, minconn: int, maxconn: int, *args, **kwargs) -> None:
        self._connect_blocked_until = 0.0
        super().__init__(minconn, maxconn, *args, **kwargs)
        # psycopg2 closes any connection handed back while `minconn` are already idle, which
        # under load means a fresh connect for nearly every request. Keep up to `maxconn`.
        self.minconn = maxconn

    def _connect(self, key=None):
        if time.monotonic() < self._connect_blocked_until:
            raise psycopg2.OperationalError("the last connection attempt failed moments ago")
        try:
            return super()._connect(key)
        except psycopg2.OperationalError:
            self._connect_blocked_until = time.monotonic() + CONNECT_COOLDOWN_S
            raise

    def counts(self) -> tuple[int, int]:
        """(in use, idle) connections."""
        with self._lock:
            return len(self._used), len(self._pool)


class _ConnectionLost(Exception):
    """The connection died before the unit committed: the server rolled it back."""


class Database:
    def __init__(self, url: str, options: PoolOptions = PoolOptions()) -> None:
        self._dsn = connection_dsn(url, options)
        self._options = options
        self._pool: RetainingPool | None = None
        self._executor: ThreadPoolExecutor | None = None
        self._slots = asyncio.Semaphore(options.max_connections)
        self._waiting = 0

    def open(self) -> None:
        try:
            self._pool = RetainingPool(
                self._options.min_connections,
                self._options.max_connections,
                dsn=self._dsn,
                cursor_factory=RealDictCursor,
            )
        except psycopg2.OperationalError as error:
            raise DatabaseUnavailable(f"Cannot connect to the database: {error}".strip()) from error
        self._executor = ThreadPoolExecutor(self._options.max_connections, thread_name_prefix="db")

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=True)
        if self._pool is not None and not self._pool.closed:
            self._pool.closeall()

    async def read(self, work: Work[T]) -> T:
        """Run `work` in autocommit: each statement sees committed data, nothing is written."""
        return await self._submit(work, read_only=True)

    async def write(self, work: Work[T]) -> T:
        """Run `work` as one transaction: all of its changes are committed, or none."""
        return await self._submit(work, read_only=False)

    def stats(self) -> PoolStats:
        in_use, idle = self._pool.counts() if self._pool else (0, 0)
        return PoolStats(self._options.max_connections, in_use, idle, self._waiting)

    async def _submit(self, work: Work[T], read_only: bool) -> T:
        await self._admit()
        job = asyncio.get_running_loop().run_in_executor(self._executor, self._run, work, read_only)
        job.add_done_callback(self._leave)
        # A cancelled request must not hand its slot on while its thread still holds a connection.
        return await asyncio.shield(job)

    async def _admit(self) -> None:
        if not self._slots.locked():
            await self._slots.acquire()
            return
        self._waiting += 1
        try:
            async with asyncio.timeout(self._options.acquire_timeout_s):
                await self._slots.acquire()
        except TimeoutError:
            raise DatabaseBusy(self._options.acquire_timeout_s) from None
        finally:
            self._waiting -= 1

    def _leave(self, job: asyncio.Future) -> None:
        self._slots.release()
        if not job.cancelled():
            job.exception()  # retrieved here so an abandoned job's error is not reported twice

    def _run(self, work: Work[T], read_only: bool) -> T:
        # A server restart kills every pooled connection at once. Each is found dead on use
        # and discarded, and the unit re-run on the next; the last try gets a fresh connect.
        for _ in range(self._options.max_connections + 1):
            with self._connection() as conn:
                try:
                    return self._unit(conn, work, read_only)
                except _ConnectionLost:
                    logger.info("discarded a broken database connection; retrying")
        raise DatabaseUnavailable("Lost every connection to the database")

    @contextmanager
    def _connection(self) -> Iterator[Connection]:
        try:
            conn = self._pool.getconn()
        except psycopg2.OperationalError as error:
            raise DatabaseUnavailable(f"Cannot connect to the database: {error}".strip()) from error
        try:
            yield conn
        finally:
            self._pool.putconn(conn, close=bool(conn.closed))

    @staticmethod
    def _unit(conn: Connection, work: Work[T], read_only: bool) -> T:
        try:
            conn.autocommit = read_only
            result = work(conn)
        except psycopg2.Error as error:
            if conn.closed:
                raise _ConnectionLost() from error
            _rollback(conn, read_only)
            if isinstance(error, psycopg2.errors.QueryCanceled):
                raise DatabaseUnavailable("The database took too long to answer", 1) from error
            raise
        except BaseException:
            _rollback(conn, read_only)
            raise
        if not read_only:
            try:
                conn.commit()
            except psycopg2.OperationalError as error:
                # The COMMIT may or may not have reached the server: never re-run the unit.
                raise DatabaseUnavailable(f"Lost the database while committing: {error}") from error
        return result


def _rollback(conn: Connection, read_only: bool) -> None:
    if not read_only and not conn.closed:
        conn.rollback()
