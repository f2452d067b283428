"""The only door to PostgreSQL: a psycopg2 pool driven from worker threads.

psycopg2 blocks, so no query may run on the event loop. Callers hand over a *unit of work*,
a plain function `work(connection)`, which runs in one worker thread on one pooled
connection: in autocommit for reads (no BEGIN/ROLLBACK round trips), as one transaction
for writes (commit on success, rollback on any error), or, for a write made by one
statement, in autocommit too: the statement is its own transaction, so the change costs one
round trip instead of three or more. One unit costs one thread hop, however many statements
it runs.

There are exactly as many worker threads as connections, and at most that many units are
admitted at once; the rest queue on the event loop for a bounded time and are then refused
with `DatabaseBusy` (HTTP 503), so a burst can never exhaust the pool. A unit that the
database does not finish in time is answered with `DatabaseUnavailable` too: never a hang.
"""

import asyncio
import contextvars
import enum
import logging
import select
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TypeVar

import psycopg2
import psycopg2.errors
from psycopg2.extensions import connection as Connection
from psycopg2.extensions import make_dsn, parse_dsn
from psycopg2.extras import RealDictCursor, register_default_jsonb
from psycopg2.pool import PoolError, ThreadedConnectionPool

from config import metrics
from database.errors import DatabaseBusy, DatabaseUnavailable
from models import exact_json

T = TypeVar("T")
Work = Callable[[Connection], T]

logger = logging.getLogger(__name__)

# jsonb keeps its numbers as `numeric`: read them back as exactly (models/exact_json.py),
# on every connection of the process.
register_default_jsonb(globally=True, loads=exact_json.loads)

# After a failed connect, new connections are not attempted for this long: requests fail
# fast with 503 instead of each waiting out the connect timeout against a dead server.
CONNECT_COOLDOWN_S = 1.0
# A deadlock or serialization failure rolls the unit back; it is run again this many times.
ABORTED_RETRIES = 3
# Sent data may go unacknowledged this much longer than a statement may run before the
# connection counts as dead: a vanished server is noticed, a slow one is not cut off.
NETWORK_GRACE_MS = 5000


class Mode(enum.Enum):
    READ = "read"  # autocommit; nothing is written
    WRITE = "write"  # one transaction, committed at the end
    STATEMENT = "statement"  # autocommit; one statement, its own transaction


@dataclass(frozen=True)
class PoolOptions:
    min_connections: int = 1
    max_connections: int = 10
    statement_timeout_ms: int = 5000
    connect_timeout_s: int = 5
    acquire_timeout_s: float = 5.0

    @property
    def unit_deadline_s(self) -> float:
        """How long a request waits for its unit of work before it is answered with 503.

        The server cuts each statement off at the statement timeout; this also bounds the
        wait for a server that cannot be heard at all.
        """
        return self.connect_timeout_s + 2 * self.statement_timeout_ms / 1000


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
        tcp_user_timeout=options.statement_timeout_ms + NETWORK_GRACE_MS,
    )


class RetainingPool(ThreadedConnectionPool):
    """ThreadedConnectionPool that keeps its connections, connects outside its lock, and
    backs off from a dead server."""

    def __init__(self, minconn: int, maxconn: int, *args, **kwargs) -> None:
        self._connect_blocked_until = 0.0
        self._opening = 0
        super().__init__(minconn, maxconn, *args, **kwargs)
        # psycopg2 closes any connection handed back while `minconn` are already idle, which
        # under load means a fresh connect for nearly every request. Keep up to `maxconn`.
        self.minconn = maxconn

    def getconn(self, key=None) -> Connection:
        # psycopg2 connects while holding the pool's lock, so one slow connect would stall
        # every thread handing a connection back. Reserve the place, then connect unlocked.
        with self._lock:
            if self.closed or self._pool:
                return self._getconn(key)
            if len(self._used) + self._opening >= self.maxconn:
                raise PoolError("connection pool exhausted")
            self._opening += 1
        try:
            conn = self._open()
        finally:
            with self._lock:
                self._opening -= 1
        with self._lock:
            key = self._getkey() if key is None else key
            self._used[key] = conn
            self._rused[id(conn)] = key
        return conn

    def _connect(self, key=None) -> Connection:
        # Only the constructor gets here now, for the first `minconn` connections.
        conn = self._open()
        self._pool.append(conn)
        return conn

    def _open(self) -> Connection:
        if time.monotonic() < self._connect_blocked_until:
            raise psycopg2.OperationalError("the last connection attempt failed moments ago")
        try:
            return psycopg2.connect(*self._args, **self._kwargs)
        except psycopg2.OperationalError as error:
            self._connect_blocked_until = time.monotonic() + CONNECT_COOLDOWN_S
            logger.warning("cannot connect to the database: %s", str(error).strip())
            raise

    def counts(self) -> tuple[int, int]:
        """(in use, idle) connections; read without the lock, so never blocks the caller."""
        return len(self._used), len(self._pool)


class _ConnectionLost(Exception):
    """The connection died before the unit committed: the server rolled it back."""


class _Aborted(Exception):
    """The server aborted the unit (deadlock, serialization failure) and rolled it back."""


class Database:
    def __init__(self, url: str, options: PoolOptions = PoolOptions()) -> None:
        self._dsn = connection_dsn(url, options)
        self._options = options
        self._pool: RetainingPool | None = None
        self._executor: ThreadPoolExecutor | None = None
        self._slots = asyncio.Semaphore(options.max_connections)
        self._waiting = 0
        self._after_commit: list[Callable[[], None]] = []

    def open(self) -> None:
        try:
            self._pool = RetainingPool(
                self._options.min_connections,
                self._options.max_connections,
                dsn=self._dsn,
                cursor_factory=RealDictCursor,
            )
        except psycopg2.OperationalError as error:
            # Raised at start-up only, to the operator: the driver's words help here.
            raise DatabaseUnavailable(f"Cannot connect to the database: {error}".strip()) from error
        self._executor = ThreadPoolExecutor(self._options.max_connections, thread_name_prefix="db")

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=True)
        if self._pool is not None and not self._pool.closed:
            self._pool.closeall()

    async def read(self, work: Work[T]) -> T:
        """Run `work` in autocommit: each statement sees committed data, nothing is written."""
        return await self._submit(work, Mode.READ)

    async def write(self, work: Work[T]) -> T:
        """Run `work` as one transaction: all of its changes are committed, or none."""
        return await self._submit(work, Mode.WRITE)

    async def write_statement(self, work: Work[T]) -> T:
        """Run `work`, which runs exactly one statement, in autocommit: the server commits
        it as it ends, all of its changes or none, in one round trip (a unit of `write`
        adds BEGIN and COMMIT). Should the connection die while it runs, whether it was
        committed is unknown, so it is not run again: DatabaseUnavailable says so."""
        return await self._submit(work, Mode.STATEMENT)

    def after_commit(self, callback: Callable[[], None]) -> None:
        """Call `callback` on the event loop each time a unit of `write` or `write_statement`
        has committed (or finished writing nothing)."""
        self._after_commit.append(callback)

    def stats(self) -> PoolStats:
        in_use, idle = self._pool.counts() if self._pool else (0, 0)
        return PoolStats(self._options.max_connections, in_use, idle, self._waiting)

    def publish_stats(self) -> None:
        """Copy the pool's state into the metrics (called now and then, not per request)."""
        stats = self.stats()
        metrics.DB_CONNECTIONS.labels("in_use").set(stats.in_use)
        metrics.DB_CONNECTIONS.labels("idle").set(stats.idle)
        metrics.DB_CONNECTIONS.labels("max").set(stats.max_connections)
        metrics.DB_WAITING.set(stats.waiting)

    async def _submit(self, work: Work[T], mode: Mode) -> T:
        await self._admit()
        # The request's context goes along, so lines logged in the thread carry its request id.
        context = contextvars.copy_context()
        job = asyncio.get_running_loop().run_in_executor(self._executor, context.run, self._run, work, mode)
        job.add_done_callback(self._leave)
        try:
            async with asyncio.timeout(self._options.unit_deadline_s):
                # A request that gives up must not hand its slot on while its thread still
                # holds a connection: the shield keeps the job, and so the slot, alive.
                result = await asyncio.shield(job)
        except TimeoutError:
            outcome = "" if mode is Mode.READ else "; whether the change was saved is unknown"
            raise DatabaseUnavailable(f"The database did not answer in time{outcome}") from None
        if mode is not Mode.READ:
            for callback in self._after_commit:
                callback()
        return result

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

    def _run(self, work: Work[T], mode: Mode) -> T:
        lost = aborted = 0
        while True:
            with self._connection(checked=mode is Mode.STATEMENT) as conn:
                try:
                    return self._unit(conn, work, mode)
                except _ConnectionLost:
                    # A server restart kills every pooled connection at once. Each is found
                    # dead on use and discarded; after all of them, a fresh one is tried.
                    lost += 1
                    if lost > self._options.max_connections:
                        raise DatabaseUnavailable("Lost every connection to the database") from None
                    logger.info("discarded a broken database connection; running the unit again")
                except _Aborted:
                    aborted += 1
                    if aborted > ABORTED_RETRIES:
                        raise DatabaseUnavailable("The database kept aborting the transaction", 1) from None
                    logger.info("the database aborted a transaction; running the unit again")

    @contextmanager
    def _connection(self, *, checked: bool) -> Iterator[Connection]:
        conn = self._live_connection() if checked else self._any_connection()
        try:
            yield conn
        finally:
            self._pool.putconn(conn, close=bool(conn.closed))

    def _any_connection(self) -> Connection:
        try:
            return self._pool.getconn()
        except psycopg2.OperationalError as error:
            raise DatabaseUnavailable("Cannot connect to the database") from error

    def _live_connection(self) -> Connection:
        """A pooled connection whose server has not hung up on it while it sat idle.

        A server that stops or restarts tells each connection so and closes it. Finding that
        out before use costs no round trip, only a system call, and it matters for a
        statement in autocommit alone: once sent, its failure could not tell "never ran" from
        "committed, then lost" (other units find a dead connection on use and run again)."""
        for _ in range(self._options.max_connections + 1):
            conn = self._any_connection()
            if not _hung_up(conn):
                return conn
            self._pool.putconn(conn, close=True)
            logger.info("discarded a database connection the server had closed")
        raise DatabaseUnavailable("Lost every connection to the database")

    @staticmethod
    def _unit(conn: Connection, work: Work[T], mode: Mode) -> T:
        started = time.perf_counter()
        try:
            return Database._transaction(conn, work, mode)
        finally:
            kind = "read" if mode is Mode.READ else "write"
            metrics.DB_UNIT_SECONDS.labels(kind).observe(time.perf_counter() - started)

    @staticmethod
    def _transaction(conn: Connection, work: Work[T], mode: Mode) -> T:
        try:
            conn.autocommit = mode is not Mode.WRITE
            result = work(conn)
        except psycopg2.Error as error:
            if _hung_up(conn):
                # psycopg2 marks most dead connections closed, but not one whose server
                # vanished at once (an immediate shutdown, a crash): the error is then a plain
                # DatabaseError and the connection seems open, its socket at its end.
                conn.close()
                if mode is Mode.STATEMENT:
                    logger.warning("lost the database during a write: %s", str(error).strip())
                    raise DatabaseUnavailable(
                        "Lost the database during the write; whether the change was saved is unknown"
                    ) from error
                raise _ConnectionLost() from error
            _rollback(conn, mode is not Mode.WRITE)
            if isinstance(error, (psycopg2.errors.DeadlockDetected, psycopg2.errors.SerializationFailure)):
                raise _Aborted() from error
            if isinstance(error, psycopg2.errors.QueryCanceled):
                raise DatabaseUnavailable("The database took too long to answer", 1) from error
            raise
        except BaseException:
            _rollback(conn, mode is not Mode.WRITE)
            raise
        if mode is Mode.WRITE:
            try:
                conn.commit()
            except psycopg2.Error as error:
                if not (isinstance(error, psycopg2.OperationalError) or _hung_up(conn)):
                    raise  # the server refused the commit, and said why
                # The COMMIT may or may not have reached the server: never re-run the unit.
                logger.warning("lost the database while committing: %s", str(error).strip())
                raise DatabaseUnavailable(
                    "Lost the database while committing; whether the change was saved is unknown"
                ) from error
        return result


def _hung_up(conn: Connection) -> bool:
    """A connection between queries has nothing to read unless its server is closing it (or
    is gone)."""
    if conn.closed:
        return True
    readable, _, _ = select.select([conn], [], [], 0)
    return bool(readable)


def _rollback(conn: Connection, autocommit: bool) -> None:
    """Best effort: a connection that cannot even roll back is closed, and so discarded."""
    if autocommit or conn.closed:
        return
    try:
        conn.rollback()
    except psycopg2.Error:
        conn.close()
