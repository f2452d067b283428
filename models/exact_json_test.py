import json
from decimal import Decimal
from typing import Any

import pytest
from pydantic import BaseModel, TypeAdapter

from models.exact_json import ExactNumber, dumps, loads, mark, unmarked, unmarked_bytes


@pytest.mark.parametrize("text", ["0.1", "2.5", "1e20", "1.5e3", "-0.0", "1E-7", "0.30000000000000004"])
def test_a_number_a_float_gives_back_stays_a_float(text):
    number = loads(text)
    assert type(number) is float
    assert Decimal(repr(number)) == Decimal(text)


@pytest.mark.parametrize(
    "text",
    [
        "1234567890123456789012345.67890123456789",
        "1e-400",
        "1e400",
        "0.1000000000000000055511151231257827",  # 0.1's float, written out: not what 0.1 writes
    ],
)
def test_a_number_a_float_would_change_is_an_exact_number(text):
    assert loads(text) == Decimal(text)
    assert type(loads(text)) is ExactNumber


def test_integers_are_ints_unless_too_long_for_python():
    assert type(loads("12345678901234567890")) is int
    assert loads("[1, " + "7" * 5000 + "]") == [1, ExactNumber("7" * 5000)]
    assert type(loads("7" * 5000)) is ExactNumber


def test_dumps_writes_decimals_and_marks_as_bare_numbers():
    value = {"d": Decimal("1E-400"), "m": mark(Decimal("-12.50")), "f": 0.1, "list": [Decimal("7" * 5000)]}
    assert dumps(value) == '{"d": 1E-400, "m": -12.50, "f": 0.1, "list": [' + "7" * 5000 + "]}"
    assert loads(dumps(value)) == {**value, "m": Decimal("-12.50")}


@pytest.mark.parametrize(
    "text", ["\\u00001\\u0000", '"\\u00001\\u0000"', "\\\\u00001\\\\u0000", "u00001u0000", "\\u0000"]
)
def test_a_string_that_only_looks_like_a_mark_stays_a_string(text):
    value = {"s": text, text: [text]}
    assert json.loads(dumps(value)) == value
    assert json.loads(unmarked_bytes(json.dumps(value).encode())) == value


def test_text_without_marks_is_returned_as_it_is():
    body = b'{"a": 1}'
    assert unmarked_bytes(body) is body
    assert unmarked('{"a": 1}') == '{"a": 1}'


class Document(BaseModel):
    config: dict[str, Any]
    history: list[dict[str, Any]] = []


def test_pydantic_keeps_an_exact_number_in_python_and_marks_it_in_json():
    number = loads("1e-400")
    document = Document(config={"n": number}, history=[{"n": loads("2.50000000000000000001")}])

    assert document.model_dump()["config"]["n"] is number
    written = document.model_dump_json().encode()
    assert b"\\u0000" in written
    assert unmarked_bytes(written) == b'{"config":{"n":1E-400},"history":[{"n":2.50000000000000000001}]}'
    assert document.model_dump(mode="json")["config"] == {"n": mark(number)}
    assert TypeAdapter(list[Document]).dump_json([document]).count(b"\\u0000") == 4
