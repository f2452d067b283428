"""A pydantic-settings source: a service's `Settings` loaded from Config Service.

Priority. pydantic-settings asks the sources in the order `settings_customise_sources` returns
them, and the first that has a value for a field wins. Put this source below init arguments and
environment variables, so that an environment variable can still override one value in an
emergency, and above the rest::

    class Settings(BaseSettings):
        model_config = SettingsConfigDict(env_nested_delimiter="__")

        database: Database
        api_token: SecretStr
        debug: bool = False

        @classmethod
        def settings_customise_sources(
            cls, settings_cls, init_settings, env_settings, dotenv_settings, file_secret_settings
        ):
            return (
                init_settings,  # 1. Settings(debug=True)
                env_settings,  # 2. DATABASE__HOST=... in the environment
                ConfigServiceSettingsSource(  # 3. Config Service
                    settings_cls, application="payments", names=["defaults", "production"]
                ),
                dotenv_settings,  # 4. a .env file
                file_secret_settings,  # 5. a secrets directory
            )  # 6. the fields' defaults

pydantic-settings merges nested models across sources key by key: `DATABASE__HOST` in the
environment replaces the host alone, the rest of `database` still comes from Config Service.

Merging. The named configurations are read in order and deep-merged: a later one wins, objects
are merged key by key, everything else (lists, scalars) is replaced whole.

Keys. A configuration's keys match the model's fields (at every depth) by name, or by alias
when the model validates by alias (a string alias, the strings of an `AliasChoices`, the first
step of an `AliasPath`); without `case_sensitive=True` in the model's config, whatever their
case. A key that matches no field is left out, so that a configuration can gain a key before
the services that read it do, unless the model allows extra fields (`extra="allow"`).

Secrets. When the model has secret fields (`SecretStr`, `SecretBytes`, `Secret[...]`, at any
depth, in `Optional`s and lists of models too), the configurations are read with
`?reveal=true`; a key without the `secrets` scope is refused that (403) and the source reads
them masked instead (and, for that client and application, masked at once from then on: a
key's scopes never change). When the service cannot be reached and no copy read in plain is
kept, the source reads the masked last-known-good copy too. A masked value ("********") never
reaches a field: in a field with a default it is dropped, with a warning, so that the default
applies; in a required field it is an error at start-up (`MaskedSecretError`) naming the field
and why it is masked, unless a source of higher priority (an environment variable) gives that
field its value. Give a model with secrets `hide_input_in_errors=True` in its `model_config`:
otherwise pydantic's `ValidationError` quotes the value of a field it refuses, and a secret of
the wrong type (a number where a `SecretStr` belongs) would be in its text, and in the log.

Failing fast. A required field that no source gives fails with pydantic's own
`ValidationError`; a configuration that does not exist raises `NotFound`; a service that
cannot be reached raises `ServiceUnreachable`, unless the client has a last-known-good copy
(`CONFIG_SERVICE_CACHE_DIR`), which it then serves, marked stale.

The client. Without one, the source makes one from `CONFIG_SERVICE_URL`,
`CONFIG_SERVICE_API_KEY` and `CONFIG_SERVICE_CACHE_DIR`, and keeps it for the process, so that
every later load is a conditional read. Settings built inside `reading_through(client)` read
through that client instead: a `LiveSettings` holder does so with its own.
"""

from __future__ import annotations

import logging
import os
import threading
import types
import weakref
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated, Any, Union, get_args, get_origin

from pydantic import AliasChoices, AliasPath, BaseModel, Secret, SecretBytes, SecretStr
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource

from .errors import ConfigServiceError, Forbidden, ServiceUnreachable
from .models import MASK

if TYPE_CHECKING:
    # client.py makes live holders, which build settings through this module.
    from .client import ConfigClient

SECRET_TYPES: tuple[type, ...] = (SecretStr, SecretBytes, Secret)
CACHE_DIR_VARIABLE = "CONFIG_SERVICE_CACHE_DIR"
# How long a read keeps retrying before it gives up or falls back to the last-known-good copy
# (the command's --timeout reads it too): at start-up, how long a service waits for us.
DEADLINE_VARIABLE = "CONFIG_SERVICE_TIMEOUT"

logger = logging.getLogger(__name__)


class MaskedSecretError(ConfigServiceError):
    """Required fields got masked secrets: `fields` names them, `advice` says what to do."""

    def __init__(self, application: str, fields: Sequence[str], advice: str) -> None:
        self.application = application
        self.fields = list(fields)
        self.advice = advice
        super().__init__(
            f"Config Service gave {application}'s required field(s) {', '.join(self.fields)} masked: {advice}"
        )


LACKS_SCOPE = (
    "the API key lacks the `secrets` scope; use one that has it (CONFIG_SERVICE_API_KEY),"
    " or set these fields in the environment"
)
UNREACHABLE = (
    "Config Service could not be reached to reveal them, and the last-known-good copy has them"
    " masked (a key with the `secrets` scope keeps a copy in plain); set these fields in the environment"
)
NOT_REVEALED = (
    "the source was made with reveal=False; leave reveal out, or set these fields in the environment"
)
NOT_SECRET_TYPES = (
    "the model types them as plain values, so they were not asked for in plain;"
    " declare them SecretStr (or SecretBytes)"
)


# --- merging -------------------------------------------------------------------------------


def deep_merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """`override` over `base`: objects merged key by key, anything else replaced whole."""
    merged = dict(base)
    for key, value in override.items():
        below = merged.get(key)
        if isinstance(below, Mapping) and isinstance(value, Mapping):
            merged[key] = deep_merge(below, value)
        else:
            merged[key] = value
    return merged


# --- the model's shape ---------------------------------------------------------------------


def _is_model(annotation: Any) -> bool:
    # A parametrised generic (list[int]) passes isinstance(..., type) on some Pythons.
    return (
        isinstance(annotation, type)
        and not isinstance(annotation, types.GenericAlias)
        and issubclass(annotation, BaseModel)
    )


def _is_union(annotation: Any) -> bool:
    return get_origin(annotation) in (Union, types.UnionType)


def _strip_annotated(annotation: Any) -> Any:
    while get_origin(annotation) is Annotated:
        annotation = get_args(annotation)[0]
    return annotation


def _without_none(annotation: Any) -> Any:
    """T for Optional[T] (and Annotated[...] around either); anything else unchanged."""
    annotation = _strip_annotated(annotation)
    if _is_union(annotation):
        others = [arg for arg in get_args(annotation) if arg is not type(None)]
        if len(others) == 1:
            return _strip_annotated(others[0])
    return annotation


def nested_model(annotation: Any) -> type[BaseModel] | None:
    """The model an object validates into in a field of this type, if one alone can."""
    annotation = _without_none(annotation)
    return annotation if _is_model(annotation) else None


def item_model(annotation: Any) -> type[BaseModel] | None:
    """The model each item validates into in a list (tuple, set) field of this type."""
    annotation = _without_none(annotation)
    origin = get_origin(annotation)
    args = get_args(annotation)
    if origin in (list, set, frozenset, Sequence) and len(args) == 1:
        return nested_model(args[0])
    if origin is tuple and len(args) == 2 and args[1] is Ellipsis:
        return nested_model(args[0])
    return None


def value_model(annotation: Any) -> type[BaseModel] | None:
    """The model each value validates into in a dict field of this type."""
    annotation = _without_none(annotation)
    args = get_args(annotation)
    if get_origin(annotation) in (dict, Mapping) and len(args) == 2:
        return nested_model(args[1])
    return None


def has_secret_fields(model: type[BaseModel]) -> bool:
    """Whether a field of the model, at any depth, holds a secret type."""
    return _mentions_secret(model, set())


def _mentions_secret(annotation: Any, seen: set[type]) -> bool:
    if _is_model(annotation):
        if annotation in seen:  # a model that nests itself
            return False
        seen.add(annotation)
        return any(_mentions_secret(info.annotation, seen) for info in annotation.model_fields.values())
    if isinstance(annotation, type) and not isinstance(annotation, types.GenericAlias):
        return issubclass(annotation, SECRET_TYPES)
    origin = get_origin(annotation)
    if origin is not None and _mentions_secret(origin, seen):  # Secret[int]
        return True
    return any(_mentions_secret(arg, seen) for arg in get_args(annotation))


@dataclass(frozen=True)
class FieldKey:
    key: str  # the name pydantic validates the field by
    name: str  # the field's name, for messages
    info: FieldInfo


def _alias_keys(info: FieldInfo) -> list[str]:
    # pydantic validates by validation_alias alone when there is one.
    alias = info.validation_alias if info.validation_alias is not None else info.alias
    if isinstance(alias, str):
        return [alias]
    if isinstance(alias, AliasPath):
        alias = AliasChoices(alias)
    if isinstance(alias, AliasChoices):
        keys: list[str] = []
        for choice in alias.choices:
            # A path's first step names the key: pydantic walks the rest in the value.
            first = choice.path[0] if isinstance(choice, AliasPath) else choice
            if isinstance(first, str):
                keys.append(first)
        return keys
    return []


def field_keys(model: type[BaseModel], *, case_sensitive: bool) -> dict[str, FieldKey]:
    """The keys that fill each field of the model, by the key as a configuration may spell it
    (lower-cased unless case-sensitive)."""
    config = model.model_config
    by_alias = config.get("validate_by_alias", True) is not False
    by_name = bool(config.get("validate_by_name") or config.get("populate_by_name"))
    table: dict[str, FieldKey] = {}
    for name, info in model.model_fields.items():
        aliases = _alias_keys(info) if by_alias else []
        for key in [*aliases, *([name] if by_name or not aliases else [])]:
            table.setdefault(key if case_sensitive else key.lower(), FieldKey(key, name, info))
    return table


# --- from a configuration to the fields ----------------------------------------------------


class _Masked:
    """What a value holding the mask turns into: it never reaches a field."""


MASKED = _Masked()


def _holds_mask(value: Any) -> bool:
    if isinstance(value, str):
        return value == MASK
    if isinstance(value, Mapping):
        return any(_holds_mask(item) for item in value.values())
    if isinstance(value, list):
        return any(_holds_mask(item) for item in value)
    return False


@dataclass
class Shaped:
    """A configuration fitted to a model, and the masked secrets it held."""

    values: dict[str, Any]
    masked: bool = True
    masked_required: list[str] = field(default_factory=list)
    masked_dropped: list[str] = field(default_factory=list)


def shape(
    model: type[BaseModel],
    config: Mapping[str, Any],
    *,
    case_sensitive: bool = False,
    given_above: Mapping[str, Any] | None = None,
    masked: bool = True,
) -> Shaped:
    """The configuration's values under the keys pydantic validates the model's fields by,
    masked secrets taken out. `given_above` is what sources of higher priority give: a field
    they give wholly needs nothing from here, so its masked secret is no error. `masked`:
    whether the configuration was read masked (read in plain, a "********" is a real value)."""
    shaped = Shaped({}, masked=masked)
    shaped.values = _shape_model(model, config, "", given_above or {}, case_sensitive, shaped)
    return shaped


def _shape_model(
    model: type[BaseModel],
    config: Mapping[str, Any],
    path: str,
    given_above: Mapping[str, Any],
    case_sensitive: bool,
    shaped: Shaped,
) -> dict[str, Any]:
    keys = field_keys(model, case_sensitive=case_sensitive)
    keep_extra = model.model_config.get("extra") == "allow"
    values: dict[str, Any] = {}
    for key, value in config.items():
        found = keys.get(key if case_sensitive else key.lower())
        if found is None:
            if keep_extra:
                values[key] = value
            continue
        above = given_above.get(found.key)
        if found.key in given_above and not isinstance(above, Mapping):
            continue  # replaced whole by a source above: nothing of ours gets through
        here = f"{path}.{key}" if path else key
        value = _shape_value(found.info.annotation, value, here, above or {}, case_sensitive, shaped)
        if value is MASKED:
            if found.key in given_above:
                continue
            (shaped.masked_required if found.info.is_required() else shaped.masked_dropped).append(here)
            continue
        values[found.key] = value
    return values


def _shape_value(
    annotation: Any,
    value: Any,
    path: str,
    given_above: Mapping[str, Any],
    case_sensitive: bool,
    shaped: Shaped,
) -> Any:
    if isinstance(value, Mapping):
        if model := nested_model(annotation):
            return _shape_model(model, value, path, given_above, case_sensitive, shaped)
        if model := value_model(annotation):
            return {
                key: _shape_model(model, item, f"{path}.{key}", {}, case_sensitive, shaped)
                if isinstance(item, Mapping)
                else item
                for key, item in value.items()
            }
    if isinstance(value, list) and (model := item_model(annotation)):
        return [
            _shape_model(model, item, f"{path}[{index}]", {}, case_sensitive, shaped)
            if isinstance(item, Mapping)
            else item
            for index, item in enumerate(value)
        ]
    return MASKED if shaped.masked and _holds_mask(value) else value


# --- which client ---------------------------------------------------------------------------


@dataclass
class Reading:
    """Settings being built through one client, and what their sources read."""

    client: ConfigClient
    read: set[tuple[str, str]] = field(default_factory=set)


_reading: ContextVar[Reading | None] = ContextVar("config_service_reading", default=None)
# The applications each client's key was refused a reveal for (403): a key's scopes never
# change, so every later load and live rebuild reads masked at once instead of asking again.
_refused_reveal: weakref.WeakKeyDictionary[ConfigClient, set[str]] = weakref.WeakKeyDictionary()
_refused_reveal_lock = threading.Lock()
_environment_clients: dict[tuple[str | None, ...], ConfigClient] = {}
_environment_clients_lock = threading.Lock()


@contextmanager
def reading_through(client: ConfigClient) -> Iterator[Reading]:
    """Every ConfigServiceSettingsSource of the settings built inside reads through `client`
    (a live holder's, whose copies its watch keeps fresh), whatever client it was given."""
    reading = Reading(client)
    token = _reading.set(reading)
    try:
        yield reading
    finally:
        _reading.reset(token)


def _reveal_refused(client: ConfigClient, application: str) -> bool:
    with _refused_reveal_lock:
        return application in _refused_reveal.get(client, ())


def _remember_reveal_refused(client: ConfigClient, application: str) -> None:
    with _refused_reveal_lock:
        _refused_reveal.setdefault(client, set()).add(application)


def client_from_environment() -> ConfigClient:
    """The process's client for these environment variables: one, so that every load after
    the first is a conditional read, and the connections are reused."""
    variables = ("CONFIG_SERVICE_URL", "CONFIG_SERVICE_API_KEY", CACHE_DIR_VARIABLE, DEADLINE_VARIABLE)
    from .client import ConfigClient
    from .retry import RetryPolicy

    environment = tuple(os.environ.get(name) for name in variables)
    with _environment_clients_lock:
        client = _environment_clients.get(environment)
        if client is None:
            retry = RetryPolicy(deadline_s=_deadline(environment[3])) if environment[3] else None
            client = ConfigClient(cache_dir=environment[2] or None, retry=retry)
            _environment_clients[environment] = client
        return client


def _deadline(text: str) -> float:
    try:
        deadline = float(text)
    except ValueError:
        deadline = 0.0
    if not 0 < deadline < float("inf"):
        raise ValueError(f"{DEADLINE_VARIABLE} must be a number of seconds above 0, not {text!r}")
    return deadline


# --- the source -----------------------------------------------------------------------------


class ConfigServiceSettingsSource(PydanticBaseSettingsSource):
    """Named configurations of one application, merged in order (see the module's text)."""

    def __init__(
        self,
        settings_cls: type[BaseSettings],
        *,
        application: str,
        names: Sequence[str],
        client: ConfigClient | None = None,
        reveal: bool | None = None,
    ) -> None:
        super().__init__(settings_cls)
        # A lone string is a Sequence[str] too: its letters are no configuration names.
        self.names = [names] if isinstance(names, str) else list(names)
        if not self.names:
            raise ValueError("names: at least one configuration to load")
        self.application = application
        self.client = client
        self.reveal = has_secret_fields(settings_cls) if reveal is None else reveal
        self._unrevealed_advice = NOT_SECRET_TYPES if reveal is None else NOT_REVEALED
        self._values: dict[str, Any] | None = None

    def __repr__(self) -> str:
        return f"ConfigServiceSettingsSource(application={self.application!r}, names={self.names!r})"

    def __call__(self) -> dict[str, Any]:
        reading = _reading.get()
        client = reading.client if reading else self.client or client_from_environment()
        if reading:
            reading.read.update((self.application, name) for name in self.names)
        config, masked_because = self._read(client)
        shaped = shape(
            self.settings_cls,
            config,
            case_sensitive=bool(self.config.get("case_sensitive", False)),
            # What the sources above gave: pydantic-settings 2.4 and later tell a source.
            given_above=getattr(self, "current_state", None),
            masked=masked_because is not None,
        )
        advice = masked_because or self._unrevealed_advice
        if shaped.masked_required:
            raise MaskedSecretError(self.application, shaped.masked_required, advice)
        if shaped.masked_dropped:
            logger.warning(
                "Config Service gave %s's field(s) %s masked, so their defaults apply: %s",
                self.application,
                ", ".join(shaped.masked_dropped),
                advice,
            )
        self._values = shaped.values
        return shaped.values

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        # pydantic-settings calls __call__; this answers a source that composes others.
        values = self() if self._values is None else self._values
        case_sensitive = bool(self.config.get("case_sensitive", False))
        for found in field_keys(self.settings_cls, case_sensitive=case_sensitive).values():
            if found.name == field_name and found.key in values:
                return values[found.key], found.key, False
        return None, field_name, False

    def _read(self, client: ConfigClient) -> tuple[dict[str, Any], str | None]:
        """The configurations merged in order, and why they came masked (None: in plain)."""
        merged: dict[str, Any] = {}
        masked_because = None if self.reveal else self._unrevealed_advice
        if masked_because is None and _reveal_refused(client, self.application):
            masked_because = LACKS_SCOPE
        for name in self.names:
            if masked_because is None:
                try:
                    merged = deep_merge(
                        merged, client.get_configuration(self.application, name, reveal=True).config
                    )
                    continue
                except Forbidden:
                    # No `secrets` scope (or no reach at all, which the plain read will say).
                    _remember_reveal_refused(client, self.application)
                    masked_because = LACKS_SCOPE
                except ServiceUnreachable:
                    # And no copy in plain: a key without the scope never had one to keep. The
                    # masked copy still gives every other field, and the defaults of the secrets.
                    masked_because = UNREACHABLE
            merged = deep_merge(merged, client.get_configuration(self.application, name).config)
        return merged, masked_because
