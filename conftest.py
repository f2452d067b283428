"""Fixtures shared by every co-located test: a real PostgreSQL, one fresh database per test."""

from collections.abc import AsyncIterator, Iterator

import psycopg2
import pytest
from psycopg2.extras import RealDictCursor

from config.settings import Settings
from database.pool import Database, PoolOptions
from main import create_app
from services.change_feed import ChangeFeed
from tests.apps import SyncClient, settings_for, sync_client
from tests.postgres import TestServer


@pytest.fixture(scope="session")
def postgres() -> Iterator[TestServer]:
    server = TestServer.start()
    server.create_template()
    yield server
    server.drop(server.template)


@pytest.fixture
def database_url(postgres: TestServer) -> Iterator[str]:
    """A migrated database of this test's own, dropped afterwards."""
    name = postgres.new_database()
    yield postgres.url(name)
    postgres.drop(name)


@pytest.fixture
def conn(database_url: str) -> Iterator[psycopg2.extensions.connection]:
    """A plain connection, as repositories receive it inside a unit of work."""
    connection = psycopg2.connect(database_url, cursor_factory=RealDictCursor)
    yield connection
    connection.close()


@pytest.fixture
def database(database_url: str) -> Iterator[Database]:
    db = Database(database_url, PoolOptions(min_connections=1, max_connections=5))
    db.open()
    yield db
    db.close()


@pytest.fixture
def settings(database_url: str) -> Settings:
    return settings_for(database_url)


@pytest.fixture
def client(settings: Settings) -> Iterator[SyncClient]:
    with sync_client(create_app(settings)) as test_client:
        yield test_client


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def stoppable_postgres(postgres: TestServer) -> Iterator[TestServer]:
    """The session's server, for tests that stop it; always running again afterwards."""
    if not postgres.owned:
        pytest.skip("DATABASE_TEST_URL names a server that tests must not stop")
    yield postgres
    postgres.start_again()


@pytest.fixture
async def feed(database: Database) -> AsyncIterator[ChangeFeed]:
    """A change feed on `database` that learns of changes only when told (notify()): its
    poll is an hour away."""
    changes = ChangeFeed(database, poll_interval_s=3600)
    await changes.start()
    yield changes
    await changes.stop()
