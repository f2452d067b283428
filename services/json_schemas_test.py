from decimal import Decimal

import pytest

from models import exact_json
from models.errors import InvalidSchema
from services.json_schemas import (
    DIALECT,
    MAX_ERRORS,
    MAX_MESSAGE_LENGTH,
    CompiledSchemas,
    compile_schema,
    errors_of,
)


def test_the_metaschema_reports_every_reason():
    with pytest.raises(InvalidSchema) as refused:
        compile_schema({"type": "strnig", "minLength": -1, "required": "name"})
    assert {e["path"] for e in refused.value.errors} == {"/type", "/minLength", "/required"}


@pytest.mark.parametrize("dialect", [DIALECT, DIALECT + "#"])
def test_the_2020_12_dialect_may_be_declared(dialect):
    assert errors_of(compile_schema({"$schema": dialect, "type": "object"}), {}) == []


@pytest.mark.parametrize("dialect", ["http://json-schema.org/draft-07/schema#", 7])
def test_other_dialects_are_refused(dialect):
    with pytest.raises(InvalidSchema) as refused:
        compile_schema({"$schema": dialect})
    assert refused.value.errors[0]["path"] == "/$schema"


@pytest.mark.parametrize(
    "schema",
    [
        {"$ref": "https://example.com/schema.json"},
        {"$id": "https://example.com/root", "properties": {"a": {"$ref": "b.json"}}},
        {"$defs": {"a": {"$ref": "file:///etc/passwd"}}, "$ref": "#/$defs/a"},
    ],
)
def test_references_outside_the_document_are_refused(schema):
    with pytest.raises(InvalidSchema) as refused:
        compile_schema(schema)
    assert refused.value.errors[0]["keyword"] == "$ref"
    assert "outside this schema" in refused.value.errors[0]["message"]


def test_a_member_named_ref_in_data_is_not_a_reference():
    validator = compile_schema({"const": {"$ref": "https://example.com/x"}})
    assert errors_of(validator, {"$ref": "https://example.com/x"}) == []


def test_errors_name_the_value_and_the_keyword_by_json_pointer():
    validator = compile_schema(
        {
            "properties": {
                "servers": {"type": "array", "items": {"$ref": "#/$defs/server"}},
                "owner": {"type": "string", "format": "email"},
                "name": {"type": "string", "pattern": "^[a-z]+$"},
            },
            "$defs": {
                "server": {"type": "object", "properties": {"port": {"type": "integer", "maximum": 9}}}
            },
        }
    )

    errors = errors_of(validator, {"servers": [{"port": 1}, {"port": 10}], "owner": "nobody", "name": "A"})

    assert {(e["path"], e["keyword"], e["schema_path"]) for e in errors} == {
        ("/servers/1/port", "maximum", "/$defs/server/properties/port/maximum"),
        ("/owner", "format", "/properties/owner/format"),
        ("/name", "pattern", "/properties/name/pattern"),
    }


def test_at_most_max_errors_are_listed_and_long_messages_are_cut():
    validator = compile_schema({"additionalProperties": {"type": "integer"}})
    errors = errors_of(validator, {f"k{i}": "x" * 2000 for i in range(MAX_ERRORS + 50)})
    assert len(errors) == MAX_ERRORS
    assert all(len(e["message"]) <= MAX_MESSAGE_LENGTH for e in errors)


def test_exact_numbers_are_checked_as_numbers():
    validator = compile_schema({"properties": {"n": {"type": "integer", "maximum": 5}}})
    assert errors_of(validator, {"n": Decimal("3.0")}) == []
    assert errors_of(validator, {"n": Decimal("1E+400")})[0]["keyword"] == "maximum"


def test_compiled_schemas_are_kept_per_schema_and_version_within_capacity():
    compiled = CompiledSchemas(capacity=2)
    first = compiled.compile("A", 1, {"type": "object"})

    assert compiled.compile("A", 1, {"this": "is not read again"}) is first
    assert not first.marks_secrets
    assert compiled.get("A", 2) is None
    compiled.compile("A", 2, {})
    compiled.compile("B", 1, {})
    assert len(compiled) == 2
    assert compiled.get("A", 1) is None  # the least recently used went


def test_exact_numbers_from_a_request_are_read_in_schemas_and_documents():
    schema = exact_json.loads(
        '{"properties": {"n": {"maximum": 1e400}, "m": {"const": 1.00000000000000000001}}}'
    )
    validator = compile_schema(schema)

    assert errors_of(validator, exact_json.loads('{"n": 1e399, "m": 1.00000000000000000001}')) == []
    errors = errors_of(validator, exact_json.loads('{"n": 1e401, "m": 1.00000000000000000002, "x": 1e500}'))
    assert {e["path"] for e in errors} == {"/n", "/m"}
    assert all("ExactNumber" not in e["message"] for e in errors)
