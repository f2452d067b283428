import pytest
from fastapi.exceptions import RequestValidationError
from starlette.requests import Request

from api.query import described, header_parameter, optional_flag, optional_number, query_parameter


def request(query: str) -> Request:
    return Request({"type": "http", "query_string": query.encode(), "headers": []})


def test_an_absent_parameter_is_none():
    assert optional_number(request(""), "wait", float, minimum=0) is None


def test_numbers_within_limits_are_read():
    assert optional_number(request("wait=1.5"), "wait", float, minimum=0) == 1.5
    assert optional_number(request("version=7"), "version", int, minimum=0, maximum=9) == 7


@pytest.mark.parametrize(
    ("query", "kind", "error"),
    [
        ("wait=soon", float, "float_parsing"),
        ("version=1.5", int, "int_parsing"),
        ("wait=nan", float, "finite_number"),
        ("wait=inf", float, "finite_number"),
        ("wait=-1", float, "greater_than_equal"),
        ("version=10", int, "less_than_equal"),
        ("version=" + "9" * 5000, int, "int_parsing"),
    ],
)
def test_bad_numbers_are_validation_errors_naming_the_parameter(query, kind, error):
    name = query.split("=")[0]
    with pytest.raises(RequestValidationError) as raised:
        optional_number(request(query), name, kind, minimum=0, maximum=9)
    (problem,) = raised.value.errors()
    assert (problem["loc"], problem["type"]) == (("query", name), error)


def test_parameters_read_by_hand_are_documented_like_declared_ones():
    extra = described(
        query_parameter("wait", {"type": "number"}, "How long"), header_parameter("If-None-Match", "Tag")
    )
    wait, tag = extra["parameters"]
    assert wait == {
        "description": "How long",
        "in": "query",
        "name": "wait",
        "required": False,
        "schema": {
            "anyOf": [{"type": "number"}, {"type": "null"}],
            "description": "How long",
            "title": "Wait",
        },
    }
    assert (tag["in"], tag["name"], tag["required"]) == ("header", "If-None-Match", False)


@pytest.mark.parametrize(
    ("query", "flag"), [("", False), ("reveal=true", True), ("reveal=1", True), ("reveal=Off", False)]
)
def test_flags_read_as_fastapi_reads_booleans(query, flag):
    assert optional_flag(request(query), "reveal") is flag


def test_a_flag_that_is_no_boolean_is_a_validation_error():
    with pytest.raises(RequestValidationError) as raised:
        optional_flag(request("reveal=maybe"), "reveal")
    assert raised.value.errors()[0]["loc"] == ("query", "reveal")
