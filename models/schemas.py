"""Schemas: named, versioned JSON Schemas, and the binding of a configuration to one.

The JSON member is called `schema`, a name pydantic's BaseModel already uses, so the fields
are `document` and `binding` with `schema` as their alias: every model here and every model
holding a binding is written and read by alias.
"""

from datetime import datetime
from functools import partial
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, WithJsonSchema
from pydantic_core import PydanticCustomError

from models.fields import Comments, Documented, JsonObject, Name, a_json_number, name_pattern, storable_json
from models.paging import MAX_VERSION
from models.requests import RequestModel

_DOCUMENT_SCHEMA = {"type": "object", "description": "A JSON Schema (2020-12)"}

SchemaDocument = Annotated[
    dict[str, Any],
    AfterValidator(lambda value: storable_json(value, "schema")),
    WithJsonSchema(_DOCUMENT_SCHEMA),
]
SchemaVersionNumber = Annotated[int, Field(ge=1, le=MAX_VERSION), BeforeValidator(a_json_number)]


def _one_path_segment(name: str) -> str:
    # A schema is addressed by its name in the path (/schemas/{name}): a "/" would split it,
    # and clients resolve "." and ".." away before the request leaves.
    if "/" in name:
        raise PydanticCustomError("schema_name_slash", "A schema's name must not contain '/'")
    if name in (".", ".."):
        raise PydanticCustomError("schema_name_dots", "A schema's name must not be '.' or '..'")
    return name


SchemaName = Annotated[Name, AfterValidator(_one_path_segment), Documented(partial(name_pattern, "/"))]


class SchemaBinding(RequestModel):
    """The schema a configuration must pass: a version pinned, or (no version) the latest."""

    model_config = ConfigDict(frozen=True)

    name: SchemaName
    version: SchemaVersionNumber | None = Field(
        None, description="Pinned version; leave out to follow the latest"
    )


class SchemaCreate(RequestModel):
    name: SchemaName
    description: Comments | None = None
    document: SchemaDocument = Field(alias="schema")


class SchemaVersionCreate(RequestModel):
    document: SchemaDocument = Field(alias="schema")


class Schema(BaseModel):
    """A schema at its latest version."""

    model_config = ConfigDict(frozen=True, populate_by_name=True, serialize_by_alias=True)

    id: str
    name: str
    description: str | None
    version: int = Field(description="The latest version")
    document: dict[str, Any] = Field(alias="schema")
    created_at: datetime
    updated_at: datetime


class SchemaVersion(BaseModel):
    model_config = ConfigDict(frozen=True, populate_by_name=True, serialize_by_alias=True)

    name: str
    version: int
    document: dict[str, Any] = Field(alias="schema")
    created_at: datetime
    actor: str


class SchemaError(BaseModel):
    """One reason a document does not pass a schema."""

    path: str = Field(description="JSON Pointer to the value in the document", examples=["/pool/max"])
    message: str = Field(examples=["500 is greater than the maximum of 200"])
    keyword: str = Field(examples=["maximum"])
    schema_path: str = Field(
        description="JSON Pointer to the keyword in the schema",
        examples=["/properties/pool/properties/max/maximum"],
    )


class ValidationRequest(RequestModel):
    config: JsonObject
    version: SchemaVersionNumber | None = Field(None, description="Default: the latest")


class ValidationResult(BaseModel):
    valid: bool
    errors: list[SchemaError]


class BrokenConfiguration(BaseModel):
    id: str
    application_id: str
    name: str
    errors: list[SchemaError]


class Compatibility(BaseModel):
    compatible: bool
    breaking: list[BrokenConfiguration] = Field(
        description="The configurations following the latest version it would refuse (the first 100)"
    )
    breaking_count: int = Field(description="How many it would refuse in all")
