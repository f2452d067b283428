"""Field types shared by request models, with the limits PostgreSQL imposes on stored text.

PostgreSQL cannot store NUL in text or jsonb, nor text that is not valid UTF-8 (a lone
surrogate from a JSON `\\ud800` escape), nor the non-finite numbers Python's JSON parser
accepts (`NaN`, `Infinity`). Each is refused here, as a 400 naming where it was found,
instead of surfacing from the driver as a 500.

Nesting is limited too: a document 500 levels deep was stored, and then could not be
serialized into the response. No configuration needs more than MAX_JSON_DEPTH levels.
"""

import json
import math
import re
from typing import Annotated, Any

from pydantic import AfterValidator, StringConstraints
from pydantic_core import PydanticCustomError

MAX_JSON_DEPTH = 100

_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _text_problem(text: str) -> str | None:
    match = _UNSTORABLE.search(text)
    if match is None:
        return None
    if match.group() == "\x00":
        return "contains a NUL character (\\u0000)"
    return "contains a lone UTF-16 surrogate"


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


def storable_json(value: dict[str, Any]) -> dict[str, Any]:
    found = _json_problem(value, "config")
    if found:
        path, problem = found
        raise PydanticCustomError("unstorable_json", "{problem}", {"path": path, "problem": problem})
    return value


Name = Annotated[str, StringConstraints(min_length=1, max_length=256), AfterValidator(storable_text)]
# Text compared with stored text, as in a filter: what could not be stored cannot match, but
# PostgreSQL refuses a NUL even in a comparison.
SearchText = Annotated[str, StringConstraints(max_length=256), AfterValidator(storable_text)]
Comments = Annotated[str, StringConstraints(max_length=1024), AfterValidator(storable_text)]
JsonObject = Annotated[dict[str, Any], AfterValidator(storable_json)]
