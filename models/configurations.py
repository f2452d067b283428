from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict

from models.fields import Comments, JsonObject, Name
from models.ids import Ulid
from models.requests import NotNull, RequestModel, left_out


class ConfigurationCreate(RequestModel):
    application_id: Ulid
    name: Name
    comments: Comments | None = None
    config: JsonObject


class ConfigurationUpdate(RequestModel):
    """Fields left out stay as they are; `comments: null` clears the comments."""

    name: Annotated[Name, NotNull] = left_out()
    comments: Comments | None = None
    config: Annotated[JsonObject, NotNull] = left_out()


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
