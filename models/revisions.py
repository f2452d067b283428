from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from models.fields import Comments
from models.paging import MAX_VERSION

Change = Literal["created", "updated", "patched", "rolled_back"]


class Revision(BaseModel):
    """One immutable version of a configuration."""

    model_config = ConfigDict(frozen=True)

    configuration_id: str
    version: int
    name: str
    comments: str | None
    config: dict[str, Any]
    created_at: datetime
    actor: str
    change: Change
    rolled_back_from: int | None
    note: str | None


class RollbackRequest(BaseModel):
    # Strict: `true` or "2" is a mistake to report, not a version to guess.
    version: int = Field(
        ge=1,
        le=MAX_VERSION,
        strict=True,
        description="The version whose name, comments and config to restore",
    )
    comment: Comments | None = Field(None, description="Why; kept with the new revision")


class Diff(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    from_version: int = Field(alias="from")
    to_version: int = Field(alias="to")
    patch: list[dict[str, Any]] = Field(description="RFC 6902 JSON Patch from one config to the other")
