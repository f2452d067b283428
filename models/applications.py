from datetime import datetime

from pydantic import BaseModel, ConfigDict, field_validator

from models.fields import Comments, Name


class ApplicationCreate(BaseModel):
    name: Name
    comments: Comments | None = None


class ApplicationUpdate(BaseModel):
    """Fields left out stay as they are; `comments: null` clears the comments."""

    name: Name | None = None
    comments: Comments | None = None

    @field_validator("name")
    @classmethod
    def _name_not_null(cls, value: str | None) -> str:
        if value is None:
            raise ValueError("name cannot be null; leave it out to keep the current name")
        return value


class Application(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str
    name: str
    comments: str | None
    configuration_ids: list[str]
    version: int
    created_at: datetime
    updated_at: datetime
