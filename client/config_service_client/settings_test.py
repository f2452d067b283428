"""The settings source: merging and fitting alone, then Settings loaded from the real service."""

import logging
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TypeVar

import httpx
import pytest
from pydantic import AliasChoices, BaseModel, ConfigDict, Field, Secret, SecretStr, ValidationError
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from config_service_client.client import ConfigClient
from config_service_client.errors import NotFound, ServiceUnreachable
from config_service_client.models import MASK
from config_service_client.retry import RetryPolicy
from config_service_client.settings import (
    ConfigServiceSettingsSource,
    MaskedSecretError,
    client_from_environment,
    deep_merge,
    has_secret_fields,
    reading_through,
    shape,
)
from tests.http_faults import HttpFaults
from tests.postgres import TestServer
from tests.server import service_process

S = TypeVar("S", bound=BaseSettings)
PASSWORD = "the-database-password-4f1c"


# --- merging, alone -----------------------------------------------------------------------


def test_a_later_configuration_wins_and_objects_merge_key_by_key() -> None:
    base = {"database": {"host": "db", "port": 5432}, "hosts": ["a", "b"], "debug": False}
    override = {"database": {"port": 6432}, "hosts": ["c"], "debug": True, "new": 1}

    assert deep_merge(base, override) == {
        "database": {"host": "db", "port": 6432},
        "hosts": ["c"],
        "debug": True,
        "new": 1,
    }
    assert base["database"] == {"host": "db", "port": 5432}  # the inputs are left alone


def test_a_scalar_replaces_an_object_and_an_object_a_scalar() -> None:
    assert deep_merge({"a": {"b": 1}}, {"a": 2}) == {"a": 2}
    assert deep_merge({"a": 2}, {"a": {"b": 1}}) == {"a": {"b": 1}}


# --- the model's shape, alone ---------------------------------------------------------------


class Database(BaseModel):
    host: str
    port: int = 5432
    password: SecretStr


class Upstream(BaseModel):
    url: str
    token: SecretStr | None = None


class Plain(BaseModel):
    name: str
    children: list["Plain"] = []


def test_secret_fields_are_found_at_any_depth() -> None:
    class Direct(BaseModel):
        token: SecretStr

    class Optional(BaseModel):
        token: SecretStr | None = None

    class Nested(BaseModel):
        database: Database

    class Listed(BaseModel):
        upstreams: list[Upstream]

    class Mapped(BaseModel):
        upstreams: dict[str, Upstream] = {}

    class Generic(BaseModel):
        pin: Secret[int]

    for model in (Direct, Optional, Nested, Listed, Mapped, Generic):
        assert has_secret_fields(model), model.__name__
    assert not has_secret_fields(Plain)  # and a model that nests itself ends


def test_keys_match_fields_whatever_their_case_unless_case_sensitive() -> None:
    class Settings(BaseModel):
        database: Database
        debug: bool = False

    config = {"Database": {"HOST": "db", "password": "pw"}, "DEBUG": True, "unknown": 1}

    assert shape(Settings, config).values == {"database": {"host": "db", "password": "pw"}, "debug": True}
    assert shape(Settings, config, case_sensitive=True).values == {}


def test_aliases_name_the_keys_pydantic_validates_by() -> None:
    class Settings(BaseModel):
        model_config = ConfigDict(populate_by_name=True)

        url: str = Field(alias="database-url")
        level: str = Field("info", validation_alias=AliasChoices("log_level", "LOGLEVEL"))

    assert shape(Settings, {"Database-URL": "u", "loglevel": "debug"}).values == {
        "database-url": "u",
        "LOGLEVEL": "debug",
    }
    assert shape(Settings, {"url": "u"}).values == {"url": "u"}  # populate_by_name


def test_unknown_keys_go_through_only_where_extra_fields_are_allowed() -> None:
    class Open(BaseModel):
        model_config = ConfigDict(extra="allow")
        host: str

    class Settings(BaseModel):
        open: Open
        database: Database

    config = {"open": {"host": "h", "more": 1}, "database": {"host": "h", "more": 1}}
    assert shape(Settings, config).values == {"open": {"host": "h", "more": 1}, "database": {"host": "h"}}


class Secrets(BaseModel):
    database: Database
    upstreams: list[Upstream] = []
    api_token: SecretStr
    webhook_secret: SecretStr | None = None


def test_masked_required_fields_are_named_and_masked_fields_with_defaults_dropped() -> None:
    config = {
        "database": {"host": "db", "password": MASK},
        "upstreams": [{"url": "u", "token": MASK}],
        "api_token": MASK,
        "webhook_secret": MASK,
    }

    shaped = shape(Secrets, config)

    assert shaped.masked_required == ["database.password", "api_token"]
    assert shaped.masked_dropped == ["upstreams[0].token", "webhook_secret"]
    assert shaped.values == {"database": {"host": "db"}, "upstreams": [{"url": "u"}]}


def test_a_masked_field_a_higher_source_gives_is_no_error() -> None:
    config = {"database": {"host": "db", "password": MASK}, "api_token": MASK}
    from_the_environment = {"database": {"password": "pw"}, "api_token": "tok"}

    shaped = shape(Secrets, config, given_above=from_the_environment)

    assert (shaped.masked_required, shaped.masked_dropped) == ([], [])
    assert shaped.values == {"database": {"host": "db"}}


def test_read_in_plain_the_mask_is_a_value_like_any_other() -> None:
    shaped = shape(Secrets, {"api_token": MASK}, masked=False)
    assert (shaped.values, shaped.masked_required) == ({"api_token": MASK}, [])


# --- against the service --------------------------------------------------------------------


class Sourced(BaseSettings):
    # Nothing of the test machine's own environment may fill a field.
    model_config = SettingsConfigDict(env_prefix="CS_SETTINGS_TEST_", env_nested_delimiter="__")


def loading(
    model: type[S],
    client: ConfigClient | None,
    application: str,
    names: Sequence[str],
    reveal: bool | None = None,
) -> type[S]:
    """`model` with Config Service among its sources, where the module's text says."""

    class Loaded(model):  # type: ignore[valid-type,misc]
        @classmethod
        def settings_customise_sources(
            cls,
            settings_cls: type[BaseSettings],
            init_settings: PydanticBaseSettingsSource,
            env_settings: PydanticBaseSettingsSource,
            dotenv_settings: PydanticBaseSettingsSource,
            file_secret_settings: PydanticBaseSettingsSource,
        ) -> tuple[PydanticBaseSettingsSource, ...]:
            source = ConfigServiceSettingsSource(
                settings_cls, application=application, names=names, client=client, reveal=reveal
            )
            return (init_settings, env_settings, source, dotenv_settings, file_secret_settings)

    return Loaded


class Pool(BaseModel):
    host: str
    port: int
    size: int = 5


class Service(Sourced):
    pool: Pool
    features: list[str] = []
    debug: bool = False
    name: str


@pytest.fixture
def client(service_url: str, admin_key: str) -> Iterator[ConfigClient]:
    with ConfigClient(service_url, admin_key) as client:
        yield client


@pytest.fixture
def http(service_url: str, admin_key: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=service_url, headers={"Authorization": f"Bearer {admin_key}"}) as http:
        yield http


def test_configurations_merge_in_order(client: ConfigClient, app_name: str) -> None:
    client.create_application(app_name)
    client.set(app_name, "defaults", {"pool": {"host": "db", "port": 5432}, "features": ["a"], "name": "x"})
    client.set(app_name, "production", {"pool": {"port": 6432, "size": 20}, "features": ["b"], "debug": True})

    settings = loading(Service, client, app_name, ["defaults", "production"])()

    assert settings.pool == Pool(host="db", port=6432, size=20)
    assert (settings.features, settings.debug, settings.name) == (["b"], True, "x")
    swapped = loading(Service, client, app_name, ["production", "defaults"])()
    assert (swapped.pool.port, swapped.features, swapped.pool.size) == (5432, ["a"], 20)


def test_an_environment_variable_overrides_one_value(
    client: ConfigClient, app_name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    client.create_application(app_name)
    client.set(app_name, "main", {"pool": {"host": "db", "port": 5432}, "name": "x"})
    monkeypatch.setenv("CS_SETTINGS_TEST_POOL__HOST", "emergency-db")

    settings = loading(Service, client, app_name, ["main"])()

    assert settings.pool == Pool(host="emergency-db", port=5432)
    assert loading(Service, client, app_name, ["main"])(name="y").name == "y"  # init above all


def test_config_service_is_above_a_dotenv_file_which_fills_what_it_lacks(
    client: ConfigClient, app_name: str, tmp_path: Path
) -> None:
    client.create_application(app_name)
    client.set(app_name, "main", {"pool": {"host": "db", "port": 5432}, "name": "from-config-service"})
    dotenv = tmp_path / ".env"
    dotenv.write_text(
        "CS_SETTINGS_TEST_NAME=from-dotenv\n"
        "CS_SETTINGS_TEST_POOL__PORT=1111\n"
        "CS_SETTINGS_TEST_POOL__SIZE=9\n"
        "CS_SETTINGS_TEST_DEBUG=true\n"
    )

    settings = loading(Service, client, app_name, ["main"])(_env_file=dotenv)

    assert settings.name == "from-config-service"
    assert settings.pool == Pool(host="db", port=5432, size=9)  # merged key by key below it
    assert settings.debug is True


def test_a_missing_required_field_fails_with_pydantics_own_error(client: ConfigClient, app_name: str) -> None:
    client.create_application(app_name)
    client.set(app_name, "main", {"pool": {"host": "db"}})

    with pytest.raises(ValidationError) as raised:
        loading(Service, client, app_name, ["main"])()

    assert sorted((error["loc"], error["type"]) for error in raised.value.errors()) == [
        (("name",), "missing"),
        (("pool", "port"), "missing"),
    ]


def test_a_configuration_that_does_not_exist_fails_fast(client: ConfigClient, app_name: str) -> None:
    client.create_application(app_name)
    client.set(app_name, "main", {"pool": {"host": "db", "port": 1}, "name": "x"})

    with pytest.raises(NotFound):
        loading(Service, client, app_name, ["main", "typo"])()


class WithSecrets(Sourced):
    database: Database
    webhook_secret: SecretStr | None = None


def secret_configuration(http: httpx.Client, client: ConfigClient, application: str) -> None:
    """A configuration whose schema marks the password and the webhook secret secret."""
    schema = {
        "type": "object",
        "properties": {
            "database": {"type": "object", "properties": {"password": {"type": "string", "writeOnly": True}}},
            "webhook_secret": {"type": "string", "x-secret": True},
        },
    }
    made = http.post("/api/v1/schemas", json={"name": application, "schema": schema})
    assert made.status_code == 201, made.text
    client.create_application(application)
    config = {"database": {"host": "db", "password": PASSWORD}, "webhook_secret": "whsec"}
    body = {"application_id": client.application_id(application), "name": "main", "config": config}
    made = http.post("/api/v1/configurations", json=body | {"schema": {"name": application}})
    assert made.status_code == 201, made.text
    assert made.json()["config"]["database"]["password"] == MASK


def new_key(http: httpx.Client, application: str, *scopes: str) -> str:
    """A key of its own for the test: key names are unique on the service."""
    name = f"{application}-{'-'.join(scopes)}"
    made = http.post("/api/v1/api-keys", json={"name": name, "scopes": scopes})
    assert made.status_code == 201, made.text
    return str(made.json()["key"])


def key_with(http: httpx.Client, service_url: str, application: str, *scopes: str) -> ConfigClient:
    """A client with a key of its own."""
    return ConfigClient(service_url, new_key(http, application, *scopes))


def test_secrets_are_revealed_to_a_key_that_may_see_them(
    http: httpx.Client, client: ConfigClient, service_url: str, app_name: str
) -> None:
    secret_configuration(http, client, app_name)

    assert loading(WithSecrets, client, app_name, ["main"])().database.password.get_secret_value() == PASSWORD
    with key_with(http, service_url, app_name, "read", "secrets") as reader:
        settings = loading(WithSecrets, reader, app_name, ["main"])()
    assert settings.database.password.get_secret_value() == PASSWORD
    assert settings.webhook_secret is not None and settings.webhook_secret.get_secret_value() == "whsec"


def test_a_masked_required_secret_fails_at_start_up_naming_the_field_and_the_scope(
    http: httpx.Client, client: ConfigClient, service_url: str, app_name: str
) -> None:
    secret_configuration(http, client, app_name)

    with key_with(http, service_url, app_name, "read") as reader, pytest.raises(MaskedSecretError) as raised:
        loading(WithSecrets, reader, app_name, ["main"])()

    message = str(raised.value)
    assert "database.password" in message and "`secrets` scope" in message
    assert PASSWORD not in message and "whsec" not in message
    assert raised.value.fields == ["database.password"]


def test_a_masked_secret_with_a_default_is_dropped_with_a_warning(
    http: httpx.Client,
    client: ConfigClient,
    service_url: str,
    app_name: str,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    secret_configuration(http, client, app_name)
    # The required password from the environment, as an operator would in an emergency.
    monkeypatch.setenv("CS_SETTINGS_TEST_DATABASE__PASSWORD", "from-the-environment")

    with key_with(http, service_url, app_name, "read") as reader, caplog.at_level(logging.WARNING):
        settings = loading(WithSecrets, reader, app_name, ["main"])()

    assert settings.database.password.get_secret_value() == "from-the-environment"
    assert settings.database.host == "db"
    assert settings.webhook_secret is None
    warned = [record.getMessage() for record in caplog.records if "masked" in record.getMessage()]
    assert len(warned) == 1 and "webhook_secret" in warned[0] and "database" not in warned[0]


def test_read_with_reveal_false_a_required_secret_fails_too(
    http: httpx.Client, client: ConfigClient, app_name: str
) -> None:
    secret_configuration(http, client, app_name)

    with pytest.raises(MaskedSecretError, match="reveal=False"):
        loading(WithSecrets, client, app_name, ["main"], reveal=False)()


class Host(BaseModel):
    host: str


class WithAnOptionalSecret(Sourced):
    database: Host
    webhook_secret: SecretStr | None = None


def reveals(proxy: HttpFaults) -> int:
    return sum("reveal=true" in seen.path for seen in proxy.seen)


def test_a_key_without_secrets_asks_to_reveal_once_and_loads_the_masked_copy_when_the_service_is_down(
    http: httpx.Client, client: ConfigClient, service_url: str, app_name: str, tmp_path: Path
) -> None:
    secret_configuration(http, client, app_name)
    key = new_key(http, app_name, "read")
    with HttpFaults(service_url) as proxy, ConfigClient(proxy.url, key, cache_dir=tmp_path) as reader:
        for _ in range(3):  # a process that loads its settings again, as a live holder does
            settings = loading(WithAnOptionalSecret, reader, app_name, ["main"])()
            assert (settings.database.host, settings.webhook_secret) == ("db", None)
        plain_reads = proxy.count(method="GET", path="/api/v1/configurations/") - reveals(proxy)
        assert (reveals(proxy), plain_reads) == (1, 3)  # the 403 once, then masked at once
        port = proxy.port

    # Nothing answers there now: a process starting has the masked copy alone, no copy in plain.
    down = RetryPolicy(deadline_s=0.5)
    with ConfigClient(f"http://127.0.0.1:{port}", key, cache_dir=tmp_path, retry=down) as restarted:
        settings = loading(WithAnOptionalSecret, restarted, app_name, ["main"])()
        assert (settings.database.host, settings.webhook_secret) == ("db", None)
        assert restarted.is_stale
        with pytest.raises(MaskedSecretError, match="could not be reached") as raised:
            loading(WithSecrets, restarted, app_name, ["main"])()
        assert raised.value.fields == ["database.password"]


class WithoutSecretTypes(Sourced):
    database: dict[str, str]


def test_a_secret_read_into_a_plain_field_fails_saying_to_declare_it_secret(
    http: httpx.Client, client: ConfigClient, app_name: str
) -> None:
    secret_configuration(http, client, app_name)

    with pytest.raises(MaskedSecretError, match="declare them SecretStr") as raised:
        loading(WithoutSecretTypes, client, app_name, ["main"])()
    assert raised.value.fields == ["database"]


def test_settings_built_inside_reading_through_use_that_client(
    client: ConfigClient, service_url: str, app_name: str
) -> None:
    client.create_application(app_name)
    client.set(app_name, "main", {"pool": {"host": "db", "port": 5432}, "name": "x"})
    # A client that would fail every read: port 9 (discard) listens nowhere here.
    with ConfigClient("http://127.0.0.1:9", "no-key") as nowhere, reading_through(client) as reading:
        settings = loading(Service, nowhere, app_name, ["main"])()

    assert settings.name == "x"
    assert reading.read == {(app_name, "main")}


def test_without_a_client_the_source_makes_one_from_the_environment_and_keeps_it(
    client: ConfigClient, service_url: str, admin_key: str, app_name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    client.create_application(app_name)
    client.set(app_name, "main", {"pool": {"host": "db", "port": 5432}, "name": "x"})
    monkeypatch.setenv("CONFIG_SERVICE_URL", service_url)
    monkeypatch.setenv("CONFIG_SERVICE_API_KEY", admin_key)
    monkeypatch.delenv("CONFIG_SERVICE_CACHE_DIR", raising=False)

    assert loading(Service, None, app_name, ["main"])().pool.host == "db"
    made = client_from_environment()
    assert loading(Service, None, app_name, ["main"])().name == "x"
    assert client_from_environment() is made  # so later loads are conditional reads
    monkeypatch.setenv("CONFIG_SERVICE_API_KEY", "cs_another-key")
    assert client_from_environment() is not made


def test_the_environment_client_gives_up_after_config_service_timeout(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CONFIG_SERVICE_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("CONFIG_SERVICE_TIMEOUT", "2.5")
    assert client_from_environment()._retry.deadline_s == 2.5
    monkeypatch.setenv("CONFIG_SERVICE_TIMEOUT", "soon")
    with pytest.raises(ValueError, match="CONFIG_SERVICE_TIMEOUT"):
        client_from_environment()


def test_with_the_service_down_settings_load_from_the_last_known_good_copy(
    postgres: TestServer, admin_key: str, app_name: str, tmp_path: Path
) -> None:
    database = postgres.new_database()
    try:
        with (
            service_process({"DATABASE_URL": postgres.url(database)}) as own,
            ConfigClient(own.url, admin_key, cache_dir=tmp_path) as client,
        ):
            client.create_application(app_name)
            client.set(app_name, "main", {"pool": {"host": "db", "port": 5432}, "name": "x"})
            assert loading(Service, client, app_name, ["main"])().pool.host == "db"
    finally:
        postgres.drop(database)

    # The service is gone; a process starting now has only the copy on disk.
    down = RetryPolicy(deadline_s=0.5)
    with ConfigClient(own.url, admin_key, cache_dir=tmp_path, retry=down) as client:
        settings = loading(Service, client, app_name, ["main"])()
        assert settings.pool == Pool(host="db", port=5432) and client.is_stale
    with ConfigClient(own.url, admin_key, retry=down) as client, pytest.raises(ServiceUnreachable):
        loading(Service, client, app_name, ["main"])()
