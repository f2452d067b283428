"""Service settings, read once from the environment (and `.env`)."""

import re
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from config.secret_keys import load_keys, parse_key

SCOPES = ("read", "write", "admin")
# What an Authorization: Bearer header can carry: one token of visible ASCII (api/auth.py).
_BEARER_TOKEN = re.compile(r"[\x21-\x7e]{1,512}")


class SettingsError(Exception):
    """Raised at start-up when a setting is invalid; the message names the setting."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore", frozen=True)

    environment: Literal["development", "production"] = "development"
    database_url: str | None = None
    data_dir: Path = Path(".data")

    db_min_connections: int = Field(1, ge=0, le=1000)
    db_max_connections: int = Field(10, ge=1, le=1000)
    db_statement_timeout_ms: int = Field(5000, ge=1)
    db_connect_timeout_s: int = Field(5, ge=1)
    # How long a request may queue for a free connection before it is refused with 503.
    db_acquire_timeout_s: float = Field(5.0, gt=0)

    max_body_bytes: int = Field(1024 * 1024, ge=1)
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = "INFO"
    log_format: Literal["text", "json"] = "text"
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=1, le=65535)
    # Host names (comma-separated) that requests may name in their Host header, besides the
    # localhost names and HOST itself; `*`: any. Refusing others stops DNS rebinding.
    allowed_hosts: str = ""
    # Longest a request may take to arrive, head and body, from its first byte.
    request_read_timeout_s: float = Field(30, gt=0)
    # Most connections one process serves at once (idle event streams count); beyond, 503.
    max_connections: int = Field(10_000, ge=1)
    migrate_on_start: bool = True
    # Longest a long poll (?wait=) is held, whatever the client asks for.
    max_wait_seconds: float = Field(300, ge=0)
    # How often an idle event stream gets a comment line, so proxies keep it open.
    sse_heartbeat_seconds: float = Field(15, gt=0)
    # Worker processes; each has its own pool of DB_MAX_CONNECTIONS and its own cache.
    web_concurrency: int = Field(1, ge=1, le=64)
    # Rendered configurations and applications kept per process (0: no cache).
    cache_entries: int = Field(10_000, ge=0)
    # An unknown body member or query parameter: a 400 (reject), or ignored with a Warning
    # header (warn), for older clients that send what this version no longer knows.
    unknown_fields: Literal["reject", "warn"] = "reject"
    # While set, a working admin key (made as "bootstrap" at start if no key has this
    # secret). Unset, a database without keys gets one written to $DATA_DIR/admin-key.
    admin_api_key: SecretStr | None = None
    # What requests without a key may do (comma-separated scopes). Empty: nothing. Meant for
    # local development and migrations of legacy clients, never for production.
    anonymous_scopes: str = ""
    # Each key's rate unless it has its own; bursts of twice as many are let through.
    rate_limit_per_second: int = Field(100, ge=1, le=1_000_000)
    # Failed authentications a client address may make a second before it gets 429.
    auth_failures_per_second: int = Field(10, ge=1, le=1_000_000)
    metrics_require_key: bool = False
    # Origins (comma-separated) whose pages may call the API from a browser; empty: CORS off.
    cors_origins: str = ""
    # The keys that seal the values schemas mark secret (services/secrets.py): base64 of 32
    # bytes each, comma-separated, the first sealing and all opening; or a file of them, one a
    # line. Neither, in development: one is made under $DATA_DIR; in production, no start.
    secrets_key: SecretStr | None = None
    secrets_key_file: Path | None = None

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper_level(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    @field_validator("admin_api_key", mode="before")
    @classmethod
    def _bearer_token(cls, value: object) -> object:
        text = value.get_secret_value() if isinstance(value, SecretStr) else value
        if text in (None, ""):
            return None
        # The value itself never goes into the message: it is a secret.
        if not isinstance(text, str) or not _BEARER_TOKEN.fullmatch(text):
            raise ValueError("must be 1 to 512 visible ASCII characters, without spaces (a bearer token)")
        return text

    @field_validator("secrets_key", mode="before")
    @classmethod
    def _secrets_keys(cls, value: object) -> object:
        text = value.get_secret_value() if isinstance(value, SecretStr) else value
        if text in (None, ""):
            return None
        try:  # the keys themselves never go into the message
            for key in str(text).split(","):
                if key.strip():
                    parse_key(key)
        except ValueError as error:
            raise ValueError(str(error)) from None
        return text

    @field_validator("anonymous_scopes")
    @classmethod
    def _known_scopes(cls, value: str) -> str:
        unknown = [scope for scope in _items(value) if scope not in SCOPES]
        if unknown:
            raise ValueError(f"unknown scope {unknown[0]!r}; the scopes are read, write and admin")
        return value

    @property
    def anonymous_scope_list(self) -> tuple[str, ...]:
        return _items(self.anonymous_scopes)

    @property
    def cors_origin_list(self) -> tuple[str, ...]:
        return _items(self.cors_origins)

    @field_validator("allowed_hosts")
    @classmethod
    def _host_names(cls, value: str) -> str:
        if "/" in value or not value.isascii():
            raise ValueError("must be host names separated by commas: ASCII (punycode), no scheme or path")
        return value

    @field_validator("database_url")
    @classmethod
    def _postgres_url(cls, value: str | None) -> str | None:
        if not value:
            return None
        if not value.startswith(("postgres://", "postgresql://")):
            raise ValueError("must be a postgresql:// URL")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> "Settings":
        if self.db_min_connections > self.db_max_connections:
            raise ValueError("DB_MIN_CONNECTIONS must not exceed DB_MAX_CONNECTIONS")
        # An embedded database inside a production container would silently lose data.
        if self.environment == "production" and self.database_url is None:
            raise ValueError("DATABASE_URL is required when ENVIRONMENT=production")
        # A key made on the spot and lost with the container would lose every secret with it.
        if self.environment == "production" and self.secrets_key is None and self.secrets_key_file is None:
            raise ValueError(
                "SECRETS_KEY or SECRETS_KEY_FILE is required when ENVIRONMENT=production: the key that "
                "seals secrets (base64 of 32 random bytes, e.g. `openssl rand -base64 32`)"
            )
        return self

    def secrets_keys(self) -> list[bytes]:
        """The keys that seal secrets, the first sealing (see secrets_key)."""
        keys = self.secrets_key.get_secret_value() if self.secrets_key else None
        return load_keys(keys, self.secrets_key_file, self.data_dir, self.environment == "production")


def _items(value: str) -> tuple[str, ...]:
    return tuple(item.strip() for item in value.split(",") if item.strip())


def load_settings(**overrides: object) -> Settings:
    """Build settings, turning pydantic's report into one line per bad setting."""
    try:
        return Settings(**overrides)
    except ValidationError as error:
        raise SettingsError(describe(error)) from None


def describe(error: ValidationError) -> str:
    """One plain sentence per problem: our own checks' words as they are (pydantic puts
    "Value error, " before them), a field's problem after the setting's name."""
    sentences = []
    for problem in error.errors():
        field = ".".join(str(part) for part in problem["loc"]).upper()
        message = problem["msg"].removeprefix("Value error, ")
        sentence = f"invalid setting {field}: {message}" if field else message
        sentences.append(sentence if sentence.endswith(".") else f"{sentence}.")
    return " ".join(sentences)


@lru_cache
def get_settings() -> Settings:
    return load_settings()
