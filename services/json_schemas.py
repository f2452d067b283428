"""JSON Schema 2020-12: checking a schema, compiling it once, and explaining a document's errors.

jsonschema-rs does the work. On a 1 KB configuration against a schema of about 30 nested
properties with patterns and formats, it validates in about 3 µs where the reference
implementation (`jsonschema`) takes 300–650 µs on this machine (bench/validators.py measures
both, in every `pipenv run bench`).

A schema may refer only to itself (`#/$defs/...`). The service never fetches anything a
schema names: a reference the document cannot resolve is refused when the schema is checked,
by a retriever that fetches nothing, so no URL a client writes is ever requested (no SSRF).
The 2020-12 metaschemas are built into the validator, and a reference to them resolves
without a request.
"""

import threading
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import jsonschema_rs

from models.errors import MAX_ERRORS, InvalidSchema, quoted
from models.exact_json import ExactNumber
from models.json_pointer import along, at, pointer

DIALECT = "https://json-schema.org/draft/2020-12/schema"
# An error's message repeats the value it is about; a large object is cut short.
MAX_MESSAGE_LENGTH = 500
COMPILED_SCHEMAS_KEPT = 1_000

_METASCHEMA = jsonschema_rs.Draft202012Validator({"$ref": DIALECT}, offline=True)


class _Refused(Exception):
    """A reference to a document other than the schema itself."""


def _fetch_nothing(uri: str) -> Any:
    raise _Refused(uri)


def _message(text: str) -> str:
    first_line = text.split("\n", 1)[0]
    if len(first_line) <= MAX_MESSAGE_LENGTH:
        return first_line
    return first_line[: MAX_MESSAGE_LENGTH - 1] + "…"


def _explained(errors: Iterable[Any]) -> list[dict[str, str]]:
    """Each error by where it is in the document, what it is, the keyword it broke and
    where that keyword is in the schema; at most MAX_ERRORS."""
    explained = []
    for error in errors:
        explained.append(
            {
                "path": pointer(error.instance_path),
                "message": _message(error.message),
                "keyword": error.kind.name,
                "schema_path": pointer(error.schema_path),
            }
        )
        if len(explained) == MAX_ERRORS:
            break
    return explained


def _plain_numbers(document: Any) -> Any:
    """The document with each exact number (models/exact_json.py) a plain Decimal: jsonschema-rs
    reads a Decimal, but refuses a subclass of one (ValueError: Unsupported type)."""
    root: list[Any] = [None]
    pending: list[tuple[Any, Any, Any]] = [(document, root, 0)]
    while pending:
        value, parent, key = pending.pop()
        if isinstance(value, dict):
            copy: Any = {}
            pending.extend((item, copy, name) for name, item in value.items())
        elif isinstance(value, list):
            copy = [None] * len(value)
            pending.extend((item, copy, index) for index, item in enumerate(value))
        else:
            copy = Decimal(value) if isinstance(value, ExactNumber) else value
        parent[key] = copy
    return root[0]


def compile_schema(document: dict[str, Any]) -> jsonschema_rs.Validator:
    """The validator of a schema, or InvalidSchema with every reason it is not valid
    JSON Schema 2020-12."""
    document = _plain_numbers(document)
    declared = document.get("$schema", DIALECT)
    if not isinstance(declared, str) or declared.rstrip("#") != DIALECT:
        raise InvalidSchema(
            [
                {
                    "path": "/$schema",
                    "message": f"Only JSON Schema 2020-12 is supported: $schema must be {quoted(DIALECT)}",
                    "keyword": "$schema",
                    "schema_path": "",
                }
            ]
        )
    reasons = _explained(_METASCHEMA.iter_errors(document))
    if reasons:
        raise InvalidSchema(reasons)
    try:
        return jsonschema_rs.Draft202012Validator(document, validate_formats=True, retriever=_fetch_nothing)
    except jsonschema_rs.ValidationError as error:
        raise InvalidSchema([_compile_error(error)]) from None
    except (jsonschema_rs.ReferencingError, ValueError) as error:  # whatever else it cannot compile
        raise InvalidSchema([_reference_error(str(error))]) from None


def _compile_error(error: Any) -> dict[str, str]:
    message = str(error)
    if "retrieving it failed" in message or "not present in a registry" in message:
        return _reference_error(message)
    return {
        "path": pointer(error.instance_path),
        "message": _message(error.message),
        "keyword": error.kind.name,
        "schema_path": pointer(error.schema_path),
    }


def _reference_error(message: str) -> dict[str, str]:
    # "Resource 'http://...' is not present in a registry and retrieving it failed: ..."
    named = message.split("'")[1] if message.count("'") >= 2 else None
    if named is not None and "retriev" in message:
        text = (
            f"$ref {quoted(named)} is outside this schema: the service never fetches a schema; "
            "put what it refers to under $defs and refer to it as #/$defs/..."
        )
        return {"path": "", "message": text, "keyword": "$ref", "schema_path": ""}
    keyword = "$ref" if "Pointer" in message else ""  # a reference into the document, dangling
    return {"path": "", "message": _message(message), "keyword": keyword, "schema_path": ""}


def without_secret_values(errors: list[dict[str, str]], schema: Any, document: Any) -> list[dict[str, str]]:
    """The errors, for a schema that marks values secret, with no message that could show
    one: an error about a marked value (its keyword under a mark), or about an object or array
    (whose message shows it whole, secrets and all), says what failed but not the value."""
    shown = []
    for error in errors:
        if _under_a_mark(schema, error["schema_path"]) or _a_container(document, error["path"]):
            hidden = (
                f"The value does not pass {quoted(error['keyword'])} (not shown: it is or holds a secret)"
            )
            error = error | {"message": hidden}
        shown.append(error)
    return shown


def _under_a_mark(schema: Any, pointer: str) -> bool:
    return any(
        isinstance(node, dict) and any(node.get(mark) is True for mark in SECRET_MARKS)
        for node in along(schema, pointer)
    )


def _a_container(document: Any, pointer: str) -> bool:
    found, value = at(document, pointer)
    return found and isinstance(value, dict | list)


def errors_of(validator: jsonschema_rs.Validator, document: Any) -> list[dict[str, str]]:
    """Why `document` does not pass (empty if it does), at most MAX_ERRORS reasons."""
    try:
        return _errors(validator, document)
    except ValueError:  # an exact number, which it will not read: rare, so copied only then
        return _errors(validator, _plain_numbers(document))


def _errors(validator: jsonschema_rs.Validator, document: Any) -> list[dict[str, str]]:
    if validator.is_valid(document):
        return []
    return _explained(validator.iter_errors(document))


# The keywords that mark a value secret (services/secrets.py): the standard annotation, and
# the explicit one for values a client must be able to write and read back (with a key).
SECRET_MARKS = ("writeOnly", "x-secret")


def marks_secrets(document: Any) -> bool:
    """Whether the schema marks any value secret, anywhere (in $defs too): a schema that does
    not is never asked which values are."""
    pending = [document]
    while pending:
        value = pending.pop()
        if isinstance(value, dict):
            if any(value.get(mark) is True for mark in SECRET_MARKS):
                return True
            pending.extend(value.values())
        elif isinstance(value, list):
            pending.extend(value)
    return False


def secret_paths(validator: jsonschema_rs.Validator, document: Any) -> list[str]:
    """The JSON Pointers of the values in `document` (which passes the schema) that the schema
    marks secret: wherever the marking subschema applies, through $ref, items and the rest."""
    try:
        evaluation = validator.evaluate(document)
    except ValueError:  # an exact number (see errors_of)
        evaluation = validator.evaluate(_plain_numbers(document))
    found = set()
    for unit in evaluation.list()["details"]:
        annotations = unit.get("annotations")
        if isinstance(annotations, dict) and any(annotations.get(mark) is True for mark in SECRET_MARKS):
            found.add(unit["instanceLocation"])
    return sorted(found)


@dataclass(frozen=True)
class CompiledSchema:
    validator: jsonschema_rs.Validator
    marks_secrets: bool
    document: dict[str, Any]

    def errors(self, document: Any) -> list[dict[str, str]]:
        """errors_of, never showing a value the schema marks secret."""
        errors = errors_of(self.validator, document)
        return (
            without_secret_values(errors, self.document, document)
            if errors and self.marks_secrets
            else errors
        )


class CompiledSchemas:
    """Each schema version compiled once per process: versions never change, so an entry
    never goes stale. Keyed by the schema's id, not its name: a schema deleted and made
    again under the same name is another schema."""

    def __init__(self, capacity: int = COMPILED_SCHEMAS_KEPT) -> None:
        self._capacity = capacity
        self._compiled: OrderedDict[tuple[str, int], CompiledSchema] = OrderedDict()
        self._lock = threading.Lock()  # used from the database's worker threads

    def get(self, schema_id: str, version: int) -> CompiledSchema | None:
        with self._lock:
            compiled = self._compiled.get((schema_id, version))
            if compiled is not None:
                self._compiled.move_to_end((schema_id, version))
            return compiled

    def compile(self, schema_id: str, version: int, document: dict[str, Any]) -> CompiledSchema:
        found = self.get(schema_id, version)
        if found is not None:
            return found
        compiled = CompiledSchema(compile_schema(document), marks_secrets(document), document)
        with self._lock:
            self._compiled[(schema_id, version)] = compiled
            if len(self._compiled) > self._capacity:
                self._compiled.popitem(last=False)
        return compiled

    def __len__(self) -> int:
        return len(self._compiled)
