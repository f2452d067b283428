"""Live settings against the real service: changes reach `.current`, invalid ones do not."""

import logging
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import BaseModel, SecretStr, ValidationError
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from config_service_client.client import ConfigClient
from config_service_client.live import LiveSettings, describe
from config_service_client.retry import RetryPolicy
from config_service_client.settings import ConfigServiceSettingsSource, reading_through
from tests.http_faults import HttpFaults
from tests.waiting import wait_until

LOGGER = "config_service_client.live"


class Limits(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CS_LIVE_TEST_")

    rate: int
    label: str = "default"


def limits_of(application: str) -> type[Limits]:
    """Limits as a service writes them: the source with no client (a live holder gives its own)."""

    class Loaded(Limits):
        @classmethod
        def settings_customise_sources(
            cls,
            settings_cls: type[BaseSettings],
            init_settings: PydanticBaseSettingsSource,
            env_settings: PydanticBaseSettingsSource,
            dotenv_settings: PydanticBaseSettingsSource,
            file_secret_settings: PydanticBaseSettingsSource,
        ) -> tuple[PydanticBaseSettingsSource, ...]:
            source = ConfigServiceSettingsSource(settings_cls, application=application, names=["main"])
            return (init_settings, env_settings, source, dotenv_settings, file_secret_settings)

    return Loaded


@pytest.fixture
def client(service_url: str, admin_key: str, app_name: str) -> Iterator[ConfigClient]:
    with ConfigClient(service_url, admin_key) as client:
        client.create_application(app_name)
        yield client


@pytest.fixture
def live(client: ConfigClient, app_name: str) -> Iterator[LiveSettings[Limits]]:
    client.set(app_name, "main", {"rate": 1, "label": "first"})
    with client.live(limits_of(app_name), app_name, ["main"]) as live:
        yield live


def test_a_valid_change_reaches_current(
    client: ConfigClient, app_name: str, live: LiveSettings[Limits]
) -> None:
    first = live.current
    assert (first.rate, first.label) == (1, "first")

    client.set(app_name, "main", {"rate": 2, "label": "second"})

    wait_until(lambda: live.current.rate == 2, what="the change in .current")
    assert live.current.label == "second"
    assert first.rate == 1  # a new object: whoever holds the old one sees no change under it


def test_on_change_gets_the_old_and_the_new_settings(
    client: ConfigClient, app_name: str, live: LiveSettings[Limits]
) -> None:
    calls: list[tuple[Limits, Limits]] = []
    live.on_change(lambda old, new: calls.append((old, new)))
    first = live.current

    client.set(app_name, "main", {"rate": 5, "label": "first"})

    wait_until(lambda: calls, what="on_change")
    old, new = calls[0]
    assert old is first and new is live.current and new.rate == 5


def test_an_invalid_change_keeps_the_old_settings_and_says_why(
    client: ConfigClient, app_name: str, live: LiveSettings[Limits], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR, logger=LOGGER)
    calls: list[tuple[Limits, Limits]] = []
    live.on_change(lambda old, new: calls.append((old, new)))
    first = live.current

    client.set(app_name, "main", {"rate": "lots-and-lots", "label": "first"})

    refused = wait_until(
        lambda: [r.getMessage() for r in caplog.records if "kept the previous" in r.getMessage()]
    )
    assert live.current is first and calls == []
    assert "rate: int_parsing" in refused[0] and "lots-and-lots" not in refused[0]
    # Still following: the next valid change gets through.
    client.set(app_name, "main", {"rate": 3, "label": "first"})
    wait_until(lambda: live.current.rate == 3, what="the valid change after the invalid one")
    assert [(old.rate, new.rate) for old, new in calls] == [(1, 3)]


def test_a_deleted_configuration_keeps_the_old_settings(
    client: ConfigClient, app_name: str, live: LiveSettings[Limits], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR, logger=LOGGER)
    first = live.current

    client.delete_configuration(app_name, "main")

    refused = wait_until(
        lambda: [r.getMessage() for r in caplog.records if "kept the previous" in r.getMessage()]
    )
    assert "NotFound" in refused[0] and live.current is first


def test_the_environment_still_overrides_after_a_change(
    client: ConfigClient, app_name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CS_LIVE_TEST_LABEL", "from-the-environment")
    client.set(app_name, "main", {"rate": 1, "label": "from-the-service"})

    with client.live(limits_of(app_name), app_name, ["main"]) as live:
        assert live.current.label == "from-the-environment"
        client.set(app_name, "main", {"rate": 2, "label": "changed"})
        wait_until(lambda: live.current.rate == 2)
        assert live.current.label == "from-the-environment"


def a_copy_left_by_an_earlier_run(
    settings_cls: type[Limits], service_url: str, admin_key: str, cache_dir: Path
) -> int:
    """An earlier run of the process read through a proxy and left its last-known-good copy;
    the port where the proxy was, where nothing answers now."""
    with HttpFaults(service_url) as proxy, ConfigClient(proxy.url, admin_key, cache_dir=cache_dir) as earlier:
        with reading_through(earlier):
            settings_cls()
        return proxy.port


def test_a_holder_started_with_the_service_down_catches_up_once_it_is_back(
    client: ConfigClient, service_url: str, admin_key: str, app_name: str, tmp_path: Path
) -> None:
    settings_cls = limits_of(app_name)
    client.set(app_name, "main", {"rate": 1})
    port = a_copy_left_by_an_earlier_run(settings_cls, service_url, admin_key, tmp_path)

    # Nothing answers at the proxy's address now: the process starts on its copy.
    down = RetryPolicy(deadline_s=0.5)
    with (
        ConfigClient(f"http://127.0.0.1:{port}", admin_key, cache_dir=tmp_path, retry=down) as restarted,
        LiveSettings(restarted, settings_cls, app_name, ["main"], connect_timeout_s=0.5) as live,
    ):
        assert live.current.rate == 1 and restarted.is_stale
        # A change its watch cannot hear of: it is made before the watch ever connects.
        client.set(app_name, "main", {"rate": 2})
        with HttpFaults(service_url, port=port):
            wait_until(lambda: live.current.rate == 2, what="the catch-up once the service is back")


def waits_in_rebuild(thread: threading.Thread) -> bool:
    frame = sys._current_frames().get(thread.ident or 0)
    while frame is not None:
        if frame.f_code is LiveSettings._rebuild.__code__:
            return True
        frame = frame.f_back
    return False


def test_a_callback_may_stop_the_holder_while_the_catch_up_thread_waits_for_the_lock(
    client: ConfigClient, service_url: str, admin_key: str, app_name: str, tmp_path: Path
) -> None:
    settings_cls = limits_of(app_name)
    client.set(app_name, "main", {"rate": 1})
    port = a_copy_left_by_an_earlier_run(settings_cls, service_url, admin_key, tmp_path)
    down = RetryPolicy(deadline_s=0.5)
    restarted = ConfigClient(f"http://127.0.0.1:{port}", admin_key, cache_dir=tmp_path, retry=down)
    live = LiveSettings(restarted, settings_cls, app_name, ["main"], connect_timeout_s=0.5)
    catch_up = live._catch_up
    assert catch_up is not None  # started down: a thread waits to catch up
    returned = threading.Event()

    @live.on_change
    def stop_it(old: Limits, new: Limits) -> None:
        live.stop()
        returned.set()

    client.set(app_name, "main", {"rate": 2})

    def a_change_on_the_watchs_thread() -> None:
        # The moment this is about: a rebuild holds the holder's lock (as the watch's thread
        # does for an event) when the service is back, so the catch-up thread waits for it;
        # then the rebuild's callback stops the holder. Driven by hand: which of the two
        # threads has the lock first is otherwise a matter of luck.
        with live._lock, HttpFaults(service_url, port=port):
            wait_until(lambda: waits_in_rebuild(catch_up), what="the catch-up thread at the lock")
            live._rebuild("a change")

    threading.Thread(target=a_change_on_the_watchs_thread, daemon=True).start()
    # Before the fix, stop() waited for the catch-up thread, which waited for the callback.
    wait_until(returned.is_set, what="stop() called by the callback to return")
    wait_until(lambda: not catch_up.is_alive(), what="the catch-up thread to end")
    assert live.current.rate == 2
    live.stop()  # from elsewhere, later: nothing left to wait for
    restarted.close()


def test_settings_invalid_at_start_up_fail_there(client: ConfigClient, app_name: str) -> None:
    client.set(app_name, "main", {"label": "no rate"})

    with pytest.raises(ValidationError):
        client.live(limits_of(app_name), app_name, ["main"])


def test_settings_that_read_nothing_from_the_service_are_refused(client: ConfigClient, app_name: str) -> None:
    class Local(BaseSettings):
        rate: int = 1

    with pytest.raises(TypeError, match="ConfigServiceSettingsSource"):
        client.live(Local, app_name, ["main"])


def test_a_failing_callback_neither_stops_the_others_nor_the_holder(
    client: ConfigClient, app_name: str, live: LiveSettings[Limits], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR, logger=LOGGER)
    seen: list[int] = []

    @live.on_change
    def failing(old: Limits, new: Limits) -> None:
        raise RuntimeError(f"rate {new.rate}")  # its text quotes a setting: never logged

    live.on_change(lambda old, new: seen.append(new.rate))
    client.set(app_name, "main", {"rate": 41})
    wait_until(lambda: seen == [41])
    client.set(app_name, "main", {"rate": 42})
    wait_until(lambda: seen == [41, 42])

    logged = " ".join(record.getMessage() for record in caplog.records)
    assert "RuntimeError" in logged and "rate 4" not in logged


def test_describe_names_fields_and_error_types_never_values() -> None:
    class Nested(BaseModel):
        password: SecretStr
        port: int

    class Model(BaseModel):
        nested: Nested
        items: list[int]

    with pytest.raises(ValidationError) as raised:
        Model.model_validate({"nested": {"port": "hunter2"}, "items": [1, "secret-ish"]})

    assert (
        describe(raised.value) == "nested.password: missing; nested.port: int_parsing; items.1: int_parsing"
    )
