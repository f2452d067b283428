import asyncio
import json

import pytest
from prometheus_client import REGISTRY

from models.applications import ApplicationCreate
from models.audit import AuditContext
from models.configurations import ConfigurationCreate, ConfigurationUpdate
from models.errors import ConfigurationNotFound
from services.applications import ApplicationService
from services.change_feed import ChangeFeed
from services.configurations import ConfigurationService
from services.watches import ConfigurationWatcher
from tests.waiting import wait_until_async

pytestmark = pytest.mark.anyio

ME = AuditContext(actor="tester")


def open_long_polls() -> float:
    return REGISTRY.get_sample_value("configsvc_open_watchers", {"kind": "long_poll"})


async def once_waiting(wait, then):
    """Start `wait`, and do `then` once the watcher waits: a change made before it has read
    the configuration would be its starting point, not a change that ends the wait."""
    before = open_long_polls()
    waiting = asyncio.ensure_future(wait)
    await wait_until_async(lambda: open_long_polls() > before, what="the watcher waits")
    await then()
    return await waiting


@pytest.fixture
async def setup(database):
    feed = ChangeFeed(database, poll_interval_s=0.05)  # the poll stands in for LISTEN here
    await feed.start()
    configurations = ConfigurationService(database)
    app = await ApplicationService(database).create(ApplicationCreate(name="a"), ME)
    created = await configurations.create(ConfigurationCreate(application_id=app.id, name="c", config={}), ME)
    yield ConfigurationWatcher(configurations, feed), configurations, created
    await feed.stop()


async def test_newer_is_answered_at_once(setup):
    watcher, configurations, created = setup
    await configurations.update(created.id, ConfigurationUpdate(config={"n": 2}), ME)

    latest, changed = await watcher.wait_for_change(created.id, 1, timeout_s=10)

    assert (latest.version, changed) == (2, True)


async def test_a_change_ends_the_wait(setup):
    watcher, configurations, created = setup

    async def change():
        await configurations.update(created.id, ConfigurationUpdate(config={"n": 2}), ME)

    latest, changed = await once_waiting(watcher.wait_for_change(created.id, None, 30), change)

    assert (json.loads(latest.body)["config"], latest.etag, changed) == ({"n": 2}, '"2"', True)


async def test_no_change_until_the_timeout(setup):
    watcher, _, created = setup
    latest, changed = await watcher.wait_for_change(created.id, 1, timeout_s=0.2)
    assert (json.loads(latest.body), changed) == (created.model_dump(mode="json"), False)


async def test_deletion_while_waiting_is_not_found(setup):
    watcher, configurations, created = setup

    async def delete():
        await configurations.delete(created.id, ME)

    with pytest.raises(ConfigurationNotFound):
        await once_waiting(watcher.wait_for_change(created.id, 1, 30), delete)


async def test_changes_to_other_configurations_do_not_end_the_wait(setup):
    watcher, configurations, created = setup
    sibling = await configurations.create(
        ConfigurationCreate(application_id=created.application_id, name="d", config={}), ME
    )

    async def change_the_sibling():
        await configurations.update(sibling.id, ConfigurationUpdate(config={"n": 2}), ME)

    latest, changed = await once_waiting(watcher.wait_for_change(created.id, 1, 0.5), change_the_sibling)

    assert (json.loads(latest.body)["version"], changed) == (1, False)


async def test_deleting_the_application_while_waiting_is_not_found(setup, database):
    watcher, _, created = setup

    async def delete_the_application():
        await ApplicationService(database).delete(created.application_id, ME)

    with pytest.raises(ConfigurationNotFound):
        await once_waiting(watcher.wait_for_change(created.id, 1, 30), delete_the_application)
