"""Request bodies refuse the members they do not define.

For a config store, `{"confg": {...}}` accepted and ignored is a lost change, so every request
model derives from RequestModel: an unknown member is an `extra_forbidden` error naming it (a
400). An operator whose older clients send members this service does not know may tolerate
them instead (UNKNOWN_FIELDS=warn): the api layer then opens `tolerating_unknown_fields()`
around the request, and the members are left out before validation and collected, for the
response to report (api/strict.py).

A context variable, because FastAPI validates the body before any code of ours sees it, and
offers no way to hand a validation context to pydantic.
"""

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator
from pydantic_core import PydanticCustomError

# The unknown members left out so far in this request; None: they are refused.
_tolerated: ContextVar[list[str] | None] = ContextVar("tolerated_unknown_fields", default=None)


@contextmanager
def tolerating_unknown_fields() -> Iterator[list[str]]:
    """Within it, unknown members are left out, and listed in what it yields."""
    found: list[str] = []
    token = _tolerated.set(found)
    try:
        yield found
    finally:
        _tolerated.reset(token)


def unknown_members(document: dict[str, Any], known: Iterable[str]) -> list[str]:
    known = set(known)
    return [member for member in document if member not in known]


def without_tolerated(document: dict[str, Any], known: Iterable[str]) -> dict[str, Any]:
    """`document` without its unknown members if they are tolerated (and noted); else as it is."""
    found = _tolerated.get()
    unknown = unknown_members(document, known) if found is not None else []
    if not unknown:
        return document
    found.extend(unknown)
    return {member: value for member, value in document.items() if member not in unknown}


class RequestModel(BaseModel):
    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _leave_out_tolerated(cls, data: Any) -> Any:
        if not isinstance(data, dict) or _tolerated.get() is None:
            return data
        known = [*cls.model_fields, *(field.alias for field in cls.model_fields.values() if field.alias)]
        return without_tolerated(data, known)


def _refuse_null(value: Any) -> Any:
    if value is None:
        raise PydanticCustomError("null_not_allowed", "Cannot be null; leave it out to keep it as it is")
    return value


def _without_default(schema: dict[str, Any]) -> None:
    schema.pop("default", None)  # null, which the schema does not allow


# A member of a partial update that is either sent with a value or left out (it then keeps
# what it is); null is refused: `name: Annotated[Name, NotNull] = left_out()`.
NotNull = BeforeValidator(_refuse_null)


def left_out(**kwargs: Any) -> Any:
    return Field(None, json_schema_extra=_without_default, **kwargs)
