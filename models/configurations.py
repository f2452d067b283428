from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, field_validator

from models.fields import Comments, JsonObject, Name
from models.ids import Ulid


class ConfigurationCreate(BaseModel):
    application_id: Ulid
    name: Name
    comments: Comments | None = None
    config: JsonObject


class ConfigurationUpdate(BaseModel):
    """Fields left out stay as they are; `comments: null` clears the comments."""

    name: Name | None = None
    comments: Comments | None = None
    config: JsonObject | None = None

    @field_validator("name", "config")
    @classmethod
    def _not_null(cls, value: Any, info) -> Any:
        if value is None:
            raise ValueError(f"{info.field_name} cannot be null; leave it out to keep it")
        return value


class ConfigurationState(BaseModel):
    """The part of a configuration that changes make: what a merge patch applies to."""

    name: Name
    comments: Comments | None = None
    config: JsonObject


class Configuration(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str
    application_id: str
    name: str
    comments: str | None
    config: dict[str, Any]
    version: int
    created_at: datetime
    updated_at: datetime
