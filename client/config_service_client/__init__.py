"""Config Service's Python client: reads with a last-known-good copy, live changes, a
pydantic-settings source and the `config-service` command."""

from config_service_client.client import AsyncConfigClient, ConfigClient
from config_service_client.errors import (
    BadRequest,
    ConfigServiceError,
    Conflict,
    Forbidden,
    NotFound,
    PreconditionFailed,
    ProblemError,
    ServerError,
    ServiceUnreachable,
    TooManyRequests,
    Unauthorized,
)
from config_service_client.flags import FlagEvaluation, Flags
from config_service_client.live import LiveSettings
from config_service_client.models import (
    Application,
    ChangeEvent,
    Configuration,
    Diff,
    Revision,
    SchemaBinding,
)
from config_service_client.retry import RetryPolicy
from config_service_client.settings import ConfigServiceSettingsSource, MaskedSecretError, reading_through
from config_service_client.watch import AsyncWatch, Change, Watch

__all__ = [
    "Application",
    "AsyncConfigClient",
    "AsyncWatch",
    "BadRequest",
    "Change",
    "ChangeEvent",
    "ConfigClient",
    "ConfigServiceError",
    "ConfigServiceSettingsSource",
    "Configuration",
    "Conflict",
    "Diff",
    "FlagEvaluation",
    "Flags",
    "Forbidden",
    "LiveSettings",
    "MaskedSecretError",
    "NotFound",
    "PreconditionFailed",
    "ProblemError",
    "RetryPolicy",
    "Revision",
    "SchemaBinding",
    "ServerError",
    "ServiceUnreachable",
    "TooManyRequests",
    "Unauthorized",
    "Watch",
    "reading_through",
]
