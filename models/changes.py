from datetime import datetime

from pydantic import BaseModel, ConfigDict

from models.audit import Action, EntityType

MAX_SEQ = 2**63 - 1  # audit_events.seq is a bigint


class ChangeEvent(BaseModel):
    """One committed change, as the change feed tells it: small, so clients re-read
    (conditionally) what they need."""

    model_config = ConfigDict(frozen=True)

    seq: int
    action: Action
    entity_type: EntityType
    entity_id: str
    application_id: str | None  # None: a change to what belongs to no application (a key)
    name: str | None
    version: int | None
    occurred_at: datetime
    actor: str
