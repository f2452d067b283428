"""Retries and last-known-good copies, through tests/http_faults.py: a proxy in front of the
real service that drops connections and answers 503 or 429 when told, and counts every try."""

import logging
import os
import stat
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from config_service_client.client import ConfigClient
from config_service_client.errors import (
    BadRequest,
    Forbidden,
    NotFound,
    ServerError,
    ServiceUnreachable,
    TooManyRequests,
)
from config_service_client.retry import RetryPolicy
from config_service_client.store import LastKnownGood
from tests.http_faults import HttpFaults
from tests.server import api_client, free_port

# Quick backoff: these tests count tries, and need not wait for them.
QUICK = RetryPolicy(deadline_s=30, first_backoff_s=0.01, max_backoff_s=0.05)
# For a service that is down: give up soon.
IMPATIENT = RetryPolicy(deadline_s=0.5, first_backoff_s=0.01, max_backoff_s=0.05)


@pytest.fixture
def faults(service_url: str) -> Iterator[HttpFaults]:
    with HttpFaults(service_url) as proxy:
        yield proxy


@pytest.fixture
def client(faults: HttpFaults, admin_key: str) -> Iterator[ConfigClient]:
    with ConfigClient(faults.url, admin_key, retry=QUICK) as made:
        yield made


@pytest.fixture
def direct(service_url: str, admin_key: str) -> Iterator[ConfigClient]:
    """A client that goes around the proxy, to set things up and look."""
    with ConfigClient(service_url, admin_key) as made:
        yield made


@pytest.fixture
def configuration_path(direct: ConfigClient, app_name: str) -> str:
    direct.create_application(app_name)
    return f"/api/v1/configurations/{direct.set(app_name, 'database', {'host': 'db'}).id}"


def test_a_read_whose_connections_drop_is_tried_again(
    client: ConfigClient, faults: HttpFaults, app_name: str, configuration_path: str
) -> None:
    client.application_id(app_name)
    client.get(app_name, "database")
    faults.drop_next(2)

    assert client.get(app_name, "database") == {"host": "db"}
    tries = [seen.outcome for seen in faults.seen if seen.path == configuration_path]
    assert tries == ["forwarded", "dropped", "dropped", "forwarded"]


def test_a_write_whose_connection_drops_is_not_tried_again(
    client: ConfigClient, faults: HttpFaults, direct: ConfigClient, app_name: str
) -> None:
    faults.drop_next(1)

    with pytest.raises(ServiceUnreachable) as raised:
        client.create_application(app_name)

    assert faults.count(method="POST") == 1  # dropped before the service saw it, but who can tell
    assert "a write may have reached the service" in str(raised.value)
    assert app_name not in [app.name for app in direct.list_applications()]


def test_a_503_is_tried_again_after_its_retry_after(
    client: ConfigClient, faults: HttpFaults, app_name: str, configuration_path: str
) -> None:
    client.get(app_name, "database")
    faults.refuse_next(1, status=503, retry_after="1")

    started = time.monotonic()
    assert client.get(app_name, "database") == {"host": "db"}
    waited = time.monotonic() - started

    assert waited >= 1.0  # the backoff alone is at most 0.05 s
    assert faults.count(path=configuration_path, outcome="refused", status=503) == 1
    assert faults.count(path=configuration_path, outcome="forwarded") == 2


def test_a_write_refused_with_503_or_429_is_tried_again(
    client: ConfigClient, faults: HttpFaults, direct: ConfigClient, app_name: str
) -> None:
    faults.refuse_next(1, status=503, retry_after="0")
    faults.refuse_next(1, status=429, retry_after="0")

    created = client.create_application(app_name)

    assert [(seen.method, seen.status) for seen in faults.seen] == [
        ("POST", 503),
        ("POST", 429),
        ("POST", 201),
    ]
    assert [app.id for app in direct.list_applications() if app.name == app_name] == [created.id]


def test_a_429_on_a_read_is_tried_again(
    client: ConfigClient, faults: HttpFaults, app_name: str, configuration_path: str
) -> None:
    client.get(app_name, "database")
    faults.refuse_next(2, status=429, retry_after="0")

    assert client.get(app_name, "database") == {"host": "db"}
    assert faults.count(path=configuration_path, status=429) == 2


def test_a_500_is_tried_again_for_a_read_but_not_for_a_write(
    client: ConfigClient, faults: HttpFaults, app_name: str, configuration_path: str
) -> None:
    client.get(app_name, "database")
    faults.refuse_next(1, status=500, retry_after=None)
    assert client.get(app_name, "database") == {"host": "db"}

    faults.refuse_next(1, status=500, retry_after=None)
    with pytest.raises(ServerError) as raised:
        client.set(app_name, "database", {"host": "replica"})

    assert raised.value.status == 500
    assert faults.count(method="PUT") == 1


def test_a_4xx_is_never_tried_again(client: ConfigClient, faults: HttpFaults, app_name: str) -> None:
    client.create_application(app_name)
    client.set(app_name, "database", {"a": 1})
    before = len(faults.seen)

    with pytest.raises(NotFound):
        client.get_configuration(app_name, "database", version=7)
    with pytest.raises(BadRequest):
        client.rollback(app_name, "database", 0)

    assert [seen.status for seen in faults.seen[before:]] == [404, 400]


def test_the_deadline_ends_the_retries_with_service_unreachable(
    faults: HttpFaults, admin_key: str, app_name: str
) -> None:
    faults.refuse_next(10_000, status=503, retry_after="0")
    policy = RetryPolicy(deadline_s=1.0, first_backoff_s=0.01, max_backoff_s=0.1)

    started = time.monotonic()
    with (
        ConfigClient(faults.url, admin_key, retry=policy) as client,
        pytest.raises(ServiceUnreachable) as raised,
    ):
        client.list_applications()
    elapsed = time.monotonic() - started

    last = raised.value.last_error
    # The last try may be one the deadline cut short, on a busy machine.
    assert (isinstance(last, ServerError) and last.status == 503) or isinstance(last, httpx.TimeoutException)
    assert faults.count(outcome="refused") > 2
    assert 0.5 < elapsed < 15  # about the deadline: never the default 30 s, nor forever
    faults.clear()


def test_a_429_that_asks_for_longer_than_the_deadline_is_given_up_at_once(
    faults: HttpFaults, admin_key: str
) -> None:
    faults.refuse_next(1, status=429, retry_after="3600")

    with (
        ConfigClient(faults.url, admin_key, retry=QUICK) as client,
        pytest.raises(TooManyRequests) as raised,  # the key is too busy; the service is there
    ):
        client.list_applications()

    assert raised.value.retry_after == "3600"
    assert faults.count() == 1


def test_a_429_retried_until_it_asks_for_too_long_is_too_many_requests_not_unreachable(
    client: ConfigClient, faults: HttpFaults, app_name: str, configuration_path: str
) -> None:
    client.get(app_name, "database")
    faults.refuse_next(1, status=429, retry_after="0")
    faults.refuse_next(1, status=429, retry_after="3600")

    with pytest.raises(TooManyRequests) as raised:
        client.get(app_name, "database")

    assert raised.value.retry_after == "3600"
    assert faults.count(path=configuration_path, status=429) == 2


def test_after_a_429_a_write_is_still_retried(
    client: ConfigClient, faults: HttpFaults, app_name: str, configuration_path: str
) -> None:
    client.get(app_name, "database")
    faults.refuse_next(1, status=429, retry_after="3600")
    with pytest.raises(TooManyRequests):
        client.list_applications()

    faults.refuse_next(1, status=503, retry_after="0")
    written = client.set(app_name, "database", {"host": "replica"})

    assert written.version == 2
    assert [seen.status for seen in faults.seen if seen.method == "PUT"] == [503, 200]


def test_after_an_outage_only_reads_with_a_copy_are_tried_once(
    faults: HttpFaults, admin_key: str, direct: ConfigClient, app_name: str, configuration_path: str
) -> None:
    direct.set(app_name, "cache", {"ttl": 30})
    policy = RetryPolicy(deadline_s=2, first_backoff_s=0.01, max_backoff_s=0.05)
    with ConfigClient(faults.url, admin_key, retry=policy) as client:
        client.get(app_name, "database")  # ids known, a copy in memory

        def outage() -> None:
            faults.drop_next(10_000)
            with pytest.raises(ServiceUnreachable):
                client.get(app_name, "never-made")  # nothing to fall back to: retried to the deadline
            faults.clear()
            assert client._core.reachability.down

        outage()
        faults.drop_next(1)
        assert client.get(app_name, "cache") == {"ttl": 30}  # no copy: retried
        outage()
        faults.refuse_next(1, status=503, retry_after="0")
        written = client.set(app_name, "database", {"host": "replica"})  # a write: retried
        outage()
        faults.drop_next(1)
        served = client.get_configuration(app_name, "database")  # a copy: tried once, served
        stale = client.is_stale

    assert [seen.status for seen in faults.seen if seen.method == "PUT"] == [503, 200]
    assert (served.version, served.config, stale) == (written.version, {"host": "replica"}, True)
    on_it = [(seen.method, seen.outcome) for seen in faults.seen if seen.path == configuration_path]
    assert on_it[-2:] == [("PUT", "forwarded"), ("GET", "dropped")]  # the read with a copy: one try


def test_nothing_listening_is_service_unreachable(admin_key: str) -> None:
    url = f"http://127.0.0.1:{free_port()}"

    with ConfigClient(url, admin_key, retry=IMPATIENT) as client, pytest.raises(ServiceUnreachable) as raised:
        client.get("payments", "database")

    assert type(raised.value.last_error).__name__ == "ConnectError"
    assert url in str(raised.value)
    assert admin_key not in str(raised.value)


# --- last-known-good ----------------------------------------------------------------------


def warnings_in(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [record.getMessage() for record in caplog.records if record.levelno == logging.WARNING]


def test_with_the_service_down_at_start_the_last_known_good_copy_is_served_stale(
    service_url: str,
    admin_key: str,
    direct: ConfigClient,
    app_name: str,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    direct.create_application(app_name)
    direct.set(app_name, "database", {"host": "db", "password": "kept"})
    direct.set(app_name, "cache", {"ttl": 30})
    cache_dir = tmp_path / "last-known-good"
    proxy = HttpFaults(service_url)
    with ConfigClient(proxy.url, admin_key, cache_dir=cache_dir) as earlier:
        assert earlier.get(app_name, "database") == {"host": "db", "password": "kept"}
        assert earlier.get(app_name, "cache") == {"ttl": 30}
        assert not earlier.is_stale
    proxy.close()  # the service is down: nothing answers at its address

    with (
        caplog.at_level(logging.WARNING),
        ConfigClient(proxy.url, admin_key, cache_dir=cache_dir, retry=IMPATIENT) as starting,
    ):
        first = starting.get_configuration(app_name, "database")
        again = starting.get(app_name, "database")
        other = starting.get(app_name, "cache")
        stale = starting.is_stale
        with pytest.raises(ServiceUnreachable):
            starting.get(app_name, "never-read")

    assert (first.config, first.version) == ({"host": "db", "password": "kept"}, 1)
    assert again == first.config and other == {"ttl": 30}
    assert stale
    lkg_warnings = [message for message in warnings_in(caplog) if "last-known-good" in message]
    assert len(lkg_warnings) == 2  # one per configuration, however often it is read
    assert f"{app_name}/database" in lkg_warnings[0] and f"{app_name}/cache" in lkg_warnings[1]
    assert all("kept" not in message and admin_key not in message for message in warnings_in(caplog))
    files = sorted(cache_dir.iterdir())
    assert len(files) == 2
    if os.name == "posix":
        assert {stat.S_IMODE(path.stat().st_mode) for path in files} == {0o600}
        assert stat.S_IMODE(cache_dir.stat().st_mode) == 0o700


def test_once_the_service_is_back_a_read_is_fresh_again(
    service_url: str, admin_key: str, direct: ConfigClient, app_name: str, tmp_path: Path
) -> None:
    direct.create_application(app_name)
    direct.set(app_name, "database", {"host": "db"})
    port = free_port()
    with (
        HttpFaults(service_url, port=port) as proxy,
        ConfigClient(proxy.url, admin_key, cache_dir=tmp_path) as earlier,
    ):
        earlier.get(app_name, "database")
    direct.set(app_name, "database", {"host": "replica"})  # while "down": the copy is behind

    with ConfigClient(f"http://127.0.0.1:{port}", admin_key, cache_dir=tmp_path, retry=IMPATIENT) as client:
        assert client.get(app_name, "database") == {"host": "db"}
        assert client.is_stale
        with HttpFaults(service_url, port=port):
            assert client.get(app_name, "database") == {"host": "replica"}
            assert not client.is_stale


def test_a_client_that_read_before_serves_its_copy_in_memory_while_the_service_is_down(
    service_url: str, admin_key: str, direct: ConfigClient, app_name: str, caplog: pytest.LogCaptureFixture
) -> None:
    direct.create_application(app_name)
    direct.set(app_name, "database", {"host": "db"})
    proxy = HttpFaults(service_url)
    with ConfigClient(proxy.url, admin_key, retry=IMPATIENT) as client:  # no cache_dir: memory only
        assert client.get(app_name, "database") == {"host": "db"}
        proxy.close()
        with caplog.at_level(logging.WARNING):
            assert client.get(app_name, "database") == {"host": "db"}
        assert client.is_stale
    assert len([m for m in warnings_in(caplog) if "last-known-good" in m]) == 1


def test_every_fresh_read_renews_the_file(
    service_url: str, admin_key: str, direct: ConfigClient, app_name: str, tmp_path: Path
) -> None:
    direct.create_application(app_name)
    direct.set(app_name, "database", {"host": "db"})
    with ConfigClient(service_url, admin_key, cache_dir=tmp_path) as client:
        client.get(app_name, "database")
        direct.set(app_name, "database", {"host": "replica"})
        client.get(app_name, "database")
        assert client._core.store is not None
        saved = client._core.store.load(app_name, "database")

    assert saved is not None and (saved["config"], saved["version"]) == ({"host": "replica"}, 2)


def test_while_the_service_stays_down_each_further_read_is_tried_once(
    service_url: str, admin_key: str, direct: ConfigClient, app_name: str, tmp_path: Path
) -> None:
    direct.create_application(app_name)
    for name in ("database", "cache", "flags"):
        direct.set(app_name, name, {"name": name})
    with HttpFaults(service_url) as faults:
        with ConfigClient(faults.url, admin_key, cache_dir=tmp_path) as earlier:
            for name in ("database", "cache", "flags"):
                earlier.get(app_name, name)
        faults.drop_next(10_000)  # down, as a host that cuts every connection

        with ConfigClient(faults.url, admin_key, cache_dir=tmp_path, retry=IMPATIENT) as starting:
            before = faults.count(outcome="dropped")
            starting.get(app_name, "database")
            first = faults.count(outcome="dropped") - before
            starting.get(app_name, "cache")
            starting.get(app_name, "flags")
            further = faults.count(outcome="dropped") - before - first
            assert starting.is_stale
            faults.clear()  # back
            assert starting.get(app_name, "flags") == {"name": "flags"}
            assert not starting.is_stale

    assert first > 2  # retried for the whole deadline
    assert further == 2  # then once each: one deadline for a start-up, not one per configuration


def test_a_configuration_gone_leaves_no_copy_to_serve(
    service_url: str, admin_key: str, direct: ConfigClient, app_name: str, tmp_path: Path
) -> None:
    direct.create_application(app_name)
    for name in ("refreshed", "read", "deleted"):
        direct.set(app_name, name, {"name": name})
    with ConfigClient(service_url, admin_key, cache_dir=tmp_path) as client:
        for name in ("refreshed", "read", "deleted"):
            client.get(app_name, name)
            client.get_configuration(app_name, name, reveal=True)
        assert len(list(tmp_path.iterdir())) == 6

        direct.delete_configuration(app_name, "refreshed")
        assert client.refresh(app_name, "refreshed") is None  # as a watch learns it
        direct.delete_configuration(app_name, "read")
        with pytest.raises(NotFound):
            client.get(app_name, "read")  # as a read does
        client.delete_configuration(app_name, "deleted")  # deleted by this client

        assert list(tmp_path.iterdir()) == []
    down = f"http://127.0.0.1:{free_port()}"
    with (
        ConfigClient(down, admin_key, cache_dir=tmp_path, retry=IMPATIENT) as starting,
        pytest.raises(ServiceUnreachable),
    ):
        starting.get(app_name, "read")


def test_a_key_refused_the_secrets_leaves_no_plaintext_copy(
    service_url: str, admin_key: str, direct: ConfigClient, app_name: str, tmp_path: Path
) -> None:
    direct.create_application(app_name)
    direct.set(app_name, "database", {"user": "app"})
    with api_client(service_url) as admin:
        made = admin.post("/api/v1/api-keys", json={"name": f"{app_name}-reader", "scopes": ["read"]})
        made.raise_for_status()
        reader_key = made.json()["key"]
    store = LastKnownGood(tmp_path, service_url)

    with ConfigClient(service_url, admin_key, cache_dir=tmp_path) as client:
        client.get(app_name, "database")
        client.get_configuration(app_name, "database", reveal=True)
        assert store.load(app_name, "database", revealed=True) is not None
        with ConfigClient(service_url, reader_key, cache_dir=tmp_path) as reader, pytest.raises(Forbidden):
            reader.get_configuration(app_name, "database", reveal=True)  # sharing the directory
        refused_by_a_read = store.load(app_name, "database", revealed=True)

        client.get_configuration(app_name, "database", reveal=True)
        # The key it runs with is replaced by one without the `secrets` scope.
        client._http.headers["Authorization"] = f"Bearer {reader_key}"
        client.refresh(app_name, "database")  # as a watch does, after every change
        refused_by_a_refresh = store.load(app_name, "database", revealed=True)

    assert refused_by_a_read is None
    assert refused_by_a_refresh is None
    saved = store.load(app_name, "database")
    assert saved is not None and saved["config"] == {"user": "app"}  # the masked copy stays
