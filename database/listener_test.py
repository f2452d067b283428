import asyncio

import psycopg2
import pytest

from database.listener import Listener
from tests.postgres import admin_connection
from tests.waiting import DEADLINE_S, wait_until_async

pytestmark = pytest.mark.anyio


class Recorder:
    def __init__(self) -> None:
        self.payloads: list[str] = []
        self.connects = 0
        self.arrived = asyncio.Event()

    def notified(self, payload: str) -> None:
        self.payloads.append(payload)
        self.arrived.set()

    def connected(self) -> None:
        self.connects += 1

    async def wait_for(self, count: int) -> None:
        async with asyncio.timeout(DEADLINE_S):
            while len(self.payloads) < count:
                self.arrived.clear()
                await self.arrived.wait()


def notify(database_url: str, payload: str) -> None:
    with admin_connection(database_url) as conn, conn.cursor() as cursor:
        cursor.execute("SELECT pg_notify('test_channel', %s)", (payload,))


@pytest.fixture
async def listening(database_url):
    recorder = Recorder()
    listener = Listener(
        database_url, "test_channel", on_notify=recorder.notified, on_connect=recorder.connected
    )
    await listener.start()
    yield listener, recorder
    await listener.close()


async def test_notifications_reach_the_callback_in_order(listening, database_url):
    listener, recorder = listening
    for payload in ("1", "2", "3"):
        notify(database_url, payload)

    await recorder.wait_for(3)

    assert recorder.payloads == ["1", "2", "3"]
    assert (recorder.connects, listener.reconnects, listener.connected) == (1, 0, True)


async def test_a_killed_connection_is_replaced_and_says_so(listening, database_url):
    listener, recorder = listening
    with admin_connection(database_url) as conn, conn.cursor() as cursor:
        cursor.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE application_name = 'config-service-listener' AND datname = current_database()"
        )

    await wait_until_async(lambda: listener.reconnects >= 1, what="the listener reconnects")

    assert recorder.connects == 2  # the second tells the feed that something may be missed
    notify(database_url, "after")
    await recorder.wait_for(1)
    assert recorder.payloads == ["after"]


async def test_a_listener_reconnects_after_the_server_restarts(database_url, stoppable_postgres):
    recorder = Recorder()
    listener = Listener(
        database_url, "test_channel", on_notify=recorder.notified, on_connect=recorder.connected
    )
    await listener.start()
    try:
        stoppable_postgres.stop()
        await wait_until_async(lambda: not listener.connected, what="the listener notices")
        stoppable_postgres.start_again()

        await wait_until_async(lambda: listener.connected, what="the listener is back")
        notify(database_url, "back")
        await recorder.wait_for(1)
        assert listener.reconnects == 1
    finally:
        await listener.close()


async def test_start_fails_when_the_database_is_unreachable():
    listener = Listener(
        "postgresql://nobody@127.0.0.1:9/none", "c", on_notify=print, on_connect=print, connect_timeout_s=1
    )
    with pytest.raises(psycopg2.OperationalError, match="refused"):
        await listener.start()


async def test_close_is_safe_twice(listening):
    listener, _ = listening
    await listener.close()
    await listener.close()
    assert not listener.connected
