"""Watches against the real service over real HTTP: changes in order, after the client's copies
are refreshed; filtering by name; a callback that fails; stop(); and a service restart in the
middle of it all, with changes made while the watch is cut off.

Each test writes its configurations only once its watch is connected: a stream begun without
Last-Event-ID starts where the service's feed is, which may not have caught up yet with a
write made just before, so such a write may be seen as well, or not."""

import asyncio
import logging
import unicodedata
from collections.abc import Callable, Iterator
from contextlib import AsyncExitStack, ExitStack, contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from config_service_client.client import AsyncConfigClient, ConfigClient
from config_service_client.errors import (
    Forbidden,
    ServerError,
    ServiceUnreachable,
    TooManyRequests,
    Unauthorized,
)
from config_service_client.models import ChangeEvent
from config_service_client.retry import RetryPolicy
from config_service_client.sse import EventStreamParser
from config_service_client.store import LastKnownGood
from config_service_client.watch import AsyncWatch, Change, Watch, _Follower, _GiveUp, concerns, transient
from tests.http_faults import HttpFaults
from tests.server import Service, free_port, service_process
from tests.waiting import DEADLINE_S, wait_until, wait_until_async

QUIET = {"LOG_LEVEL": "warning"}


class Seen:
    """A callback that keeps each change with the last-known-good copy as it found it: what
    the watch had refreshed before calling."""

    def __init__(self, on_disk: Callable[[], dict[str, Any] | None] = lambda: None) -> None:
        self.changes: list[Change] = []
        self.on_disk: list[dict[str, Any] | None] = []
        self._on_disk = on_disk

    def __call__(self, change: Change) -> None:
        self.on_disk.append(self._on_disk())
        self.changes.append(change)

    def versions(self) -> list[int | None]:
        return [change.event.version for change in self.changes]

    def seqs(self) -> list[int]:
        return [change.event.seq for change in self.changes]


def copy_on_disk(cache_dir: Path, base_url: str, application: str, name: str) -> Callable[[], dict | None]:
    store = LastKnownGood(cache_dir, base_url)
    return lambda: store.load(application, name)


@contextmanager
def service_on(port: int, database_url: str) -> Iterator[Service]:
    """The service as users run it, on `port`: a restart comes back where the watch looks."""
    with service_process({"DATABASE_URL": database_url, **QUIET}, port=port) as service:
        yield service


# --- pure logic: when to reconnect, and from where --------------------------------------------


def follower(**policy: Any) -> _Follower:
    return _Follower("payments", RetryPolicy(random=lambda: 1.0, **policy), after=None)


def test_the_backoff_grows_with_failures_and_never_undercuts_the_services_retry():
    waits = follower(first_backoff_s=0.5, max_backoff_s=5.0)

    for _ in range(6):
        waits.stream_ended(None)  # refused: the stream never opened
    assert waits.delay_s(None) == 5.0  # capped, not 0.5 * 2**6
    assert waits.delay_s("7") == 7.0  # a 503's Retry-After is honoured

    opened = EventStreamParser()
    opened.feed(b"retry: 3000\nid: 7\n: stream open\n\n")
    waits.stream_ended(opened)  # it had opened: the backoff starts again, but not below 3 s
    assert waits.delay_s(None) == 3.0
    waits.stream_ended(None)
    assert waits.delay_s(None) == 3.0  # 0.5 * 2**1 < 3: the floor holds for refusals too


def test_a_feed_that_may_give_up_does_at_once_for_a_refusal_and_after_its_time_otherwise():
    give_up = _GiveUp(10.0, "Config Service at http://127.0.0.1:1")

    with pytest.raises(Unauthorized):  # a wrong key stays wrong
        give_up.check(Unauthorized(401, {"title": "Unauthorized"}), 0.1, was_open=False)
    give_up.check(ServiceUnreachable("down"), 0.1, was_open=False)  # within its time
    give_up.check(None, 20.0, was_open=True)  # a stream that was open is always tried again
    with pytest.raises(ServiceUnreachable, match="did not answer GET /api/v1/events: ConnectError"):
        give_up.check(httpx.ConnectError("refused"), 20.0, was_open=False)


def test_the_resume_point_moves_only_past_what_was_handled():
    resume = follower()
    parser = EventStreamParser()
    first, second = parser.feed(
        b'id: 11\ndata: {"seq": 11, "action": "configuration.updated", "entity_type": "configuration",'
        b' "entity_id": "c", "occurred_at": "2024-01-01T00:00:00Z", "name": "db"}\n\n'
        b"id: 12\ndata: not json\n\nid: 15\n\n"
    )
    event = resume.change_of(first)
    assert event is not None and concerns(event, "db")

    assert resume.seen(first, event)
    assert resume.last_seq == 11  # the handling of the second failed: it comes again
    resume.stream_ended(parser)
    assert resume.last_seq == 11

    assert resume.seen(second, resume.change_of(second))  # unreadable: passed over by its id
    resume.batch_done(parser)  # and an id without an event moves it on
    assert resume.last_seq == 15
    resume.application_id = "app-id"
    assert resume.stream_request()[2]["Last-Event-ID"] == "15"


def test_names_are_compared_as_the_service_keeps_them_in_nfc():
    event = ChangeEvent.model_validate(
        {
            "seq": 1,
            "action": "configuration.updated",
            "entity_type": "configuration",
            "entity_id": "c",
            "occurred_at": "2024-01-01T00:00:00Z",
            "name": unicodedata.normalize("NFC", "r\u00e9sum\u00e9"),
        }
    )

    assert concerns(event, unicodedata.normalize("NFD", "r\u00e9sum\u00e9"))
    assert concerns(event, None)
    assert not concerns(event, "resume")
    assert not concerns(event.model_copy(update={"entity_type": "application"}), None)


def test_only_failures_that_may_go_away_are_tried_again():
    assert transient(ServiceUnreachable("down"))
    assert transient(httpx.ReadError("cut"))
    assert transient(TooManyRequests(429, {"title": "Too Many Requests"}))
    assert transient(ServerError(503, {"title": "Service Unavailable"}))
    assert not transient(Forbidden(403, {"title": "Forbidden"}))
    assert not transient(ValueError("a body that is no configuration"))


def test_changes_reach_the_callback_in_order_after_the_copies_are_refreshed(
    service_url, admin_key, app_name, tmp_path
):
    seen = Seen(copy_on_disk(tmp_path, service_url, app_name, "db"))
    with (
        ConfigClient(service_url, admin_key) as writer,
        ConfigClient(service_url, admin_key, cache_dir=tmp_path) as client,
    ):
        writer.create_application(app_name)
        watch = client.watch(app_name, "db", seen)
        try:
            assert watch.wait_connected(DEADLINE_S)
            writer.set(app_name, "db", {"pool": 1})
            writer.set(app_name, "db", {"pool": 2})
            writer.set(app_name, "db", {"pool": 3})
            writer.rollback(app_name, "db", 1)
            wait_until(lambda: len(seen.changes) == 4)
            writer.delete_configuration(app_name, "db")
            wait_until(lambda: len(seen.changes) == 5)
        finally:
            watch.stop()

    assert [(change.event.action, change.event.version) for change in seen.changes] == [
        ("configuration.created", 1),
        ("configuration.updated", 2),
        ("configuration.updated", 3),
        ("configuration.rolled_back", 4),
        ("configuration.deleted", 4),
    ]
    assert seen.seqs() == sorted(set(seen.seqs()))
    assert watch.last_seq == seen.seqs()[-1]
    # Each callback had the configuration as re-read after its change (or a later change, if
    # one came meanwhile), and found that same copy saved as the last-known-good one.
    for change, on_disk in zip(seen.changes[:4], seen.on_disk, strict=False):
        assert change.configuration is not None and on_disk is not None
        assert change.configuration.version >= (change.event.version or 0)
        assert (on_disk["version"], on_disk["config"]) == (
            change.configuration.version,
            change.configuration.config,
        )
    last_update = seen.changes[3].configuration
    assert last_update is not None and (last_update.version, last_update.config) == (4, {"pool": 1})
    assert seen.changes[4].configuration is None
    assert not watch.running and not watch.connected


def test_a_watch_on_one_name_passes_over_the_others(service_url, admin_key, app_name):
    everything, database_only = Seen(), Seen()
    with ConfigClient(service_url, admin_key) as client:
        client.create_application(app_name)
        with (
            client.watch(app_name, None, everything) as all_names,
            client.watch(app_name, "db", database_only) as one_name,
        ):
            assert all_names.wait_connected(DEADLINE_S) and one_name.wait_connected(DEADLINE_S)
            client.set(app_name, "db", {"pool": 1})
            client.set(app_name, "cache", {"ttl": 1})
            client.set(app_name, "db", {"pool": 2})
            client.set(app_name, "cache", {"ttl": 2})
            wait_until(lambda: len(everything.changes) == 4)
            # The last change is not its own: once it has passed over that, it has seen all.
            wait_until(lambda: one_name.last_seq == all_names.last_seq)

    assert [(c.event.name, c.event.version) for c in everything.changes] == [
        ("db", 1),
        ("cache", 1),
        ("db", 2),
        ("cache", 2),
    ]
    assert [(c.event.name, c.event.version) for c in database_only.changes] == [("db", 1), ("db", 2)]
    assert all(c.configuration is not None and c.configuration.name == "db" for c in database_only.changes)


def test_a_callback_that_raises_is_logged_without_its_message_and_the_watch_goes_on(
    service_url, admin_key, app_name, caplog
):
    calls: list[Change] = []

    def failing(change: Change) -> None:
        calls.append(change)
        assert change.configuration is not None
        raise RuntimeError(f"cannot apply {change.configuration.config['password']}")

    with ConfigClient(service_url, admin_key) as client:
        client.create_application(app_name)
        with (
            caplog.at_level(logging.WARNING, logger="config_service_client"),
            client.watch(app_name, "db", failing) as watch,
        ):
            assert watch.wait_connected(DEADLINE_S)
            client.set(app_name, "db", {"password": "s3cr3t-1"})
            client.set(app_name, "db", {"password": "s3cr3t-2"})
            wait_until(lambda: len(calls) == 2)
            assert watch.connected  # not cut, nor resumed: the failure was the callback's alone

    failures = [record for record in caplog.records if "RuntimeError" in record.getMessage()]
    assert len(failures) == 2
    assert all(record.levelno == logging.ERROR for record in failures)
    assert "s3cr3t" not in caplog.text
    assert "failing" in caplog.text  # where it failed is told


def test_stop_ends_an_idle_watch_that_would_otherwise_wait_forever(database_url, admin_key, app_name):
    # A service that sends no heartbeat within the test, and no read timeout: nothing but
    # stop() can end the read the watch is blocked in.
    silent = {"DATABASE_URL": database_url, "SSE_HEARTBEAT_SECONDS": "3600", **QUIET}
    with service_process(silent) as service, ConfigClient(service.url, admin_key) as client:
        client.create_application(app_name)
        seen = Seen()
        watch = Watch(client, app_name, None, seen, read_timeout_s=None)
        assert watch.wait_connected(DEADLINE_S)
        client.set(app_name, "db", {"pool": 1})
        wait_until(lambda: seen.versions() == [1])  # it has read all there is, and waits

        watch.stop(timeout=DEADLINE_S)

        assert not watch.running
        assert not watch.connected


def test_a_watch_resumes_across_a_service_restart_without_missing_or_repeating_a_change(
    database_url, admin_key, app_name, tmp_path
):
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    seen = Seen(copy_on_disk(tmp_path, url, app_name, "db"))
    with ExitStack() as stack:  # closed in reverse: the watch first, then its client
        # A second process on the same database takes the writes while the watched one is down.
        other = stack.enter_context(service_process({"DATABASE_URL": database_url, **QUIET}))
        writer = stack.enter_context(ConfigClient(other.url, admin_key))
        client = stack.enter_context(ConfigClient(url, admin_key, cache_dir=tmp_path))
        writer.create_application(app_name)
        with service_on(port, database_url):
            watch = stack.enter_context(client.watch(app_name, "db", seen))
            assert watch.wait_connected(DEADLINE_S)
            writer.set(app_name, "db", {"n": 1})
            writer.set(app_name, "db", {"n": 2})
            wait_until(lambda: seen.versions() == [1, 2])

        wait_until(lambda: not watch.connected, what="the watch sees the service go")
        writer.set(app_name, "db", {"n": 3})
        writer.set(app_name, "db", {"n": 4})
        assert seen.versions() == [1, 2]

        with service_on(port, database_url):
            wait_until(lambda: seen.versions()[-1] == 4, what="the changes made while it was away")
            writer.set(app_name, "db", {"n": 5})
            wait_until(lambda: seen.versions()[-1] == 5, what="a change after the resume")
            watch.stop()

    assert seen.versions() == [1, 2, 3, 4, 5]
    assert seen.seqs() == sorted(set(seen.seqs()))
    latest = seen.changes[-1].configuration
    assert latest is not None and (latest.version, latest.config) == (5, {"n": 5})
    assert seen.on_disk[-1] is not None and seen.on_disk[-1]["config"] == {"n": 5}


def test_a_watch_cut_off_before_any_change_came_resumes_from_where_its_stream_began(
    database_url, admin_key, app_name
):
    port = free_port()
    seen = Seen()
    with ExitStack() as stack:
        other = stack.enter_context(service_process({"DATABASE_URL": database_url, **QUIET}))
        writer = stack.enter_context(ConfigClient(other.url, admin_key))
        client = stack.enter_context(ConfigClient(f"http://127.0.0.1:{port}", admin_key))
        writer.create_application(app_name)
        with service_on(port, database_url):
            watch = stack.enter_context(client.watch(app_name, "db", seen))
            assert watch.wait_connected(DEADLINE_S)
        wait_until(lambda: not watch.connected, what="the watch sees the service go")
        writer.set(app_name, "db", {"n": 1})  # before the watch has had any change
        with service_on(port, database_url):
            wait_until(lambda: seen.versions() == [1], what="the change made while it was away")
            watch.stop()


def test_a_watch_follows_its_application_name_to_an_application_made_again(service_url, admin_key, app_name):
    seen = Seen()
    with ConfigClient(service_url, admin_key) as writer, ConfigClient(service_url, admin_key) as client:
        writer.create_application(app_name)
        with client.watch(app_name, "db", seen) as watch:
            assert watch.wait_connected(DEADLINE_S)
            writer.set(app_name, "db", {"pool": 1})
            wait_until(lambda: seen.versions() == [1])
            writer.delete_application(app_name)
            wait_until(lambda: not watch.connected, what="the stream of the deleted application ends")
            again = writer.create_application(app_name)
            writer.set(app_name, "db", {"pool": 2})
            wait_until(lambda: len(seen.changes) == 2)

    made_again = seen.changes[1]
    assert (made_again.event.action, made_again.event.application_id) == ("configuration.created", again.id)
    assert made_again.configuration is not None
    assert (made_again.configuration.application_id, made_again.configuration.config) == (
        again.id,
        {"pool": 2},
    )


def test_a_watch_on_names_typed_decomposed_follows_the_names_the_service_keeps(
    service_url, admin_key, app_name
):
    application = unicodedata.normalize("NFC", f"caf\u00e9-{app_name}")
    seen = Seen()
    with ConfigClient(service_url, admin_key) as writer, ConfigClient(service_url, admin_key) as client:
        writer.create_application(application)
        decomposed = unicodedata.normalize("NFD", application)
        with client.watch(decomposed, unicodedata.normalize("NFD", "r\u00e9sum\u00e9"), seen) as watch:
            assert watch.wait_connected(DEADLINE_S)
            writer.set(application, unicodedata.normalize("NFC", "r\u00e9sum\u00e9"), {"n": 1})
            wait_until(lambda: seen.versions() == [1])

    assert seen.changes[0].configuration is not None
    assert seen.changes[0].configuration.config == {"n": 1}


def test_a_refresh_that_cannot_reach_the_service_is_tried_again_from_the_same_change(
    service_url, admin_key, app_name
):
    seen = Seen()
    with (
        HttpFaults(service_url) as proxy,
        ConfigClient(service_url, admin_key) as writer,
        # A deadline shorter than the Retry-After below: the refresh gives up at its first try.
        ConfigClient(proxy.url, admin_key, retry=RetryPolicy(deadline_s=2.0)) as client,
    ):
        writer.create_application(app_name)
        with client.watch(app_name, "db", seen) as watch:
            assert watch.wait_connected(DEADLINE_S)
            proxy.refuse_next(1, status=503, retry_after="3")  # the refresh's request
            writer.set(app_name, "db", {"n": 1})
            wait_until(lambda: seen.versions() == [1], what="the change, once the refresh went through")
            writer.set(app_name, "db", {"n": 2})
            wait_until(lambda: seen.versions() == [1, 2])

    assert proxy.count(status=503) == 1
    streams = [request for request in proxy.seen if request.path.startswith("/api/v1/events")]
    assert len(streams) == 2  # resumed once, from before the change it could not refresh
    assert "Last-Event-ID" not in streams[0].headers
    # From before the change, which came again: where the service said the first stream began.
    assert int(streams[1].headers["Last-Event-ID"]) < seen.changes[0].event.seq
    assert seen.changes[0].configuration is not None and seen.changes[0].configuration.config == {"n": 1}


def test_a_refresh_the_service_refuses_is_logged_as_an_error_and_the_watch_moves_on(
    service_url, admin_key, app_name, caplog
):
    seen = Seen()
    with (
        HttpFaults(service_url) as proxy,
        ConfigClient(service_url, admin_key) as writer,
        ConfigClient(proxy.url, admin_key) as client,
        caplog.at_level(logging.WARNING, logger="config_service_client"),
    ):
        writer.create_application(app_name)
        with client.watch(app_name, "db", seen) as watch:
            assert watch.wait_connected(DEADLINE_S)
            proxy.refuse_next(1, status=403, retry_after=None)  # the refresh's request
            writer.set(app_name, "db", {"n": 1})
            writer.set(app_name, "db", {"n": 2})
            wait_until(lambda: 2 in seen.versions())
            assert watch.connected

    # Asked again, it would be refused again: the change is passed over, not retried forever.
    assert seen.versions() == [2]
    assert proxy.count(path="/api/v1/events") == 1
    [refused] = [record for record in caplog.records if "could not re-read" in record.getMessage()]
    assert refused.levelno == logging.ERROR
    assert "Forbidden" in refused.getMessage() and "moving past" in refused.getMessage()


# --- the same for asyncio ---------------------------------------------------------------------


class SeenAsync(Seen):
    """As Seen, awaited: the watch awaits a callback that is a coroutine."""

    async def __call__(self, change: Change) -> None:  # type: ignore[override]
        await asyncio.sleep(0)  # it runs as a coroutine, giving the loop a turn
        super().__call__(change)


@pytest.mark.anyio
async def test_an_async_watch_awaits_its_callback_after_the_refresh_in_order(
    service_url, admin_key, app_name, tmp_path
):
    seen = SeenAsync(copy_on_disk(tmp_path, service_url, app_name, "db"))
    async with AsyncConfigClient(service_url, admin_key, cache_dir=tmp_path) as client:
        await client.create_application(app_name)
        async with client.watch(app_name, "db", seen) as watch:
            assert await watch.wait_connected(DEADLINE_S)
            await client.set(app_name, "db", {"pool": 1})
            await client.set(app_name, "cache", {"ttl": 1})
            await client.set(app_name, "db", {"pool": 2})
            await wait_until_async(lambda: len(seen.changes) == 2)

    assert seen.versions() == [1, 2]
    assert {change.event.name for change in seen.changes} == {"db"}
    for change, on_disk in zip(seen.changes, seen.on_disk, strict=True):
        assert change.configuration is not None and on_disk is not None
        assert on_disk["version"] == change.configuration.version >= (change.event.version or 0)
    assert not watch.running


@pytest.mark.anyio
async def test_stop_ends_an_idle_async_watch(service_url, admin_key, app_name):
    async with AsyncConfigClient(service_url, admin_key) as client:
        await client.create_application(app_name)
        watch = AsyncWatch(client, app_name, None, Seen(), read_timeout_s=None)
        assert await watch.wait_connected(DEADLINE_S)

        await asyncio.wait_for(watch.stop(), DEADLINE_S)

        assert not watch.running and not watch.connected


@pytest.mark.anyio
async def test_an_async_watch_resumes_across_a_service_restart_without_missing_or_repeating_a_change(
    database_url, admin_key, app_name, tmp_path
):
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    seen = SeenAsync(copy_on_disk(tmp_path, url, app_name, "db"))
    watched = ExitStack()  # the watched service, started and stopped twice

    def start_watched() -> None:
        watched.enter_context(service_on(port, database_url))

    # Starting and stopping a service blocks: on a thread, so that the watch's task goes on.
    async with AsyncExitStack() as stack:  # closed in reverse: the watch first, then its client
        other = await asyncio.to_thread(
            stack.enter_context, service_process({"DATABASE_URL": database_url, **QUIET})
        )
        stack.push_async_callback(asyncio.to_thread, watched.close)
        writer = await stack.enter_async_context(AsyncConfigClient(other.url, admin_key))
        client = await stack.enter_async_context(AsyncConfigClient(url, admin_key, cache_dir=tmp_path))
        await writer.create_application(app_name)
        await asyncio.to_thread(start_watched)
        watch = await stack.enter_async_context(client.watch(app_name, "db", seen))
        assert await watch.wait_connected(DEADLINE_S)
        await writer.set(app_name, "db", {"n": 1})
        await writer.set(app_name, "db", {"n": 2})
        await wait_until_async(lambda: seen.versions() == [1, 2])
        await asyncio.to_thread(watched.close)

        await wait_until_async(lambda: not watch.connected, what="the watch sees the service go")
        await writer.set(app_name, "db", {"n": 3})
        await writer.set(app_name, "db", {"n": 4})
        assert seen.versions() == [1, 2]

        await asyncio.to_thread(start_watched)
        await wait_until_async(lambda: seen.versions()[-1] == 4, what="the changes made while it was away")
        await writer.set(app_name, "db", {"n": 5})
        await wait_until_async(lambda: seen.versions()[-1] == 5, what="a change after the resume")
        await watch.stop()

    assert seen.versions() == [1, 2, 3, 4, 5]
    assert seen.seqs() == sorted(set(seen.seqs()))
    latest = seen.changes[-1].configuration
    assert latest is not None and (latest.version, latest.config) == (5, {"n": 5})
    assert seen.on_disk[-1] is not None and seen.on_disk[-1]["config"] == {"n": 5}


@pytest.mark.anyio
async def test_an_async_callback_that_stops_its_own_watch_ends_it(service_url, admin_key, app_name):
    calls: list[Change] = []

    async def stop_at_the_first(change: Change) -> None:
        calls.append(change)
        await watch.stop()

    async with AsyncConfigClient(service_url, admin_key) as client:
        await client.create_application(app_name)
        # No read timeout: only the stop can end the read of an idle stream.
        watch = AsyncWatch(client, app_name, None, stop_at_the_first, read_timeout_s=None)
        try:
            assert await watch.wait_connected(DEADLINE_S)
            await client.set(app_name, "db", {"n": 1})
            await wait_until_async(lambda: not watch.running, what="the watch ends, stopped by its callback")
        finally:
            await watch.stop()

    assert [change.event.version for change in calls] == [1]
    assert watch.last_seq == calls[0].event.seq
