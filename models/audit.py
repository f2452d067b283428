from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

EntityType = Literal["application", "configuration"]
Action = Literal[
    "application.created",
    "application.updated",
    "application.deleted",
    "configuration.created",
    "configuration.updated",
    "configuration.patched",
    "configuration.rolled_back",
    "configuration.deleted",
]


@dataclass(frozen=True)
class AuditContext:
    """Who made a change, and from where: recorded with every audit event."""

    actor: str = "anonymous"
    request_id: str | None = None
    client_ip: str | None = None
    user_agent: str | None = None


@dataclass(frozen=True)
class AuditFilter:
    application_id: str | None = None
    entity_type: EntityType | None = None
    entity_id: str | None = None
    action: Action | None = None
    actor: str | None = None
    since: datetime | None = None
    until: datetime | None = None


class AuditEvent(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str
    seq: int
    occurred_at: datetime
    actor: str
    action: Action
    entity_type: EntityType
    entity_id: str
    application_id: str
    version: int | None
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    note: str | None
    request_id: str | None
    client_ip: str | None
    user_agent: str | None
