"""The validators' measurement: the schema and configurations it measures with are what they
claim to be, and a run of a few calls gives figures of the right shape. Nothing here
judges speed."""

import json

from bench import validators
from bench.validators import (
    ERRORS_IN_INVALID,
    INVALID_CONFIG,
    SCHEMA,
    VALID_CONFIG,
    body_template,
    count_properties,
    measure,
    print_figures,
    reference_errors_of,
    reference_validator,
    rendered_size,
    unchecked_formats,
)
from services.json_schemas import compile_schema, errors_of


def _formats(schema: object) -> set[str]:
    if isinstance(schema, list):
        return set().union(*map(_formats, schema)) if schema else set()
    if not isinstance(schema, dict):
        return set()
    found = {schema["format"]} if isinstance(schema.get("format"), str) else set()
    return found.union(*map(_formats, schema.values()))


def test_the_schema_is_realistic_and_the_valid_config_about_1_kb():
    assert 30 <= count_properties(SCHEMA) <= 45
    assert _formats(SCHEMA) == {"email", "hostname", "ipv4", "uri", "date-time"}
    assert '"$ref": "#/$defs/' in json.dumps(SCHEMA)
    assert 900 <= rendered_size(VALID_CONFIG) <= 1300
    assert errors_of(compile_schema(SCHEMA), VALID_CONFIG) == []
    assert reference_errors_of(reference_validator(), VALID_CONFIG) == []


def test_the_invalid_config_has_every_error_it_is_made_with():
    errors = errors_of(compile_schema(SCHEMA), INVALID_CONFIG)
    assert len(errors) == ERRORS_IN_INVALID
    assert {error["keyword"] for error in errors} >= {"format", "pattern", "enum", "required", "type"}
    # The reference finds them all but those of the formats it cannot check here.
    unchecked = unchecked_formats()
    assert len(reference_errors_of(reference_validator(), INVALID_CONFIG)) == ERRORS_IN_INVALID - len(
        unchecked
    )


def test_the_put_body_passes_the_schema_whatever_numbers_fill_it():
    template = body_template()
    assert validators.WRITER_MARK in template and validators.SEQUENCE_MARK in template
    schema = compile_schema(SCHEMA)
    bodies = {
        template.replace(validators.WRITER_MARK, str(writer)).replace(validators.SEQUENCE_MARK, str(n))
        for writer, n in ((0, 1), (1, 1), (0, 123456))
    }
    assert len(bodies) == 3
    for body in bodies:
        assert errors_of(schema, json.loads(body)["config"]) == []


def test_a_few_calls_give_figures_for_both_validators(capsys):
    figures = measure(number=2, repeat=1)

    assert figures["config_bytes"] == rendered_size(VALID_CONFIG)
    for name in ("jsonschema_rs", "jsonschema"):
        row = figures[name]
        assert 0 < row["valid_us"] < 1e6
        assert 0 < row["invalid_us"] < 1e6
    assert figures["jsonschema_rs"]["errors_in_invalid"] == ERRORS_IN_INVALID
    assert figures["reference_unchecked_formats"] == unchecked_formats()
    json.dumps(figures)  # it goes into the suite's results as it is

    print_figures(figures)
    lines = capsys.readouterr().out.splitlines()
    assert lines[2].startswith("jsonschema-rs") and lines[3].startswith("jsonschema (reference)")
    assert lines[4].startswith("reference / jsonschema-rs")


def test_the_module_prints_both_figures(capsys):
    assert validators.main(["--seconds", "0.01"]) == 0
    out = capsys.readouterr().out
    assert "jsonschema-rs" in out and "jsonschema (reference)" in out
