from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, model_validator

from models.sealed import masked

EntityType = Literal["application", "configuration", "api_key", "schema", "flag"]
Action = Literal[
    "application.created",
    "application.updated",
    "application.deleted",
    "configuration.created",
    "configuration.updated",
    "configuration.patched",
    "configuration.rolled_back",
    "configuration.deleted",
    "configuration.revealed",
    "configuration.scrubbed",
    "api_key.created",
    "api_key.revoked",
    "schema.created",
    "schema.versioned",
    "schema.deleted",
    "flag.created",
    "flag.updated",
    "flag.patched",
    "flag.rolled_back",
    "flag.deleted",
]


@dataclass(frozen=True)
class AuditContext:
    """Who made a change, and from where: recorded with every audit event."""

    actor: str = "anonymous"
    # Whom the actor says it acts for (the X-Actor header beside a key): recorded, not trusted.
    on_behalf_of: str | None = None
    request_id: str | None = None
    client_ip: str | None = None
    user_agent: str | None = None
    # The applications the caller may change (None: all). Not recorded: it bounds the change.
    reach: frozenset[str] | None = None


@dataclass(frozen=True)
class AuditFilter:
    application_id: str | None = None
    entity_type: EntityType | None = None
    entity_id: str | None = None
    action: Action | None = None
    actor: str | None = None
    on_behalf_of: str | None = None
    # What the reader may see: the applications its key reaches (None: all), and whether
    # events of keys, which belong to no application, are for its eyes.
    reach: frozenset[str] | None = None
    keys_visible: bool = True
    since: datetime | None = None
    until: datetime | None = None


class AuditEvent(BaseModel):
    model_config = ConfigDict(frozen=True)

    @model_validator(mode="before")
    @classmethod
    def _secrets_masked(cls, data: Any) -> Any:
        # The images hold secrets sealed: a reader of the log sees that one was there, masked.
        if isinstance(data, dict):
            data = {**data, **{side: masked(data.get(side)) for side in ("before", "after") if side in data}}
        return data

    id: str
    seq: int
    occurred_at: datetime
    actor: str
    on_behalf_of: str | None
    action: Action
    entity_type: EntityType
    entity_id: str
    application_id: str | None
    version: int | None
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    note: str | None
    request_id: str | None
    client_ip: str | None
    user_agent: str | None
