import asyncio
import threading
import time

import psycopg2
import psycopg2.pool
import pytest
from psycopg2.extensions import TRANSACTION_STATUS_IDLE

from config.logging import request_id_var
from database.errors import DatabaseBusy, DatabaseUnavailable
from database.pool import Database, PoolOptions, RetainingPool, connection_dsn
from tests.postgres import admin_connection
from tests.proxy import FreezableProxy
from tests.waiting import DEADLINE_S, wait_until, wait_until_async

pytestmark = pytest.mark.anyio


def backend_pid(conn) -> int:
    with conn.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid() AS pid")
        return cursor.fetchone()["pid"]


def count_rows(conn) -> int:
    with conn.cursor() as cursor:
        cursor.execute("SELECT count(*) AS n FROM applications")
        return cursor.fetchone()["n"]


def insert_application(conn, name: str) -> None:
    with conn.cursor() as cursor:
        cursor.execute(
            "INSERT INTO applications (id, name) VALUES (%s, %s)",
            (f"01ARZ3NDEKTSV4RRFFQ69G{len(name):04d}", name),
        )


@pytest.fixture
def open_database(database_url):
    opened = []

    def open_(**options) -> Database:
        db = Database(database_url, PoolOptions(**options))
        db.open()
        opened.append(db)
        return db

    yield open_
    for db in opened:
        db.close()


def other_backends(database_url: str) -> int:
    with admin_connection(database_url) as conn, conn.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        return cursor.fetchone()[0]


def terminate_other_backends(database_url: str) -> int:
    with admin_connection(database_url) as conn, conn.cursor() as cursor:
        cursor.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        return cursor.fetchone()[0]


async def test_reads_run_in_autocommit_without_a_transaction(database):
    def observe(conn):
        count_rows(conn)
        return conn.autocommit, conn.info.transaction_status

    assert await database.read(observe) == (True, TRANSACTION_STATUS_IDLE)


async def test_a_write_is_committed(database):
    await database.write(lambda conn: insert_application(conn, "a"))
    assert await database.read(count_rows) == 1


async def test_a_write_that_raises_leaves_nothing_behind(database):
    def half_done(conn):
        insert_application(conn, "a")
        raise RuntimeError("changed my mind")

    with pytest.raises(RuntimeError):
        await database.write(half_done)
    assert await database.read(count_rows) == 0


async def test_a_failed_statement_rolls_back_and_the_connection_serves_again(open_database):
    db = open_database(max_connections=1)

    def duplicate(conn):
        insert_application(conn, "a")
        insert_application(conn, "a")

    with pytest.raises(psycopg2.errors.UniqueViolation):
        await db.write(duplicate)
    await db.write(lambda conn: insert_application(conn, "b"))
    assert await db.read(count_rows) == 1


async def test_a_slow_statement_is_cut_off_as_unavailable(open_database):
    db = open_database(statement_timeout_ms=50)

    with pytest.raises(DatabaseUnavailable) as raised:
        await db.read(lambda conn: conn.cursor().execute("SELECT pg_sleep(1)"))
    assert raised.value.retry_after_s == 1
    assert await db.read(count_rows) == 0


async def test_many_more_requests_than_connections_all_succeed(open_database):
    db = open_database(max_connections=5, acquire_timeout_s=DEADLINE_S)  # queued, however busy the CPU

    def slow_read(conn):
        with conn.cursor() as cursor:
            cursor.execute("SELECT pg_sleep(0.005)")
        return backend_pid(conn)

    pids = await asyncio.gather(*(db.read(slow_read) for _ in range(200)))

    assert len(pids) == 200
    assert len(set(pids)) <= 5


async def test_connections_are_kept_for_reuse_after_a_burst(open_database):
    db = open_database(min_connections=1, max_connections=4)
    gate = threading.Barrier(4)

    def together(conn):
        gate.wait(timeout=DEADLINE_S)  # all four hold a connection at once
        return backend_pid(conn)

    first = set(await asyncio.gather(*(db.read(together) for _ in range(4))))
    second = set(await asyncio.gather(*(db.read(together) for _ in range(4))))

    assert db.stats().idle == 4
    assert first == second  # the same four connections, not fresh ones


async def test_a_burst_waits_for_a_connection_then_gives_up_with_busy(open_database):
    db = open_database(max_connections=1, acquire_timeout_s=1)
    release = threading.Event()
    holder = asyncio.ensure_future(db.read(lambda conn: release.wait(DEADLINE_S)))
    await wait_until_async(lambda: db.stats().in_use == 1, what="the holder has the connection")

    started = time.monotonic()
    waiter = asyncio.ensure_future(db.read(count_rows))
    await wait_until_async(lambda: db.stats().waiting == 1 or waiter.done(), what="the request queues")
    assert db.stats().waiting == 1
    with pytest.raises(DatabaseBusy) as raised:
        await waiter
    assert 0.9 <= time.monotonic() - started < 10  # the acquire timeout, with room for a busy CPU
    assert raised.value.retry_after_s == 1

    release.set()
    assert await holder is True
    assert await db.read(count_rows) == 0
    assert db.stats().waiting == 0


async def test_a_cancelled_request_keeps_its_slot_until_its_thread_is_done(open_database):
    db = open_database(max_connections=1, acquire_timeout_s=0.2)
    release = threading.Event()
    cancelled = asyncio.ensure_future(db.read(lambda conn: release.wait(DEADLINE_S)))
    await wait_until_async(lambda: db.stats().in_use == 1, what="the unit has the connection")
    cancelled.cancel()
    await asyncio.sleep(0)

    with pytest.raises(DatabaseBusy):
        await db.read(count_rows)  # the cancelled unit still holds the only connection
    release.set()

    async def served() -> bool:
        try:
            return await db.read(count_rows) == 0
        except DatabaseBusy:  # its thread has not quite finished yet
            return False

    await wait_until_async(served, what="the slot is handed back once the thread is done")


async def test_connections_killed_by_the_server_are_replaced_transparently(database_url, open_database):
    db = open_database(min_connections=3, max_connections=3)
    before = await db.read(backend_pid)

    assert terminate_other_backends(database_url) >= 3
    after = await db.read(backend_pid)

    assert after != before
    await db.write(lambda conn: insert_application(conn, "a"))
    assert await db.read(count_rows) == 1


async def test_a_unit_that_keeps_losing_its_connection_gives_up(open_database):
    db = open_database(max_connections=2)
    attempts = []

    def suicidal(conn):
        attempts.append(1)
        conn.cursor().execute("SELECT pg_terminate_backend(pg_backend_pid())")

    with pytest.raises(DatabaseUnavailable):
        await db.read(suicidal)
    assert len(attempts) == 3  # each pooled connection, then one fresh one


async def test_a_connection_lost_at_commit_is_not_retried(database_url, open_database):
    db = open_database(max_connections=1)
    attempts = []

    def killed_before_commit(conn):
        attempts.append(1)
        insert_application(conn, "a")
        with admin_connection(database_url) as admin, admin.cursor() as cursor:
            cursor.execute("SELECT pg_terminate_backend(%s)", (backend_pid(conn),))

    with pytest.raises(DatabaseUnavailable, match="committing"):
        await db.write(killed_before_commit)
    assert attempts == [1]
    assert await db.read(count_rows) == 0


async def test_a_stopped_server_is_unavailable_fast_and_recovered_from(stoppable_postgres, open_database):
    db = open_database(min_connections=2, max_connections=2, connect_timeout_s=10)
    await db.read(count_rows)

    stoppable_postgres.stop()
    started = time.monotonic()
    with pytest.raises(DatabaseUnavailable):
        await db.read(count_rows)
    with pytest.raises(DatabaseUnavailable):
        await db.read(count_rows)
    assert time.monotonic() - started < 5  # not waiting out a connect timeout (10 s) for each

    stoppable_postgres.start_again()

    async def served() -> bool:
        try:
            return await db.read(count_rows) == 0
        except DatabaseUnavailable:  # the failed connect is not retried for a moment
            return False

    await wait_until_async(served, what="the pool reconnects")


def test_opening_against_an_unreachable_server_is_unavailable():
    db = Database("postgresql://nobody@127.0.0.1:9/none", PoolOptions(connect_timeout_s=1))
    with pytest.raises(DatabaseUnavailable, match="Cannot connect"):
        db.open()


def test_the_dsn_adds_session_settings_and_keeps_the_urls_own():
    dsn = connection_dsn(
        "postgresql://u@h:5/db?options=-c%20search_path%3Dx&application_name=mine",
        PoolOptions(statement_timeout_ms=1234, connect_timeout_s=7),
    )
    parsed = psycopg2.extensions.parse_dsn(dsn)
    assert parsed["options"] == "-c search_path=x -c statement_timeout=1234 -c TimeZone=UTC"
    assert parsed["application_name"] == "mine"
    assert parsed["connect_timeout"] == "7"
    assert (parsed["host"], parsed["port"], parsed["dbname"], parsed["user"]) == ("h", "5", "db", "u")


def test_retaining_pool_keeps_every_returned_connection(database_url):
    pool = RetainingPool(1, 3, dsn=database_url)
    try:
        connections = [pool.getconn() for _ in range(3)]
        for conn in connections:
            pool.putconn(conn)
        assert pool.counts() == (0, 3)
        assert all(not conn.closed for conn in connections)
    finally:
        pool.closeall()


def test_retaining_pool_backs_off_after_a_failed_connect():
    pool = RetainingPool(0, 2, dsn="postgresql://nobody@127.0.0.1:9/none?connect_timeout=1")
    with pytest.raises(psycopg2.OperationalError, match="refused"):
        pool.getconn()
    with pytest.raises(psycopg2.OperationalError, match="moments ago"):
        pool.getconn()


def raise_sqlstate(conn, sqlstate: str) -> None:
    with conn.cursor() as cursor:
        cursor.execute(f"DO $$ BEGIN RAISE EXCEPTION 'simulated' USING ERRCODE = '{sqlstate}'; END $$")


@pytest.mark.parametrize("sqlstate", ["40P01", "40001"])  # deadlock, serialization failure
async def test_a_unit_the_server_aborts_is_run_again(database, sqlstate):
    attempts = []

    def unlucky_once(conn):
        attempts.append(1)
        insert_application(conn, "a")
        if len(attempts) == 1:
            raise_sqlstate(conn, sqlstate)

    await database.write(unlucky_once)

    assert len(attempts) == 2
    assert await database.read(count_rows) == 1


async def test_a_unit_the_server_keeps_aborting_gives_up_with_503(database):
    attempts = []

    def always_deadlocked(conn):
        attempts.append(1)
        raise_sqlstate(conn, "40P01")

    with pytest.raises(DatabaseUnavailable, match="kept aborting"):
        await database.write(always_deadlocked)
    assert len(attempts) == 4


def test_a_slow_connect_does_not_stall_threads_handing_connections_back(database_url):
    with FreezableProxy(database_url) as proxy:
        pool = RetainingPool(1, 2, dsn=f"{proxy.url}?connect_timeout=5")
        try:
            held = pool.getconn()
            proxy.freeze()

            def connect_in_vain():
                with pytest.raises(psycopg2.OperationalError):
                    pool.getconn()

            connecting = threading.Thread(target=connect_in_vain)
            connecting.start()
            wait_until(lambda: proxy.accepted == 2, what="the other thread is inside its connect")

            started = time.monotonic()
            pool.putconn(held)
            counts = pool.counts()
            assert time.monotonic() - started < 2.5  # not stalled until the connect gives up (5 s)
            assert counts == (0, 1)

            connecting.join()
        finally:
            proxy.thaw()
            pool.closeall()


def test_the_pool_never_opens_more_than_its_maximum(database_url):
    pool = RetainingPool(0, 2, dsn=database_url)
    try:
        pool.getconn(), pool.getconn()
        with pytest.raises(psycopg2.pool.PoolError, match="exhausted"):
            pool.getconn()
    finally:
        pool.closeall()


def test_statement_and_network_timeouts_are_set_on_the_connection():
    parsed = psycopg2.extensions.parse_dsn(
        connection_dsn("postgresql://h/db", PoolOptions(statement_timeout_ms=800))
    )
    assert parsed["tcp_user_timeout"] == "5800"
    assert PoolOptions(statement_timeout_ms=800, connect_timeout_s=2).unit_deadline_s == 3.6


async def test_a_unit_runs_in_its_callers_context_so_its_log_lines_carry_the_request_id(database):
    token = request_id_var.set("req-42")
    try:
        seen = await database.read(lambda conn: request_id_var.get())
    finally:
        request_id_var.reset(token)
    assert seen == "req-42"


async def test_a_write_statement_runs_in_autocommit_and_is_committed_by_itself(database):
    def observe(conn):
        insert_application(conn, "a")
        return conn.autocommit, conn.info.transaction_status

    assert await database.write_statement(observe) == (True, TRANSACTION_STATUS_IDLE)
    assert await database.read(count_rows) == 1


async def test_after_commit_is_called_for_writes_that_committed_only(database):
    told = []
    database.after_commit(lambda: told.append(1))
    await database.read(count_rows)
    await database.write(lambda conn: insert_application(conn, "a"))
    await database.write_statement(lambda conn: insert_application(conn, "bb"))
    with pytest.raises(psycopg2.errors.UniqueViolation):
        await database.write_statement(lambda conn: insert_application(conn, "bb"))
    assert told == [1, 1]


async def test_connections_the_server_closed_while_idle_are_replaced_before_use(open_database, database_url):
    """After a restart every pooled connection is dead. A statement in autocommit could not
    be run again once sent (it may have committed), so the dead ones are found first."""
    db = open_database(min_connections=3, max_connections=3)
    together = threading.Barrier(3, timeout=DEADLINE_S)  # three units at once: three connections
    await asyncio.gather(*(db.read(lambda conn: together.wait()) for _ in range(3)))
    assert terminate_other_backends(database_url) >= 3
    wait_until(lambda: other_backends(database_url) == 0, what="the server has closed them")

    await db.write_statement(lambda conn: insert_application(conn, "a"))
    assert await db.read(count_rows) == 1


async def test_a_write_statement_whose_connection_dies_while_it_runs_is_unknown_not_rerun(
    open_database, database_url
):
    db = open_database(max_connections=1)

    def killed_midway(conn):
        insert_application(conn, "a")
        terminate_other_backends(database_url)  # this one's own server process, from outside
        insert_application(conn, "b")  # so this fails on a dead connection

    with pytest.raises(DatabaseUnavailable, match="whether the change was saved is unknown"):
        await db.write_statement(killed_midway)


async def test_connections_of_a_crashed_server_are_discarded_and_the_unit_run_again(
    stoppable_postgres, open_database
):
    """A server that vanishes at once leaves psycopg2 raising a plain DatabaseError on a
    connection it still thinks open: it must be found dead all the same, not answered 500."""
    db = open_database(min_connections=2, max_connections=2)
    together = threading.Barrier(2, timeout=DEADLINE_S)
    await asyncio.gather(*(db.read(lambda conn: together.wait()) for _ in range(2)))  # both open

    stoppable_postgres.crash()
    stoppable_postgres.start_again()

    assert await db.read(count_rows) == 0
    await db.write(lambda conn: insert_application(conn, "a"))
    assert await db.read(count_rows) == 1
