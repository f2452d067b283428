from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from models.configurations import Bound, BoundSchema
from models.fields import Comments, a_json_number
from models.paging import MAX_VERSION
from models.requests import RequestModel

Change = Literal["created", "updated", "patched", "rolled_back"]


class Revision(Bound):
    """One immutable version of a configuration."""

    model_config = ConfigDict(frozen=True, populate_by_name=True, serialize_by_alias=True)

    configuration_id: str
    version: int
    name: str
    comments: str | None
    config: dict[str, Any]
    binding: BoundSchema | None = Field(None, alias="schema")
    created_at: datetime
    actor: str
    change: Change
    rolled_back_from: int | None
    note: str | None


class RollbackRequest(RequestModel):
    version: Annotated[int, BeforeValidator(a_json_number)] = Field(
        ge=1,
        le=MAX_VERSION,
        description="The version whose name, comments and config to restore",
    )
    comment: Comments | None = Field(None, description="Why; kept with the new revision")


class Diff(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    from_version: int = Field(alias="from")
    to_version: int = Field(alias="to")
    patch: list[dict[str, Any]] = Field(description="RFC 6902 JSON Patch from one config to the other")
