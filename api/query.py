"""Query parameters read by hand, for the hottest read routes.

FastAPI's declared parameters and dependencies cost 15-35 µs each per request here, which
on a cached read is most of its time (bench/README.md). These helpers check the same limits
and fail in the same shape (a 400 naming the parameter); the routes still declare the
parameters for the OpenAPI document, through `openapi_extra`.
"""

import math
from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError


def optional_number(
    request: Request,
    name: str,
    kind: type[int] | type[float],
    *,
    minimum: float,
    maximum: float | None = None,
) -> Any:
    raw = request.query_params.get(name)
    if raw is None:
        return None
    try:
        value = kind(raw)
    except ValueError:
        noun = "an integer" if kind is int else "a number"
        raise _invalid(name, f"Input should be {noun}", f"{kind.__name__}_parsing") from None
    if not math.isfinite(value):
        raise _invalid(name, "Input should be a finite number", "finite_number")
    if value < minimum:
        raise _invalid(name, f"Input should be greater than or equal to {minimum}", "greater_than_equal")
    if maximum is not None and value > maximum:
        raise _invalid(name, f"Input should be less than or equal to {maximum}", "less_than_equal")
    return value


_TRUE = frozenset({"true", "1", "yes", "on"})
_FALSE = frozenset({"false", "0", "no", "off"})


def optional_flag(request: Request, name: str) -> bool:
    """A boolean query parameter, as FastAPI reads one (true/false, 1/0, yes/no, on/off)."""
    raw = request.query_params.get(name)
    if raw is None or raw.lower() in _FALSE:
        return False
    if raw.lower() in _TRUE:
        return True
    raise _invalid(name, "Input should be a valid boolean, unable to interpret input", "bool_parsing")


def _invalid(name: str, message: str, kind: str) -> RequestValidationError:
    return RequestValidationError([{"loc": ("query", name), "msg": message, "type": kind}])


def described(*parameters: dict[str, Any]) -> dict[str, Any]:
    """`openapi_extra` documenting parameters a route reads by hand."""
    return {"parameters": list(parameters)}


def query_parameter(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
    nullable = {"anyOf": [schema, {"type": "null"}], "description": description, "title": name.title()}
    return {"description": description, "in": "query", "name": name, "required": False, "schema": nullable}


def header_parameter(name: str, description: str, pattern: str | None = None) -> dict[str, Any]:
    schema = {"anyOf": [{"type": "string"}, {"type": "null"}], "description": description, "title": name}
    if pattern is not None:
        schema["pattern"] = pattern
    return {"description": description, "in": "header", "name": name, "required": False, "schema": schema}


def at_most_pattern(limit: int) -> str:
    """A pattern for the ASCII digit strings naming a number from 0 to `limit` (leading zeros
    allowed): how a header read by hand as a bounded number is documented."""
    digits = str(limit)
    shorter = [f"[0-9]{{1,{len(digits) - 1}}}"] if len(digits) > 1 else []
    same_length = [
        f"{digits[:i]}[0-{int(digit) - 1}][0-9]{{{len(digits) - i - 1}}}"
        for i, digit in enumerate(digits)
        if digit != "0"
    ]
    return f"^0*({'|'.join([*shorter, *same_length, digits])})$"
