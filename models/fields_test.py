import math

import pytest
from pydantic import TypeAdapter, ValidationError

from models.fields import MAX_JSON_DEPTH, Comments, JsonObject, Name


def errors(adapter: TypeAdapter, value) -> list[dict]:
    with pytest.raises(ValidationError) as raised:
        adapter.validate_python(value)
    return raised.value.errors()


@pytest.mark.parametrize("text", ["a", "x" * 256, "grüße 😀", " spaced ", "tab\tand\nnewline"])
def test_names_that_are_stored(text):
    assert TypeAdapter(Name).validate_python(text) == text


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("", "string_too_short"),
        ("x" * 257, "string_too_long"),
        ("nul\u0000", "unstorable_text"),
        ("lone \ud800 surrogate", "string_unicode"),  # pydantic refuses these itself
    ],
)
def test_names_that_are_refused(text, kind):
    assert errors(TypeAdapter(Name), text)[0]["type"] == kind


def test_comments_allow_up_to_1024_characters():
    adapter = TypeAdapter(Comments)
    assert adapter.validate_python("c" * 1024)
    assert errors(adapter, "c" * 1025)[0]["type"] == "string_too_long"
    assert "NUL" in errors(adapter, "\u0000")[0]["msg"]


def test_json_objects_that_are_stored():
    value = {"a": [1, 2.5, None, True, {"b": "c"}], "": "empty key is fine", "ü": "😀"}
    assert TypeAdapter(JsonObject).validate_python(value) == value


@pytest.mark.parametrize(
    ("value", "path", "problem"),
    [
        ({"a": "x\u0000"}, "config.a", "NUL"),
        ({"a": [0, {"b": "\u0000"}]}, "config.a[1].b", "NUL"),
        ({"k\u0000": 1}, 'config["k\\u0000"]', "key contains a NUL"),
        ({"with space": {"x": "\u0000"}}, 'config["with space"].x', "NUL"),
        ({"a": "\udfff"}, "config.a", "surrogate"),
        ({"\ud800": 1}, 'config["\\ud800"]', "surrogate"),
        ({"n": math.nan}, "config.n", "not finite"),
        ({"n": [math.inf]}, "config.n[0]", "not finite"),
    ],
)
def test_json_objects_that_are_refused_name_the_path(value, path, problem):
    (error,) = errors(TypeAdapter(JsonObject), value)
    assert error["type"] == "unstorable_json"
    assert error["ctx"]["path"] == path
    assert problem in error["msg"]


def nested(depth: int, leaf: object = 1) -> dict:
    value = leaf
    for _ in range(depth):
        value = {"d": value}
    return value


def test_json_nested_up_to_the_limit_is_stored():
    value = nested(MAX_JSON_DEPTH)
    assert TypeAdapter(JsonObject).validate_python(value) == value
    assert TypeAdapter(JsonObject).validate_python(nested(MAX_JSON_DEPTH - 1, [1])) == nested(
        MAX_JSON_DEPTH - 1, [1]
    )


@pytest.mark.parametrize(
    ("depth", "leaf"), [(MAX_JSON_DEPTH + 1, 1), (MAX_JSON_DEPTH, [1]), (MAX_JSON_DEPTH, {"x": 1})]
)
def test_json_nested_beyond_the_limit_is_refused(depth, leaf):
    (error,) = errors(TypeAdapter(JsonObject), nested(depth, leaf))
    assert error["ctx"]["path"].startswith("config.d.d.d")
    assert f"nested deeper than {MAX_JSON_DEPTH} levels" in error["msg"]


def test_json_far_deeper_than_the_recursion_limit_is_refused_without_recursing():
    (error,) = errors(TypeAdapter(JsonObject), nested(5000))
    assert "nested deeper" in error["msg"]


@pytest.mark.parametrize("value", [[1], "text", 1, None])
def test_json_must_be_an_object(value):
    assert errors(TypeAdapter(JsonObject), value)[0]["type"] == "dict_type"
