from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from models.fields import Comments, JsonObject, Name
from models.ids import Ulid
from models.requests import NotNull, RequestModel, left_out
from models.schemas import SchemaBinding
from models.sealed import masked

# The member that binds a configuration to a schema (models/schemas.py says why an alias).
_BINDING = "schema"
_BINDING_DESCRIPTION = "The schema every write must pass: {name, version?}; null unbinds"


class ConfigurationCreate(RequestModel):
    application_id: Ulid
    name: Name
    comments: Comments | None = None
    config: JsonObject
    binding: SchemaBinding | None = Field(None, alias=_BINDING, description=_BINDING_DESCRIPTION)


class ConfigurationUpdate(RequestModel):
    """Fields left out stay as they are; `comments: null` clears the comments, `schema: null`
    unbinds."""

    name: Annotated[Name, NotNull] = left_out()
    comments: Comments | None = None
    config: Annotated[JsonObject, NotNull] = left_out()
    binding: SchemaBinding | None = Field(None, alias=_BINDING, description=_BINDING_DESCRIPTION)


class ConfigurationState(BaseModel):
    """The part of a configuration that changes make: what a merge patch applies to."""

    name: Name
    comments: Comments | None = None
    config: JsonObject
    binding: SchemaBinding | None = Field(None, alias=_BINDING)


# The members a merge patch may hold: ConfigurationState's, as written in JSON.
STATE_MEMBERS = ("name", "comments", "config", _BINDING)


class BoundSchema(BaseModel):
    model_config = ConfigDict(frozen=True)

    name: str
    version: int | None = Field(description="The version pinned; null: the latest")


def binding_of(row: dict) -> dict | None:
    """A stored binding (schema_name, schema_version) as the API shows it."""
    name = row.get("schema_name")
    return None if name is None else {"name": name, "version": row.get("schema_version")}


class Bound(BaseModel):
    """Read from a row, whose binding is two columns, and whose secrets are sealed: shown
    masked (a reveal opens them afterwards, services/configurations.py)."""

    @model_validator(mode="before")
    @classmethod
    def _binding_from_columns(cls, data: Any) -> Any:
        if isinstance(data, dict) and "schema_name" in data:
            data = {**data, _BINDING: binding_of(data)}
        if isinstance(data, dict) and "config" in data:  # what a reader sees: never a secret
            data = {**data, "config": masked(data["config"])}
        return data


class Configuration(Bound):
    model_config = ConfigDict(frozen=True, populate_by_name=True, serialize_by_alias=True)

    id: str
    application_id: str
    name: str
    comments: str | None
    config: dict[str, Any]
    binding: BoundSchema | None = Field(None, alias=_BINDING)
    version: int
    created_at: datetime
    updated_at: datetime
