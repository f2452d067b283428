"""Fixtures of the client's tests: the real service, as users run it (`python main.py`), on a
database of the module's own; each test names applications of its own."""

from collections.abc import Iterator

import pytest

from models.ids import new_id
from tests.apps import ADMIN_KEY
from tests.postgres import TestServer
from tests.server import Service, service_on_new_database


@pytest.fixture(scope="module")
def service(postgres: TestServer) -> Iterator[Service]:
    """One running service per test module: starting one takes a second or two."""
    with service_on_new_database(postgres) as running:
        yield running


@pytest.fixture
def service_url(service: Service) -> str:
    return service.url


@pytest.fixture
def admin_key() -> str:
    return ADMIN_KEY


@pytest.fixture
def app_name() -> str:
    """An application name no other test uses (tests in a module share one service)."""
    return f"app-{new_id().lower()}"
