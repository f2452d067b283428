"""Service settings, read once from the environment (and `.env`)."""

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


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
    migrate_on_start: bool = True
    # Longest a long poll (?wait=) is held, whatever the client asks for.
    max_wait_seconds: float = Field(300, ge=0)
    # How often an idle event stream gets a comment line, so proxies keep it open.
    sse_heartbeat_seconds: float = Field(15, gt=0)
    # Worker processes; each has its own pool of DB_MAX_CONNECTIONS and its own cache.
    web_concurrency: int = Field(1, ge=1, le=64)
    # Rendered configurations and applications kept per process (0: no cache).
    cache_entries: int = Field(10_000, ge=0)

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper_level(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

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
        return self


def load_settings(**overrides: object) -> Settings:
    """Build settings, turning pydantic's report into one line per bad setting."""
    try:
        return Settings(**overrides)
    except ValidationError as error:
        raise SettingsError(describe(error)) from None


def describe(error: ValidationError) -> str:
    lines = []
    for problem in error.errors():
        field = ".".join(str(part) for part in problem["loc"]).upper()
        name = field or "settings"
        lines.append(f"invalid setting {name}: {problem['msg']}")
    return "; ".join(lines)


@lru_cache
def get_settings() -> Settings:
    return load_settings()
