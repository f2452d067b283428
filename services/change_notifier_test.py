import psycopg2
import pytest

from services.change_notifier import ChangeNotifier
from tests.waiting import wait_until_async

pytestmark = pytest.mark.anyio

CHANNEL = "config_changes"


@pytest.fixture
def listening(database_url):
    connection = psycopg2.connect(database_url)  # not `with`: LISTEN must not wait in a transaction
    connection.autocommit = True
    with connection.cursor() as cursor:
        cursor.execute(f"LISTEN {CHANNEL}")
    yield connection
    connection.close()


def heard(connection) -> int:
    connection.poll()
    count = len(connection.notifies)
    connection.notifies.clear()
    return count


async def test_a_commit_is_told_to_the_listeners_after_it_is_made(database, listening):
    notifier = ChangeNotifier(database, CHANNEL)
    database.after_commit(notifier.committed)
    try:
        await database.write(lambda conn: None)
        told = []
        await wait_until_async(lambda: told.append(heard(listening)) or sum(told), what="a notification")
    finally:
        await notifier.close()


async def test_a_burst_of_commits_is_told_by_few_notifications_the_last_one_after_the_last(
    database, listening
):
    notifier = ChangeNotifier(database, CHANNEL)
    try:
        for _ in range(50):
            notifier.committed()
        await wait_until_async(lambda: notifier._sending.done(), what="the notifier is idle")
        count = heard(listening)
        assert 1 <= count <= 2  # the one in flight, and one for all that came while it was
    finally:
        await notifier.close()
