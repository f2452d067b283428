from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict

from models.fields import Comments, Name
from models.requests import NotNull, RequestModel, left_out


class ApplicationCreate(RequestModel):
    name: Name
    comments: Comments | None = None


class ApplicationUpdate(RequestModel):
    """Fields left out stay as they are; `comments: null` clears the comments."""

    name: Annotated[Name, NotNull] = left_out()
    comments: Comments | None = None


class Application(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str
    name: str
    comments: str | None
    configuration_ids: list[str]
    version: int
    created_at: datetime
    updated_at: datetime
