"""Flags evaluated in the process, against the real service: they agree with its evaluate
endpoint, follow changes through the feed, and start from the last-known-good copy when the
service is down."""

import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from config_service_client.client import ConfigClient
from config_service_client.errors import NotFound, ServiceUnreachable
from config_service_client.flags import FLAGS_COPY_NAME, FlagEvaluation, Flags, _Snapshot
from config_service_client.models import ChangeEvent
from config_service_client.retry import RetryPolicy
from tests.http_faults import HttpFaults
from tests.server import free_port
from tests.waiting import wait_until

# For a service that is down: give up soon, and reconnect soon once it is back.
IMPATIENT = RetryPolicy(deadline_s=0.5, first_backoff_s=0.01, max_backoff_s=0.05)
# What a start-up without the feed waits for it, at most: these tests start while it is down.
NO_WAIT_FOR_FEED_S = 0.1

CHECKOUT: dict[str, Any] = {
    "key": "new-checkout",
    "enabled": True,
    "variants": {"on": True, "off": False},
    "default_variant": "off",
    "off_variant": "off",
    "rules": [
        {"conditions": [{"attribute": "country", "operator": "in", "values": ["NZ"]}], "variant": "on"},
        {"rollout": [{"variant": "on", "weight": 5000}, {"variant": "off", "weight": 5000}]},
    ],
}
BANNER: dict[str, Any] = {
    "key": "banner",
    "enabled": True,
    "variants": {"old": "Welcome", "new": "Hello again"},
    "default_variant": "old",
    "off_variant": "old",
    "rules": [
        {
            "conditions": [{"attribute": "app_version", "operator": "semver_gt", "values": ["2.0.0"]}],
            "variant": "new",
        }
    ],
}
LIMIT: dict[str, Any] = {
    "key": "request-limit",
    "enabled": False,
    "variants": {"low": 10, "high": 1000},
    "default_variant": "high",
    "off_variant": "low",
}
LAYOUT: dict[str, Any] = {
    "key": "layout",
    "enabled": True,
    "variants": {"grid": {"columns": 3}},
    "default_variant": "grid",
    "off_variant": "grid",
}
CONTEXTS: list[dict[str, Any]] = [
    {},
    {"targeting_key": "user-1", "country": "NZ"},
    {"targeting_key": "user-2", "country": "AU", "app_version": "2.1.0"},
    {"targeting_key": "user-3", "app_version": "1.9.9"},
    {"targeting_key": 42, "app_version": "2.0.0-beta"},
    *({"targeting_key": f"user-{n}"} for n in range(10, 30)),
]


@pytest.fixture
def client(service_url: str, admin_key: str, app_name: str) -> Iterator[ConfigClient]:
    with ConfigClient(service_url, admin_key) as made:
        made.create_application(app_name)
        yield made


@pytest.fixture
def api(service_url: str, admin_key: str, client: ConfigClient, app_name: str) -> Iterator["FlagApi"]:
    with httpx.Client(base_url=service_url, headers={"Authorization": f"Bearer {admin_key}"}) as http:
        yield FlagApi(http, client.application_id(app_name))


class FlagApi:
    """The service's flag endpoints, as an operator's tool calls them."""

    def __init__(self, http: httpx.Client, application_id: str) -> None:
        self.http = http
        self.path = f"/api/v1/applications/{application_id}/flags"

    def create(self, definition: dict[str, Any]) -> dict[str, Any]:
        response = self.http.post(self.path, json=definition)
        assert response.status_code == 201, response.text
        return dict(response.json())

    def patch(self, key: str, patch: dict[str, Any]) -> None:
        response = self.http.patch(
            f"{self.path}/{key}",
            content=json.dumps(patch),
            headers={"Content-Type": "application/merge-patch+json"},
        )
        assert response.status_code == 200, response.text

    def delete(self, key: str) -> None:
        response = self.http.delete(f"{self.path}/{key}")
        assert response.status_code == 204, response.text

    def evaluate(self, context: dict[str, Any], keys: list[str]) -> dict[str, Any]:
        response = self.http.post(f"{self.path}/evaluate", json={"context": context, "flags": keys})
        assert response.status_code == 200, response.text
        return dict(response.json()["flags"])


def as_json(result: FlagEvaluation) -> dict[str, Any]:
    return {
        "value": result.value,
        "variant": result.variant,
        "reason": result.reason,
        "error_code": result.error_code,
    }


def test_flags_evaluate_as_the_service_does(client: ConfigClient, api: "FlagApi", app_name: str) -> None:
    for definition in (CHECKOUT, BANNER, LIMIT, LAYOUT):
        api.create(definition)
    keys = [CHECKOUT["key"], BANNER["key"], LIMIT["key"], LAYOUT["key"], "no-such-flag"]

    with client.flags(app_name) as flags:
        assert flags.keys() == sorted(keys[:-1])
        assert not flags.is_stale
        for context in CONTEXTS:
            expected = api.evaluate(context, keys)
            assert {key: as_json(flags.evaluate(key, context)) for key in keys} == expected, context
        reasons = {flags.evaluate(CHECKOUT["key"], context).reason for context in CONTEXTS}

    # The contexts reach every kind of answer: the comparison is not of one path only.
    assert reasons == {"TARGETING_MATCH", "SPLIT", "DEFAULT"}
    assert as_json(flags.evaluate("no-such-flag", {})) == {
        "value": None,
        "variant": None,
        "reason": "ERROR",
        "error_code": "FLAG_NOT_FOUND",
    }
    assert flags.evaluate(LIMIT["key"]).reason == "DISABLED"


def test_value_is_the_flags_or_the_default_when_there_is_none_of_its_type(
    client: ConfigClient, api: "FlagApi", app_name: str
) -> None:
    for definition in (CHECKOUT, BANNER, LIMIT, LAYOUT):
        api.create(definition)

    with client.flags(app_name) as flags:
        assert flags.value("new-checkout", False, {"country": "NZ"}) is True
        assert flags.value("banner", "default", {"app_version": "3.0.0"}) == "Hello again"
        assert flags.value("request-limit", 0) == 10
        assert flags.value("request-limit", 0.5) == 10.0 and isinstance(
            flags.value("request-limit", 0.5), float
        )
        assert flags.value("layout", {}) == {"columns": 3}
        assert flags.value("no-such-flag", "default") == "default"
        assert flags.value("banner", 7) == 7  # a string flag asked for a number
        assert flags.value("new-checkout", 0, {"country": "NZ"}) == 0  # a boolean is no number


def test_a_kill_switch_a_deletion_and_a_creation_reach_the_flags(
    client: ConfigClient, api: "FlagApi", app_name: str
) -> None:
    api.create(CHECKOUT)
    api.create(BANNER)
    nz = {"targeting_key": "user-1", "country": "NZ"}

    with client.flags(app_name) as flags:
        changes: list[frozenset[str]] = []
        flags.on_change(changes.append)
        before = flags.evaluate("new-checkout", nz)
        assert (before.value, before.reason) == (True, "TARGETING_MATCH")

        api.patch("new-checkout", {"enabled": False})
        killed = wait_until(
            lambda: (found := flags.evaluate("new-checkout", nz)).reason == "DISABLED" and found,
            what="the kill switch",
        )
        assert (killed.value, killed.variant) == (False, "off")

        api.delete("banner")
        wait_until(lambda: flags.evaluate("banner").error_code == "FLAG_NOT_FOUND", what="the deletion")

        api.create(LAYOUT)
        created = wait_until(lambda: flags.evaluate("layout").value, what="the new flag")
        assert created == {"columns": 3}
        assert flags.keys() == ["layout", "new-checkout"]
        wait_until(lambda: len(changes) >= 3, what="three on_change calls")
        assert changes[:3] == [frozenset({"new-checkout"}), frozenset({"banner"}), frozenset({"layout"})]


def test_an_application_that_does_not_exist_is_not_found(client: ConfigClient) -> None:
    with pytest.raises(NotFound):
        client.flags("no-such-application")


def test_with_the_service_down_at_start_the_saved_flags_are_evaluated_stale_until_it_is_back(
    service_url: str,
    admin_key: str,
    client: ConfigClient,
    api: "FlagApi",
    app_name: str,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    api.create(CHECKOUT)
    port = free_port()
    with (
        HttpFaults(service_url, port=port) as proxy,
        ConfigClient(proxy.url, admin_key, cache_dir=tmp_path) as earlier,
        earlier.flags(app_name) as first,
    ):
        assert first.evaluate("new-checkout", {"country": "NZ"}).value is True
    assert earlier._core.store is not None and earlier._core.store.load(app_name, FLAGS_COPY_NAME) is not None
    api.patch("new-checkout", {"enabled": False})  # while "down": the copy is behind

    down_url = f"http://127.0.0.1:{port}"  # nothing listens there now
    with (
        caplog.at_level(logging.WARNING),
        ConfigClient(down_url, admin_key, cache_dir=tmp_path, retry=IMPATIENT) as starting,
        Flags(starting, app_name, connect_timeout_s=NO_WAIT_FOR_FEED_S) as flags,
    ):
        assert flags.is_stale
        saved = flags.evaluate("new-checkout", {"country": "NZ"})
        assert (saved.value, saved.reason) == (True, "TARGETING_MATCH")
        assert any("last-known-good flags" in record.getMessage() for record in caplog.records)

        with HttpFaults(service_url, port=port):  # the service is back
            wait_until(lambda: not flags.is_stale, what="the flags read again once the service is back")
            assert flags.evaluate("new-checkout", {"country": "NZ"}).reason == "DISABLED"
            # And it follows changes from there on.
            api.patch("new-checkout", {"enabled": True})
            wait_until(
                lambda: flags.evaluate("new-checkout", {"country": "NZ"}).reason == "TARGETING_MATCH",
                what="a change after the outage",
            )


def test_with_the_service_down_and_no_saved_flags_it_does_not_start(
    admin_key: str, app_name: str, tmp_path: Path
) -> None:
    down_url = f"http://127.0.0.1:{free_port()}"
    with (
        ConfigClient(down_url, admin_key, cache_dir=tmp_path, retry=IMPATIENT) as starting,
        pytest.raises(ServiceUnreachable),
    ):
        Flags(starting, app_name, connect_timeout_s=NO_WAIT_FOR_FEED_S)


def _listed(*flags: tuple[str, str, int]) -> _Snapshot:
    """A snapshot of (key, id, version) flags that serve one variant."""
    definitions = [
        {"key": key, "id": flag_id, "version": version, "enabled": False}
        | {"variants": {"off": False}, "default_variant": "off", "off_variant": "off", "rules": []}
        for key, flag_id, version in flags
    ]
    return _Snapshot.of(definitions, stale=False)


def _event(action: str, key: str, flag_id: str, version: int) -> ChangeEvent:
    return ChangeEvent.model_validate(
        {
            "seq": 9,
            "action": action,
            "entity_type": "flag",
            "entity_id": flag_id,
            "name": key,
            "version": version,
        }
        | {"occurred_at": "2026-12-05T00:00:00Z"}
    )


def test_a_list_that_does_not_show_the_change_yet_is_behind():
    held = _listed(("a", "A", 3), ("b", "B", 1))
    patched = _event("flag.patched", "a", "A", 4)

    assert _listed(("a", "A", 3), ("b", "B", 1)).behind(held, patched)  # another process, not heard yet
    assert not _listed(("a", "A", 4), ("b", "B", 1)).behind(held, patched)
    assert not _listed(("a", "A", 5), ("b", "B", 1)).behind(held, patched)  # and one more since: fine
    assert _listed(("a", "A", 4), ("b", "B", 0)).behind(held, patched)  # older than what was held


def test_a_created_or_deleted_flag_must_show_as_such():
    held = _listed(("a", "A", 3))

    assert _listed(("a", "A", 3)).behind(held, _event("flag.created", "c", "C", 1))
    assert not _listed(("a", "A", 3), ("c", "C", 1)).behind(held, _event("flag.created", "c", "C", 1))
    assert _listed(("a", "A", 3)).behind(held, _event("flag.deleted", "a", "A", 3))
    assert not _listed().behind(held, _event("flag.deleted", "a", "A", 3))
    # Deleted, then made again under its key: a new id, so the deletion shows.
    assert not _listed(("a", "A2", 1)).behind(held, _event("flag.deleted", "a", "A", 3))
    assert not _listed(("a", "A", 3)).behind(held, None)
