"""The service's resources as the client returns them.

Every model allows extra members: a newer service may add fields, and an older client must
go on reading what it knows. Frozen, because the client hands out copies of what it keeps.
"""

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

# What the service sends in place of a secret value to a read without reveal=true (or a key
# without the `secrets` scope); sent back in a write, it keeps the stored secret.
MASK = "********"

_RESOURCE = ConfigDict(extra="allow", frozen=True, populate_by_name=True)


class SchemaBinding(BaseModel):
    """The schema a configuration is bound to; `version` None follows the latest."""

    model_config = _RESOURCE

    name: str
    version: int | None = None


class Application(BaseModel):
    model_config = _RESOURCE

    id: str
    name: str
    comments: str | None = None
    configuration_ids: list[str] = Field(default_factory=list)
    version: int
    created_at: datetime
    updated_at: datetime


class Configuration(BaseModel):
    """A configuration at one version. `schema_` is the member "schema" (a name pydantic's
    BaseModel keeps for itself)."""

    model_config = _RESOURCE

    id: str
    application_id: str
    name: str
    comments: str | None = None
    config: dict[str, Any]
    schema_: SchemaBinding | None = Field(None, alias="schema")
    version: int
    created_at: datetime
    updated_at: datetime


class Revision(BaseModel):
    """One immutable version of a configuration, as its history lists it."""

    model_config = _RESOURCE

    configuration_id: str
    version: int
    name: str
    comments: str | None = None
    config: dict[str, Any]
    schema_: SchemaBinding | None = Field(None, alias="schema")
    created_at: datetime
    actor: str | None = None
    change: str | None = None
    rolled_back_from: int | None = None
    note: str | None = None


class Diff(BaseModel):
    """An RFC 6902 JSON Patch from version `from_` (the member "from") to version `to`."""

    model_config = _RESOURCE

    from_: int = Field(alias="from")
    to: int
    patch: list[dict[str, Any]]


class ChangeEvent(BaseModel):
    """One committed change, as the change feed (/events) tells it: small, so that a client
    re-reads what it cares about."""

    model_config = _RESOURCE

    seq: int
    action: str
    entity_type: str
    entity_id: str
    application_id: str | None = None
    name: str | None = None
    version: int | None = None
    occurred_at: datetime
    actor: str | None = None
