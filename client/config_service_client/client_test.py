"""ConfigClient against the real service (over HTTP, on PostgreSQL): reads by name, conditional
reads, writes with If-Match, history, typed errors, and the API key kept out of sight.
Retries and last-known-good copies: client_retries_test.py."""

import logging
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from config_service_client.client import ConfigClient
from config_service_client.errors import (
    BadRequest,
    Conflict,
    Forbidden,
    NotFound,
    PreconditionFailed,
    Unauthorized,
)
from config_service_client.models import MASK, ChangeEvent
from config_service_client.retry import RetryPolicy
from tests.http_faults import HttpFaults
from tests.server import api_client
from tests.waiting import DEADLINE_S, wait_until


@pytest.fixture
def client(service_url: str, admin_key: str) -> Iterator[ConfigClient]:
    with ConfigClient(service_url, admin_key) as made:
        yield made


@pytest.fixture
def faults(service_url: str) -> Iterator[HttpFaults]:
    with HttpFaults(service_url) as proxy:
        yield proxy


@pytest.fixture
def proxied(faults: HttpFaults, admin_key: str) -> Iterator[ConfigClient]:
    """A client whose every request the proxy sees (and counts)."""
    with ConfigClient(faults.url, admin_key) as made:
        yield made


def configuration_path(client: ConfigClient, application: str, name: str) -> str:
    return f"/api/v1/configurations/{client.get_configuration(application, name).id}"


def test_reads_by_name(client: ConfigClient, app_name: str) -> None:
    client.create_application(app_name, "payments service")
    written = client.set(app_name, "database", {"host": "db", "pool": {"size": 5}}, comments="first")

    assert client.get(app_name, "database") == {"host": "db", "pool": {"size": 5}}
    read = client.get_configuration(app_name, "database")
    assert (read.id, read.name, read.version, read.comments) == (written.id, "database", 1, "first")
    assert read.application_id == client.application_id(app_name)
    assert app_name in [app.name for app in client.list_applications()]
    assert [c.name for c in client.list_configurations(app_name)] == ["database"]


def test_a_second_read_is_a_304_answered_from_the_copy_in_memory(
    proxied: ConfigClient, faults: HttpFaults, client: ConfigClient, app_name: str
) -> None:
    client.create_application(app_name)
    client.set(app_name, "database", {"host": "db"})
    path = configuration_path(client, app_name, "database")

    first = proxied.get(app_name, "database")
    second = proxied.get(app_name, "database")
    client.set(app_name, "database", {"host": "replica"})
    third = proxied.get(app_name, "database")

    assert first == second == {"host": "db"}
    assert third == {"host": "replica"}
    reads = [seen for seen in faults.seen if seen.path == path]
    assert [seen.status for seen in reads] == [200, 304, 200]
    assert [seen.headers.get("If-None-Match") for seen in reads] == [None, '"1"', '"1"']


def test_a_returned_config_is_the_callers_to_change(client: ConfigClient, app_name: str) -> None:
    client.create_application(app_name)
    client.set(app_name, "database", {"pool": {"size": 5}})

    mine = client.get(app_name, "database")
    mine["pool"]["size"] = 500

    assert client.get(app_name, "database") == {"pool": {"size": 5}}  # a 304: from the copy held


def test_a_name_deleted_and_made_again_is_resolved_again(
    client: ConfigClient, app_name: str, admin_key: str
) -> None:
    client.create_application(app_name)
    client.set(app_name, "database", {"generation": 1})
    assert client.get(app_name, "database") == {"generation": 1}

    with ConfigClient(client.base_url, admin_key) as other:
        other.delete_application(app_name)
        other.create_application(app_name)
        other.set(app_name, "database", {"generation": 2})  # version 1 again, as the one held

    assert client.get(app_name, "database") == {"generation": 2}
    assert client.get_configuration(app_name, "database").version == 1


def test_writes_create_then_update_with_if_match(client: ConfigClient, app_name: str) -> None:
    client.create_application(app_name)

    created = client.set(app_name, "flags", {"beta": False})
    updated = client.set(app_name, "flags", {"beta": True}, if_match=created.version)
    unconditional = client.set(app_name, "flags", {"beta": True, "gamma": 1})

    assert (created.version, updated.version, unconditional.version) == (1, 2, 3)
    assert client.get(app_name, "flags") == {"beta": True, "gamma": 1}
    with pytest.raises(NotFound):
        client.set(app_name, "absent", {"a": 1}, create=False)
    with pytest.raises(NotFound):
        client.set(app_name, "absent", {"a": 1}, if_match=1)  # a version was expected: nothing to create
    assert [c.name for c in client.list_configurations(app_name)] == ["flags"]


def test_a_stale_if_match_is_a_412_naming_the_current_version(client: ConfigClient, app_name: str) -> None:
    client.create_application(app_name)
    client.set(app_name, "flags", {"beta": False})
    client.set(app_name, "flags", {"beta": True})

    with pytest.raises(PreconditionFailed) as raised:
        client.set(app_name, "flags", {"beta": None}, if_match=1)
    with pytest.raises(PreconditionFailed):
        client.delete_configuration(app_name, "flags", if_match=1)

    assert raised.value.status == 412
    assert raised.value.current_version == 2
    assert raised.value.problem["current_version"] == 2
    assert client.get(app_name, "flags") == {"beta": True}


def test_not_found_for_what_does_not_exist(client: ConfigClient, app_name: str) -> None:
    with pytest.raises(NotFound) as no_application:
        client.get(app_name, "database")
    client.create_application(app_name)
    with pytest.raises(NotFound) as no_configuration:
        client.get(app_name, "database")
    client.set(app_name, "database", {"a": 1})
    with pytest.raises(NotFound) as no_version:
        client.get_configuration(app_name, "database", version=9)

    assert app_name in str(no_application.value)
    assert no_application.value.problem["status"] == 404
    assert "'database'" in str(no_configuration.value)
    assert (
        no_version.value.problem_type == "urn:config-service:problem:revision-not-found"
    )  # the service's own


def test_a_duplicate_is_a_409_and_an_invalid_field_a_400_naming_it(
    client: ConfigClient, app_name: str
) -> None:
    client.create_application(app_name)

    with pytest.raises(Conflict) as duplicate:
        client.create_application(app_name)
    with pytest.raises(BadRequest) as invalid:
        client.create_application("x" * 300)

    assert duplicate.value.status == 409 and app_name in (duplicate.value.detail or "")
    assert invalid.value.status == 400
    assert invalid.value.fields == ["body.name"]
    assert invalid.value.problem["errors"][0]["type"] == "string_too_long"


def test_a_wrong_key_is_a_401_that_never_shows_the_key(service_url: str) -> None:
    wrong = "cs_a-key-nobody-issued-0123456789"
    with ConfigClient(service_url, wrong) as client:
        with pytest.raises(Unauthorized) as raised:
            client.list_applications()

        assert wrong not in str(raised.value)
        assert wrong not in repr(raised.value.problem)
        assert wrong not in repr(client)
        assert repr(client) == f"ConfigClient(base_url={service_url!r})"


def test_url_and_key_come_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, service_url: str, admin_key: str, app_name: str
) -> None:
    monkeypatch.setenv("CONFIG_SERVICE_URL", service_url)
    monkeypatch.setenv("CONFIG_SERVICE_API_KEY", admin_key)

    with ConfigClient() as client:
        client.create_application(app_name)
        assert client.application_id(app_name)

    monkeypatch.delenv("CONFIG_SERVICE_URL")
    with pytest.raises(ValueError, match="CONFIG_SERVICE_URL"):
        ConfigClient()
    with pytest.raises(ValueError, match="http"):
        ConfigClient("ftp://config")


def test_history_newest_first_across_pages(
    proxied: ConfigClient, faults: HttpFaults, client: ConfigClient, app_name: str
) -> None:
    client.create_application(app_name)
    for size in range(1, 6):
        client.set(app_name, "pool", {"size": size})
    proxied._core.page_size = 2  # five versions: three pages, linked

    history = proxied.history(app_name, "pool")
    newest = proxied.history(app_name, "pool", limit=3)

    assert [revision.version for revision in history] == [5, 4, 3, 2, 1]
    assert [revision.config["size"] for revision in history] == [5, 4, 3, 2, 1]
    assert {revision.change for revision in history} == {"created", "updated"}
    assert [revision.version for revision in newest] == [5, 4, 3]
    assert faults.count(path=f"/api/v1/configurations/{history[0].configuration_id}/versions") == 3 + 2


def test_a_past_version_diff_and_rollback(client: ConfigClient, app_name: str) -> None:
    client.create_application(app_name)
    first = client.set(app_name, "pool", {"size": 1, "name": "a"})
    client.set(app_name, "pool", {"size": 2, "name": "a"})

    old = client.get_configuration(app_name, "pool", version=1)
    diff = client.diff(app_name, "pool", 1)
    rolled = client.rollback(app_name, "pool", 1, comment="size 2 was too big")

    assert (old.version, old.config, old.id, old.created_at) == (
        1,
        {"size": 1, "name": "a"},
        first.id,
        first.created_at,
    )
    assert (diff.from_, diff.to) == (1, 2)
    assert diff.patch == [{"op": "replace", "path": "/size", "value": 2}]
    assert (rolled.version, rolled.config) == (3, {"size": 1, "name": "a"})
    assert client.get(app_name, "pool") == {"size": 1, "name": "a"}
    latest = client.history(app_name, "pool", limit=1)[0]
    assert (latest.change, latest.rolled_back_from, latest.note) == ("rolled_back", 1, "size 2 was too big")
    assert client.diff(app_name, "pool", 2, 3).patch == [{"op": "replace", "path": "/size", "value": 1}]


def test_rollback_and_deleting_an_application_take_if_match(
    proxied: ConfigClient, faults: HttpFaults, client: ConfigClient, app_name: str
) -> None:
    application = client.create_application(app_name)
    client.set(app_name, "pool", {"size": 1})
    client.set(app_name, "pool", {"size": 2})
    with api_client(client.base_url) as direct:  # someone changes the application meanwhile
        direct.put(f"/api/v1/applications/{application.id}", json={"comments": "moved"}).raise_for_status()

    with pytest.raises(PreconditionFailed) as stale_rollback:
        proxied.rollback(app_name, "pool", 1, if_match=1)
    rolled = proxied.rollback(app_name, "pool", 1, if_match=2)
    with pytest.raises(PreconditionFailed):
        proxied.delete_application(app_name, if_match=application.version)
    assert client.get(app_name, "pool") == {"size": 1}  # neither stale write was done
    proxied.delete_application(app_name, if_match=application.version + 1)

    assert stale_rollback.value.current_version == 2
    assert (rolled.version, rolled.config) == (3, {"size": 1})
    assert app_name not in [app.name for app in client.list_applications()]
    sent = [(seen.method, seen.headers.get("If-Match")) for seen in faults.seen if seen.method != "GET"]
    assert sent == [
        ("POST", '"1"'),
        ("POST", '"2"'),
        ("DELETE", f'"{application.version}"'),
        ("DELETE", f'"{application.version + 1}"'),
    ]


def test_deleting(client: ConfigClient, app_name: str) -> None:
    client.create_application(app_name)
    client.set(app_name, "a", {"x": 1})
    client.set(app_name, "b", {"x": 2})

    client.delete_configuration(app_name, "a", if_match=1)
    assert [c.name for c in client.list_configurations(app_name)] == ["b"]
    with pytest.raises(NotFound):
        client.get(app_name, "a")

    client.delete_application(app_name)
    assert app_name not in [app.name for app in client.list_applications()]
    with pytest.raises(NotFound):
        client.get(app_name, "b")


def test_refresh_follows_the_current_version_and_says_when_it_is_gone(
    client: ConfigClient, app_name: str
) -> None:
    client.create_application(app_name)
    client.set(app_name, "database", {"host": "db"})
    with api_client(client.base_url) as direct:
        path = f"/api/v1/configurations/{client.get_configuration(app_name, 'database').id}"
        direct.put(path, json={"config": {"host": "replica"}})

        refreshed = client.refresh(app_name, "database")
        assert refreshed is not None and refreshed.config == {"host": "replica"}
        assert client.get(app_name, "database") == {"host": "replica"}

        direct.delete(path)
    assert client.refresh(app_name, "database") is None


SECRET_SCHEMA = {
    "type": "object",
    "properties": {"user": {"type": "string"}, "password": {"type": "string", "writeOnly": True}},
}


def test_secrets_are_masked_unless_revealed(client: ConfigClient, app_name: str) -> None:
    with api_client(client.base_url) as direct:
        direct.post(
            "/api/v1/schemas", json={"name": f"{app_name}-db", "schema": SECRET_SCHEMA}
        ).raise_for_status()
        app = client.create_application(app_name)
        direct.post(
            "/api/v1/configurations",
            json={
                "application_id": app.id,
                "name": "database",
                "config": {"user": "app", "password": "s3cret"},
                "schema": {"name": f"{app_name}-db"},
            },
        ).raise_for_status()

    masked = client.get_configuration(app_name, "database")
    revealed = client.get_configuration(app_name, "database", reveal=True)

    assert masked.config == {"user": "app", "password": MASK}
    assert revealed.config == {"user": "app", "password": "s3cret"}
    assert masked.schema_ is not None and masked.schema_.name == f"{app_name}-db"
    assert client.get(app_name, "database") == masked.config  # the copies are kept apart


def test_reveal_needs_the_secrets_scope(client: ConfigClient, app_name: str, service_url: str) -> None:
    client.create_application(app_name)
    client.set(app_name, "database", {"user": "app"})
    with api_client(service_url) as direct:
        made = direct.post("/api/v1/api-keys", json={"name": f"{app_name}-reader", "scopes": ["read"]})
        made.raise_for_status()
        reader_key = made.json()["key"]

    with ConfigClient(service_url, reader_key) as reader:
        assert reader.get(app_name, "database") == {"user": "app"}
        with pytest.raises(Forbidden):
            reader.get_configuration(app_name, "database", reveal=True)


def test_events_replay_from_a_seq(client: ConfigClient, app_name: str) -> None:
    client.create_application(app_name)
    client.set(app_name, "database", {"v": 1})
    client.set(app_name, "database", {"v": 2})

    events: list[ChangeEvent] = []
    stream = client.events(app_name, after=0)
    for event in stream:
        events.append(event)
        if event.action == "configuration.updated":
            break
    stream.close()

    configuration = [event for event in events if event.entity_type == "configuration"]
    assert [(e.action, e.name, e.version) for e in configuration] == [
        ("configuration.created", "database", 1),
        ("configuration.updated", "database", 2),
    ]
    assert [e.seq for e in events] == sorted(e.seq for e in events)


def test_watch_refreshes_the_copy_before_the_callback(
    client: ConfigClient, app_name: str, admin_key: str
) -> None:
    client.create_application(app_name)
    client.set(app_name, "database", {"host": "db"})
    seen: list[tuple[Any, dict[str, Any]]] = []
    called = threading.Event()

    def changed(change: Any) -> None:
        seen.append((change.configuration.config, client._core._copies[(app_name, "database", False)].body))
        called.set()

    watch = client.watch(app_name, "database", changed)
    try:
        assert watch.wait_connected(DEADLINE_S)
        with ConfigClient(client.base_url, admin_key) as other:
            other.set(app_name, "database", {"host": "replica"})
        wait_until(called.is_set, what="the watch's callback")
    finally:
        watch.stop()

    assert seen == [({"host": "replica"}, {**seen[0][1], "config": {"host": "replica"}})]


def test_the_key_never_reaches_the_log(
    service_url: str, admin_key: str, app_name: str, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG), ConfigClient(service_url, admin_key) as client:
        client.create_application(app_name)
        client.set(app_name, "database", {"a": 1})
        client.get(app_name, "database")
        with (
            HttpFaults(service_url) as faults,
            ConfigClient(faults.url, admin_key, retry=RetryPolicy(first_backoff_s=0.001)) as retrying,
        ):
            faults.drop_next(1)
            faults.refuse_next(1, retry_after="0")
            assert retrying.get(app_name, "database") == {"a": 1}

    assert any("Retrying" in record.getMessage() for record in caplog.records)  # it did log
    assert all(admin_key not in record.getMessage() for record in caplog.records)


def test_a_transport_of_ones_own_is_used(service_url: str, admin_key: str, app_name: str) -> None:
    statuses: list[int] = []

    def count(response: httpx.Response) -> None:
        statuses.append(response.status_code)

    transport = httpx.HTTPTransport(retries=0)
    with ConfigClient(service_url, admin_key, transport=transport) as client:
        client._http.event_hooks["response"].append(count)
        client.create_application(app_name)

    assert statuses == [201]


def test_a_create_that_loses_the_race_updates_what_the_other_made(
    client: ConfigClient, app_name: str, admin_key: str
) -> None:
    client.create_application(app_name)
    application_id = client.application_id(app_name)
    other = ConfigClient(client.base_url, admin_key)

    def create_first(request: httpx.Request) -> None:
        if request.method == "POST" and request.url.path == "/api/v1/configurations":
            other.set(app_name, "flags", {"by": "the other"})  # commits just before this one arrives

    client._http.event_hooks["request"].append(create_first)
    try:
        written = client.set(app_name, "flags", {"by": "me"})
    finally:
        client._http.event_hooks["request"].remove(create_first)
        other.close()

    assert (written.version, written.config, written.application_id) == (2, {"by": "me"}, application_id)
    assert [revision.config for revision in client.history(app_name, "flags")] == [
        {"by": "me"},
        {"by": "the other"},
    ]


def test_a_rollback_to_another_name_follows_the_rename(client: ConfigClient, app_name: str) -> None:
    client.create_application(app_name)
    client.set(app_name, "database", {"v": 1})
    with api_client(client.base_url) as direct:
        path = configuration_path(client, app_name, "database")
        direct.put(path, json={"name": "db", "config": {"v": 2}}).raise_for_status()

    rolled = client.rollback(app_name, "db", 1)

    assert (rolled.name, rolled.config, rolled.version) == ("database", {"v": 1}, 3)
    assert client.get(app_name, "database") == {"v": 1}
    with pytest.raises(NotFound):
        client.get(app_name, "db")


def test_refresh_renews_a_revealed_copy_too(
    proxied: ConfigClient, faults: HttpFaults, client: ConfigClient, app_name: str
) -> None:
    client.create_application(app_name)
    client.set(app_name, "database", {"host": "db"})
    proxied.get_configuration(app_name, "database", reveal=True)
    client.set(app_name, "database", {"host": "replica"})

    proxied.refresh(app_name, "database")
    revealed = proxied.get_configuration(app_name, "database", reveal=True)

    assert revealed.config == {"host": "replica"}
    path = f"/api/v1/configurations/{revealed.id}?reveal=true"
    assert [seen.status for seen in faults.seen if seen.path == path] == [200, 200, 304]


def test_a_cache_directory_that_cannot_be_written_does_not_fail_reads(
    client: ConfigClient, app_name: str, admin_key: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    client.create_application(app_name)
    client.set(app_name, "database", {"host": "db"})
    not_a_directory = tmp_path / "file"
    not_a_directory.write_text("")

    with (
        caplog.at_level(logging.WARNING),
        ConfigClient(client.base_url, admin_key, cache_dir=not_a_directory / "lkg") as reader,
    ):
        assert reader.get(app_name, "database") == {"host": "db"}

    assert [r.getMessage() for r in caplog.records if "Could not update" in r.getMessage()]


def test_an_event_stream_refused_is_a_typed_error(client: ConfigClient) -> None:
    with pytest.raises(BadRequest) as raised:
        next(client.events(after=-1))

    assert raised.value.fields == ["header.Last-Event-ID"]


def test_an_answer_overtaken_by_a_newer_one_does_not_replace_it(
    service_url: str, admin_key: str, app_name: str, tmp_path: Path
) -> None:
    with (
        ConfigClient(service_url, admin_key, cache_dir=tmp_path) as client,
        ConfigClient(service_url, admin_key) as other,
    ):
        client.create_application(app_name)
        client.set(app_name, "database", {"v": 1})
        client.get(app_name, "database")
        # A read (on one thread) whose request is answered with version 2 ...
        reading = client._core.get_configuration(app_name, "database", None, False)
        request = next(reading)
        other.set(app_name, "database", {"v": 2})
        answer = client._exchange(request, time.monotonic() + DEADLINE_S)
        # ... is overtaken by a refresh (a watch's, on another) that reads version 3 ...
        other.set(app_name, "database", {"v": 3})
        refreshed = client.refresh(app_name, "database")
        # ... before it is handed its answer.
        with pytest.raises(StopIteration) as finished:
            reading.send(answer)
        client._core.save_copies()

        assert finished.value.value.version == 2  # the read returns what it read ...
        held = client._core._copies[(app_name, "database", False)]
        assert client._core.store is not None
        saved = client._core.store.load(app_name, "database")
        current = client.get_configuration(app_name, "database")

    assert refreshed is not None and refreshed.version == 3
    assert (held.body["version"], held.etag) == (3, '"3"')  # ... but keeps the newer copy
    assert saved is not None and saved["version"] == 3
    assert (current.version, current.config) == (3, {"v": 3})
