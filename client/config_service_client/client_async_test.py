"""AsyncConfigClient against the real service: the same core as ConfigClient, driven without
blocking. What the sync tests prove of the core is not repeated; what the async driver does
(sending, retrying, sleeping, streaming, falling back) is."""

import asyncio
import logging
import os
import stat
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import aclosing
from pathlib import Path
from typing import Any

import pytest

from config_service_client.client import AsyncConfigClient, ConfigClient
from config_service_client.errors import (
    BadRequest,
    Conflict,
    NotFound,
    PreconditionFailed,
    ServiceUnreachable,
    Unauthorized,
)
from config_service_client.retry import RetryPolicy
from tests.http_faults import HttpFaults
from tests.server import api_client
from tests.waiting import DEADLINE_S, wait_until_async

pytestmark = pytest.mark.anyio

QUICK = RetryPolicy(deadline_s=30, first_backoff_s=0.01, max_backoff_s=0.05)
IMPATIENT = RetryPolicy(deadline_s=0.5, first_backoff_s=0.01, max_backoff_s=0.05)


@pytest.fixture
def faults(service_url: str) -> Iterator[HttpFaults]:
    with HttpFaults(service_url) as proxy:
        yield proxy


@pytest.fixture
async def client(faults: HttpFaults, admin_key: str) -> AsyncIterator[AsyncConfigClient]:
    async with AsyncConfigClient(faults.url, admin_key, retry=QUICK) as made:
        yield made


@pytest.fixture
def direct(service_url: str, admin_key: str) -> Iterator[ConfigClient]:
    with ConfigClient(service_url, admin_key) as made:
        yield made


async def test_reads_are_conditional(
    client: AsyncConfigClient, faults: HttpFaults, direct: ConfigClient, app_name: str
) -> None:
    direct.create_application(app_name)
    path = f"/api/v1/configurations/{direct.set(app_name, 'database', {'host': 'db'}).id}"

    first = await client.get(app_name, "database")
    second = await client.get_configuration(app_name, "database")
    direct.set(app_name, "database", {"host": "replica"})
    third = await client.get(app_name, "database")

    assert first == second.config == {"host": "db"}
    assert third == {"host": "replica"}
    assert [seen.status for seen in faults.seen if seen.path == path] == [200, 304, 200]


async def test_writes_history_diff_and_rollback(client: AsyncConfigClient, app_name: str) -> None:
    await client.create_application(app_name)
    created = await client.set(app_name, "pool", {"size": 1})
    updated = await client.set(app_name, "pool", {"size": 2}, if_match=created.version)
    rolled = await client.rollback(app_name, "pool", 1)

    history = await client.history(app_name, "pool")
    diff = await client.diff(app_name, "pool", 1, 2)
    old = await client.get_configuration(app_name, "pool", version=2)

    assert (created.version, updated.version, rolled.version) == (1, 2, 3)
    assert [(revision.version, revision.change) for revision in history] == [
        (3, "rolled_back"),
        (2, "updated"),
        (1, "created"),
    ]
    assert diff.patch == [{"op": "replace", "path": "/size", "value": 2}]
    assert old.config == {"size": 2}
    assert [c.name for c in await client.list_configurations(app_name)] == ["pool"]
    assert app_name in [app.name for app in await client.list_applications()]

    await client.delete_configuration(app_name, "pool", if_match=3)
    await client.delete_application(app_name)
    with pytest.raises(NotFound):
        await client.application_id(app_name)


async def test_rollback_and_deleting_an_application_take_if_match(
    client: AsyncConfigClient, faults: HttpFaults, service_url: str, app_name: str
) -> None:
    application = await client.create_application(app_name)
    await client.set(app_name, "pool", {"size": 1})
    await client.set(app_name, "pool", {"size": 2})
    with api_client(service_url) as direct:  # someone changes the application meanwhile
        direct.put(f"/api/v1/applications/{application.id}", json={"comments": "moved"}).raise_for_status()

    with pytest.raises(PreconditionFailed):
        await client.rollback(app_name, "pool", 1, if_match=1)
    rolled = await client.rollback(app_name, "pool", 1, comment="back", if_match=2)
    with pytest.raises(PreconditionFailed):
        await client.delete_application(app_name, if_match=application.version)
    await client.delete_application(app_name, if_match=application.version + 1)

    assert (rolled.version, rolled.config) == (3, {"size": 1})
    assert app_name not in [app.name for app in await client.list_applications()]
    sent = [(seen.method, seen.headers.get("If-Match")) for seen in faults.seen if seen.method != "GET"]
    assert sent[-4:] == [
        ("POST", '"1"'),
        ("POST", '"2"'),
        ("DELETE", f'"{application.version}"'),
        ("DELETE", f'"{application.version + 1}"'),
    ]


async def test_last_known_good_files_are_written_off_the_event_loop(
    client: AsyncConfigClient,
    faults: HttpFaults,
    admin_key: str,
    app_name: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    await client.create_application(app_name)
    await client.set(app_name, "database", {"host": "db"})
    writers: list[int] = []
    async with AsyncConfigClient(faults.url, admin_key, cache_dir=tmp_path) as reader:
        store = reader._core.store
        assert store is not None
        save, delete = store.save, store.delete

        def saving(*args: Any, **kwargs: Any) -> Path:
            writers.append(threading.get_ident())
            return save(*args, **kwargs)

        def deleting(*args: Any, **kwargs: Any) -> bool:
            writers.append(threading.get_ident())
            return delete(*args, **kwargs)

        monkeypatch.setattr(store, "save", saving)
        monkeypatch.setattr(store, "delete", deleting)
        assert await reader.get(app_name, "database") == {"host": "db"}
        saved = store.load(app_name, "database")
        await reader.delete_configuration(app_name, "database")
        gone = store.load(app_name, "database")

    assert writers and threading.get_ident() not in writers  # the event loop never waited on the disk
    assert len(writers) == 3  # one save; the deletes of the copy and of its revealed one
    assert saved is not None and saved["config"] == {"host": "db"}  # written by the time get returns
    assert gone is None


async def test_typed_errors(client: AsyncConfigClient, service_url: str, app_name: str) -> None:
    with pytest.raises(NotFound):
        await client.get(app_name, "database")
    await client.create_application(app_name)
    await client.set(app_name, "flags", {"a": 1})
    await client.set(app_name, "flags", {"a": 2})

    with pytest.raises(Conflict):
        await client.create_application(app_name)
    with pytest.raises(PreconditionFailed) as stale:
        await client.set(app_name, "flags", {"a": 3}, if_match=1)
    with pytest.raises(BadRequest) as invalid:
        await client.set(app_name, "flags", {"a": 3}, comments="x" * 2000)
    async with AsyncConfigClient(service_url, "cs_nobody-issued-this-key-000") as stranger:
        with pytest.raises(Unauthorized) as unauthorized:
            await stranger.list_applications()

    assert stale.value.current_version == 2
    assert invalid.value.fields == ["body.comments"]
    assert "cs_nobody-issued-this-key-000" not in str(unauthorized.value)


async def test_retries_drops_503_and_429_but_not_a_404(
    client: AsyncConfigClient, faults: HttpFaults, direct: ConfigClient, app_name: str
) -> None:
    direct.create_application(app_name)
    path = f"/api/v1/configurations/{direct.set(app_name, 'database', {'host': 'db'}).id}"
    await client.get(app_name, "database")
    faults.drop_next(1)
    faults.refuse_next(1, status=503, retry_after="1")
    faults.refuse_next(1, status=429, retry_after="0")

    started = time.monotonic()
    assert await client.get(app_name, "database") == {"host": "db"}
    waited = time.monotonic() - started
    with pytest.raises(NotFound):
        await client.get_configuration(app_name, "database", version=5)

    assert [seen.outcome for seen in faults.seen if seen.path == path] == [
        "forwarded",
        "dropped",
        "refused",
        "refused",
        "forwarded",
    ]
    assert waited >= 1.0  # the 503's Retry-After
    assert faults.count(path=f"{path}/versions/5") == 1


async def test_the_deadline_gives_service_unreachable(faults: HttpFaults, admin_key: str) -> None:
    faults.refuse_next(10_000, status=503, retry_after="0")
    policy = RetryPolicy(deadline_s=0.5, first_backoff_s=0.01, max_backoff_s=0.05)

    async with AsyncConfigClient(faults.url, admin_key, retry=policy) as client:
        with pytest.raises(ServiceUnreachable) as raised:
            await client.list_applications()

    assert faults.count(outcome="refused") > 2
    assert raised.value.last_error is not None
    faults.clear()


async def test_with_the_service_down_the_last_known_good_copy_is_served_stale(
    service_url: str,
    admin_key: str,
    direct: ConfigClient,
    app_name: str,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    direct.create_application(app_name)
    direct.set(app_name, "database", {"host": "db"})
    proxy = HttpFaults(service_url)
    async with AsyncConfigClient(proxy.url, admin_key, cache_dir=tmp_path / "lkg") as earlier:
        assert await earlier.get(app_name, "database") == {"host": "db"}
    proxy.close()

    with caplog.at_level(logging.WARNING):
        async with AsyncConfigClient(
            proxy.url, admin_key, cache_dir=tmp_path / "lkg", retry=IMPATIENT
        ) as client:
            reads = [await client.get(app_name, "database") for _ in range(3)]
            assert client.is_stale

    assert reads == [{"host": "db"}] * 3
    assert len([r for r in caplog.records if "last-known-good" in r.getMessage()]) == 1
    (saved,) = (tmp_path / "lkg").iterdir()
    if os.name == "posix":
        assert stat.S_IMODE(saved.stat().st_mode) == 0o600


async def test_events_and_a_watch_as_a_task(
    client: AsyncConfigClient, direct: ConfigClient, app_name: str
) -> None:
    await client.create_application(app_name)
    await client.set(app_name, "database", {"v": 1})
    changes: list[Any] = []

    async def changed(change: Any) -> None:
        changes.append(change)

    watch = client.watch(app_name, "database", changed)
    try:
        assert await watch.wait_connected(DEADLINE_S)
        await asyncio.to_thread(direct.set, app_name, "database", {"v": 2})
        await wait_until_async(lambda: changes, what="the watch's callback")
    finally:
        await watch.stop()

    assert changes[0].configuration.config == {"v": 2}
    assert await client.get(app_name, "database") == {"v": 2}
    replayed = []
    async with aclosing(client.events(app_name, after=0)) as events:
        async for event in events:
            replayed.append(event)
            if event.action == "configuration.updated":
                break
    assert [(e.action, e.version) for e in replayed if e.entity_type == "configuration"] == [
        ("configuration.created", 1),
        ("configuration.updated", 2),
    ]
