"""Identifiers: ULIDs, made by the service, stored as 26 upper-case Crockford base32 chars.

Their text order is their time order, so listing by id lists by creation time.
"""

import re
from typing import Annotated

from pydantic import AfterValidator, BeforeValidator, WithJsonSchema
from ulid import LaxMonotonicPolicy, ULIDGenerator

ULID_PATTERN = re.compile(r"[0-7][0-9A-HJKMNP-TV-Z]{25}")

# Monotonic within a millisecond, so ids made by one process sort in the order they were made.
_generator = ULIDGenerator(policy=LaxMonotonicPolicy())


def new_id() -> str:
    return str(_generator.generate())


def normalize_id(raw: str) -> str | None:
    """The canonical form of `raw`, or None when it cannot be a ULID (Crockford is case-blind).

    ASCII only: Unicode upper-casing turns "ſ" into "S" and "ß" into "SS".
    """
    if not raw.isascii():
        return None
    candidate = raw.upper()
    return candidate if ULID_PATTERN.fullmatch(candidate) else None


def _require_ulid(value: str) -> str:
    normalized = normalize_id(value)
    if normalized is None:
        raise ValueError("must be a ULID (26 characters, Crockford base32)")
    return normalized


def _text_only(value: object) -> object:
    if not isinstance(value, str):
        raise ValueError("must be a ULID string")
    return value


# In either case, as normalize_id accepts it: what the OpenAPI document says an id is.
ULID_JSON_SCHEMA = {"type": "string", "pattern": "^[0-7][0-9A-HJKMNP-TV-Za-hjkmnp-tv-z]{25}$"}

Ulid = Annotated[
    str, BeforeValidator(_text_only), AfterValidator(_require_ulid), WithJsonSchema(ULID_JSON_SCHEMA)
]
