import math
import re
import unicodedata

import pytest
from pydantic import TypeAdapter, ValidationError

from models.fields import MAX_JSON_DEPTH, Comments, JsonObject, Name, SearchText, Timestamp, name_pattern


def errors(adapter: TypeAdapter, value) -> list[dict]:
    with pytest.raises(ValidationError) as raised:
        adapter.validate_python(value)
    return raised.value.errors()


@pytest.mark.parametrize(
    "text",
    ["a", "x" * 256, "grüße 😀", "inner  spaces", "👩\u200d💻 family", "می\u200cخواهم"],  # joiners are kept
)
def test_names_that_are_stored(text):
    assert TypeAdapter(Name).validate_python(text) == text


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("", "string_too_short"),
        ("x" * 257, "string_too_long"),
        ("nul\u0000", "unstorable_text"),
        ("lone \ud800 surrogate", "string_unicode"),  # pydantic refuses these itself
        ("   ", "name_blank"),
        ("\u3000", "name_blank"),
        (" leading", "name_whitespace"),
        ("trailing\u00a0", "name_whitespace"),
        ("tab\tinside", "name_control_character"),
        ("line\nbreak", "name_control_character"),
        ("bell\u0007", "name_control_character"),
        ("evil\u202eexe.txt", "name_control_character"),  # a bidi override
        ("zero\u200bwidth", "name_control_character"),
        ("line\u2028separator", "name_control_character"),
    ],
)
def test_names_that_are_refused_say_which_rule(text, kind):
    assert errors(TypeAdapter(Name), text)[0]["type"] == kind


def test_a_refused_character_is_named_by_its_code_point():
    assert errors(TypeAdapter(Name), "a\u202eb")[0]["msg"].endswith("(found U+202E)")


def test_names_are_nfc_normalised_before_they_are_measured():
    decomposed = unicodedata.normalize("NFD", "café")
    assert TypeAdapter(Name).validate_python(decomposed) == "café"
    assert TypeAdapter(SearchText).validate_python(decomposed) == "café"
    # 512 code points decomposed, 256 composed: it fits.
    assert len(TypeAdapter(Name).validate_python(unicodedata.normalize("NFD", "é" * 256))) == 256


@pytest.mark.parametrize("moment", ["2020-01-01T00:00:00+15:59", "2020-01-01T00:00:00-15:59", "2020-01-01"])
def test_timestamps_postgresql_accepts(moment):
    assert TypeAdapter(Timestamp).validate_python(moment)


@pytest.mark.parametrize("moment", ["0.5", "1700000000", "yesterday"])
def test_timestamps_are_written_as_dates(moment):
    assert errors(TypeAdapter(Timestamp), moment)[0]["type"] == "datetime_format"


@pytest.mark.parametrize("moment", ["2020-01-01T00:00:00+16:00", "2020-01-01T00:00:00-23:59"])
def test_timestamps_with_an_offset_postgresql_refuses(moment):
    (error,) = errors(TypeAdapter(Timestamp), moment)
    assert error["type"] == "timezone_offset"
    assert "-15:59 and +15:59" in error["msg"]


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


def test_the_written_out_tables_hold_what_this_python_s_unicode_says():
    from models.fields import _SPACE_RANGES, _UNSEEN_RANGES

    def members(ranges):
        return {code for start, end in ranges for code in range(start, end + 1)}

    categorised = {
        code
        for code in range(0x110000)
        if unicodedata.category(chr(code)) in ("Cc", "Cf", "Zl", "Zp") and code not in (0x200C, 0x200D)
    }
    assert categorised <= members(_UNSEEN_RANGES)  # equal on Unicode 15.0 (Python 3.12)
    assert {code for code in range(0x110000) if chr(code).isspace()} == members(_SPACE_RANGES)


def test_the_documented_name_pattern_agrees_with_the_rules():
    pattern = re.compile(name_pattern())
    for text in ["café", "a b", "👩\u200d💻", " a", "a ", "a\u202eb", "\u3000", "a\tb", "x\u00adx"]:
        try:
            TypeAdapter(Name).validate_python(text)
            valid = True
        except ValidationError:
            valid = False
        assert bool(pattern.fullmatch(text)) is valid, text
