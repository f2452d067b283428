"""Field types shared by request models, with the limits PostgreSQL imposes on stored text.

PostgreSQL cannot store NUL in text or jsonb, nor text that is not valid UTF-8 (a lone
surrogate from a JSON `\\ud800` escape), nor the non-finite numbers Python's JSON parser
accepts (`NaN`, `Infinity`), nor a number beyond what `numeric` holds (`1e-20000`). Each
is refused here, as a 400 naming where it was found, instead of surfacing from the driver
as a 500.

Nesting is limited too: a document 500 levels deep was stored, and then could not be
serialized into the response. No configuration needs more than MAX_JSON_DEPTH levels.
"""

import json
import math
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, GetJsonSchemaHandler, StringConstraints, WithJsonSchema
from pydantic_core import PydanticCustomError

MAX_JSON_DEPTH = 100
# What PostgreSQL's numeric, and so a number in jsonb, can hold; beyond, "value overflows".
MAX_NUMERIC_SCALE = 16383
MAX_NUMERIC_INTEGER_DIGITS = 131072

_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _text_problem(text: str) -> str | None:
    match = _UNSTORABLE.search(text)
    if match is None:
        return None
    if match.group() == "\x00":
        return "contains a NUL character (\\u0000)"
    return "contains a lone UTF-16 surrogate"


def is_storable(text: str) -> bool:
    """Whether PostgreSQL can store (or compare) the text."""
    return _text_problem(text) is None


def a_json_number(value: Any) -> Any:
    """A number as JSON writes one: `true` or "2" is a mistake to report, not a number to
    guess (pydantic's lax mode takes both); 2.0 is the number 2, as JSON Schema's "integer"
    says. For a BeforeValidator."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise PydanticCustomError("int_type", "Input should be an integer")
    return value


def storable_text(value: str) -> str:
    problem = _text_problem(value)
    if problem:
        raise PydanticCustomError("unstorable_text", "Text {problem}", {"problem": problem})
    return value


def _child_path(path: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    if _IDENTIFIER.fullmatch(key):
        return f"{path}.{key}"
    # JSON-quoted, with any lone surrogate spelled out: the path is echoed in the response.
    quoted = json.dumps(key, ensure_ascii=False).encode("utf-8", "backslashreplace").decode()
    return f"{path}[{quoted}]"


def _numeric_problem(number: Decimal) -> str | None:
    _, digits, exponent = number.as_tuple()
    if -exponent > MAX_NUMERIC_SCALE:
        return f"has more than {MAX_NUMERIC_SCALE} digits after the decimal point"
    if number and len(digits) + exponent > MAX_NUMERIC_INTEGER_DIGITS:
        return f"has more than {MAX_NUMERIC_INTEGER_DIGITS} digits before the decimal point"
    return None


def _json_problem(root: Any, root_path: str) -> tuple[str, str] | None:
    """The first value in a parsed JSON document PostgreSQL would refuse: (path, problem).

    Iterative, because documents may nest deeper than Python's recursion limit allows.
    """
    pending = [(root_path, root, 0)]
    while pending:
        path, value, depth = pending.pop()
        if depth > MAX_JSON_DEPTH:
            return path, f"nested deeper than {MAX_JSON_DEPTH} levels"
        if isinstance(value, str):
            problem = _text_problem(value)
            if problem:
                return path, f"string {problem}"
        elif isinstance(value, float):
            if not math.isfinite(value):
                return path, "number is not finite (NaN and Infinity are not JSON)"
        elif isinstance(value, Decimal):  # an exact number (models/exact_json.py)
            problem = _numeric_problem(value)
            if problem:
                return path, f"number {problem}"
        elif isinstance(value, dict):
            for key, item in value.items():
                child = _child_path(path, key)
                problem = _text_problem(key)
                if problem:
                    return child, f"key {problem}"
                pending.append((child, item, depth + 1))
        elif isinstance(value, list):
            pending.extend((_child_path(path, index), item, depth + 1) for index, item in enumerate(value))
    return None


def storable_json(value: dict[str, Any], root: str = "config") -> dict[str, Any]:
    """`value`, if PostgreSQL can store it; else an error naming where, under `root`."""
    found = _json_problem(value, root)
    if found:
        path, problem = found
        raise PydanticCustomError("unstorable_json", "{problem}", {"path": path, "problem": problem})
    return value


def storable_value(value: Any) -> Any:
    """Any JSON value, if PostgreSQL can store it (as storable_json, for what is not an object)."""
    found = _json_problem(value, "value")
    if found:
        path, problem = found
        raise PydanticCustomError("unstorable_json", "{problem}", {"path": path, "problem": problem})
    return value


def _nfc(value: Any) -> Any:
    # Anything but text is left for pydantic to refuse as it would anyway.
    return unicodedata.normalize("NFC", value) if isinstance(value, str) else value


# Characters a name may not hold: control characters (Cc), line and paragraph separators
# (Zl, Zp), which end a line as a control character does, and the invisible format
# characters (Cf) but for the joiners U+200C and U+200D, which Persian, the Indic scripts
# and emoji sequences need; the others (bidi overrides and isolates, zero-width space, soft
# hyphen, BOM) only make one name look like another, or reorder how it is shown.
# Written out as of Unicode 15.0 rather than read from `unicodedata`, whose version follows
# Python's: the rule, and the OpenAPI document stating it, are the same on every Python.
_UNSEEN_RANGES = (
    (0x0000, 0x001F), (0x007F, 0x009F), (0x00AD, 0x00AD), (0x0600, 0x0605), (0x061C, 0x061C),
    (0x06DD, 0x06DD), (0x070F, 0x070F), (0x0890, 0x0891), (0x08E2, 0x08E2), (0x180E, 0x180E),
    (0x200B, 0x200B), (0x200E, 0x200F), (0x2028, 0x202E), (0x2060, 0x2064), (0x2066, 0x206F),
    (0xFEFF, 0xFEFF), (0xFFF9, 0xFFFB), (0x110BD, 0x110BD), (0x110CD, 0x110CD), (0x13430, 0x1343F),
    (0x1BCA0, 0x1BCA3), (0x1D173, 0x1D17A), (0xE0001, 0xE0001), (0xE0020, 0xE007F),
)  # fmt: skip
# What str.isspace() calls white space (the same on every supported Python).
_SPACE_RANGES = (
    (0x0009, 0x000D), (0x001C, 0x0020), (0x0085, 0x0085), (0x00A0, 0x00A0), (0x1680, 0x1680),
    (0x2000, 0x200A), (0x2028, 0x2029), (0x202F, 0x202F), (0x205F, 0x205F), (0x3000, 0x3000),
)  # fmt: skip


def _character_class(ranges: tuple[tuple[int, int], ...]) -> str:
    """The ranges for a regular expression's [...], each character written as itself: a
    `\\u` escape would mean another thing to each regex dialect (Python's, ECMA's)."""
    return "".join(chr(a) if a == b else f"{chr(a)}-{chr(b)}" for a, b in ranges)


_UNSEEN = re.compile(f"[{_character_class(_UNSEEN_RANGES)}]")


def _name_rules(value: str) -> str:
    if not value.strip():
        raise PydanticCustomError("name_blank", "Name must not be blank")
    if value != value.strip():
        raise PydanticCustomError("name_whitespace", "Name must not begin or end with whitespace")
    unseen = _UNSEEN.search(value)
    if unseen:
        raise PydanticCustomError(
            "name_control_character",
            "Name must not contain control or invisible formatting characters (found U+{code})",
            {"code": f"{ord(unseen.group()):04X}"},
        )
    return value


def name_pattern(also_refused: str = "") -> str:
    """The name rules below as a JSON Schema pattern, for the OpenAPI document (and the
    fuzzing that reads it); a kind of name may refuse more characters (`also_refused`)."""
    unseen, space = _character_class(_UNSEEN_RANGES) + also_refused, _character_class(_SPACE_RANGES)
    return f"^[^{space}{unseen}]([^{unseen}]*[^{space}{unseen}])?$"


@dataclass(frozen=True)
class Documented:
    """Adds a `pattern`, given by a function, to a type's JSON Schema."""

    pattern: Callable[[], str]

    def __get_pydantic_json_schema__(self, core_schema: Any, handler: GetJsonSchemaHandler) -> dict[str, Any]:
        return handler(core_schema) | {"pattern": self.pattern()}


def storable_pattern() -> str:
    return "^[^\x00]*$"  # a NUL, as itself (storable_text refuses it)


# What names a thing (an application, a configuration, and every kind named later): one
# spelling per name, so that "café" written composed or decomposed is one name, unique as such.
# (A BeforeValidator wraps what stands before it: the limits count the normalised name.)
Name = Annotated[
    str,
    StringConstraints(min_length=1, max_length=256),
    BeforeValidator(_nfc),
    AfterValidator(storable_text),
    AfterValidator(_name_rules),
    Documented(name_pattern),
]
# Text compared with stored text, as in a filter: what could not be stored cannot match, but
# PostgreSQL refuses a NUL even in a comparison. Normalised as names are, so a lookup finds one.
SearchText = Annotated[
    str,
    StringConstraints(max_length=256),
    BeforeValidator(_nfc),
    AfterValidator(storable_text),
    Documented(storable_pattern),
]
Comments = Annotated[
    str, StringConstraints(max_length=1024), AfterValidator(storable_text), Documented(storable_pattern)
]
# Any JSON, as storable_json admits it: no NUL in a string or a key (the depth limit is left
# unsaid). The OpenAPI document holds it as a component (api/schema.py), for it refers to itself.
JSON_VALUE = "JsonValue"
_JSON_VALUE_REF = {"$ref": f"#/components/schemas/{JSON_VALUE}"}
JSON_VALUE_SCHEMA = {
    "anyOf": [
        {"type": "string", "pattern": storable_pattern()},
        {"type": "number"},
        {"type": "boolean"},
        {"type": "null"},
        {"type": "array", "items": _JSON_VALUE_REF},
        {
            "type": "object",
            "additionalProperties": _JSON_VALUE_REF,
            "propertyNames": {"pattern": storable_pattern()},
        },
    ]
}
_JSON_OBJECT_SCHEMA = JSON_VALUE_SCHEMA["anyOf"][-1]

JsonObject = Annotated[dict[str, Any], AfterValidator(storable_json), WithJsonSchema(_JSON_OBJECT_SCHEMA)]


# PostgreSQL refuses a UTC offset of 16 hours or more; Python accepts up to 24.
_MAX_UTC_OFFSET_S = 16 * 3600


def _storable_offset(moment: datetime) -> datetime:
    offset = moment.utcoffset()
    if offset is not None and abs(offset.total_seconds()) >= _MAX_UTC_OFFSET_S:
        raise PydanticCustomError("timezone_offset", "The UTC offset must be within -15:59 and +15:59")
    return moment


_DATE_FIRST = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def _written_as_a_date(value: Any) -> Any:
    # pydantic would also read "0.5" or "1700000000" as seconds since 1970: not what anyone
    # filtering by time means, and not the date-time the OpenAPI document promises.
    if isinstance(value, str) and not _DATE_FIRST.match(value):
        raise PydanticCustomError(
            "datetime_format", "Input should be a date and time such as 2024-05-01T12:00:00Z"
        )
    return value


def _offset_pattern() -> str:
    return r"^(?!.*[+-](1[6-9]|2[0-9]):?[0-9]{2}$)"


# A moment compared with stored ones.
Timestamp = Annotated[
    datetime,
    BeforeValidator(_written_as_a_date),
    AfterValidator(_storable_offset),
    Documented(_offset_pattern),
]
