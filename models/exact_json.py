"""JSON whose numbers are kept exactly, as PostgreSQL's jsonb keeps them (as `numeric`).

Python's JSON parser makes every number with a fraction or an exponent a float, so
`1234567890123456789012345.67890123456789` became `1.2345678901234568e+24` and `1e-400`
became `0.0`, silently. Here a number stays a float when the float gives back the same number
(the common case, `0.1` or `1e20`, costs nothing more), and becomes an ExactNumber, a
`decimal.Decimal`, otherwise; so does an integer too long for Python's int conversion.

Neither `json.dumps` nor pydantic writes a Decimal as a bare number, so an exact number
travels through the JSON text this service writes as a *mark*: the string
"\\u0000<number>\\u0000". No stored string can hold a NUL (PostgreSQL refuses it, and so does
models/fields.py), so a mark is never anything else; one substitution over the finished text
turns each mark into the bare number, and is skipped when the text holds no `\\u0000` at all.
"""

import json
import re
from decimal import Decimal
from typing import Any

from pydantic_core import SchemaSerializer, core_schema


def mark(number: Decimal) -> str:
    return f"\x00{number}\x00"


class ExactNumber(Decimal):
    """A number from JSON that a float would change.

    pydantic writes it as its mark in JSON, wherever it is in a model (in a `dict[str, Any]`,
    say), as it writes a model it finds there: by the type's own serializer. No response
    model needs to know of it, and a document without one is not walked.
    """

    __slots__ = ()
    __pydantic_serializer__ = SchemaSerializer(
        core_schema.any_schema(
            serialization=core_schema.plain_serializer_function_ser_schema(mark, when_used="json")
        )
    )


# How a mark looks once written as a JSON string, by json.dumps or by pydantic.
_WRITTEN_MARK = re.compile(r'"\\u0000(-?[0-9][0-9.Ee+-]*)\\u0000"')
_WRITTEN_MARK_BYTES = re.compile(_WRITTEN_MARK.pattern.encode())


def exact_float(text: str) -> float | ExactNumber:
    number = float(text)
    shown = repr(number)  # what json.dumps writes back (pydantic writes the same number)
    if shown == text or Decimal(shown) == Decimal(text):
        return number
    return ExactNumber(text)


def exact_int(text: str) -> int | ExactNumber:
    try:
        return int(text)
    except ValueError:  # beyond sys.get_int_max_str_digits()
        return ExactNumber(text)


def loads(text: str | bytes) -> Any:
    try:
        return json.loads(text, parse_float=exact_float)
    except json.JSONDecodeError:
        raise
    except ValueError:
        # An integer too long for int(): rare, so only then is each integer parsed by hand.
        return json.loads(text, parse_float=exact_float, parse_int=exact_int)


def dumps(value: Any) -> str:
    """JSON text, with Decimals and marks written as bare numbers."""
    return unmarked(json.dumps(value, default=_marked_decimal))


def _marked_decimal(value: Any) -> str:
    if isinstance(value, Decimal):
        return mark(value)
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def unmarked(text: str) -> str:
    return _WRITTEN_MARK.sub(r"\1", text) if "\\u0000" in text else text


def unmarked_bytes(body: bytes) -> bytes:
    return _WRITTEN_MARK_BYTES.sub(rb"\1", body) if b"\\u0000" in body else body
