import pytest
from pydantic import ValidationError

from models.requests import RequestModel, tolerating_unknown_fields, unknown_members, without_tolerated


class Example(RequestModel):
    name: str
    comments: str | None = None


def test_unknown_members_are_refused_by_name():
    with pytest.raises(ValidationError) as raised:
        Example.model_validate({"name": "a", "confg": {}, "commments": "x"})
    assert [(e["type"], e["loc"]) for e in raised.value.errors()] == [
        ("extra_forbidden", ("confg",)),
        ("extra_forbidden", ("commments",)),
    ]


def test_tolerated_unknown_members_are_left_out_and_listed():
    with tolerating_unknown_fields() as found:
        example = Example.model_validate({"name": "a", "confg": {}})
    assert example.model_dump() == {"name": "a", "comments": None}
    assert found == ["confg"]


def test_tolerating_ends_with_its_block():
    with tolerating_unknown_fields():
        pass
    with pytest.raises(ValidationError):
        Example.model_validate({"name": "a", "confg": {}})


def test_members_of_a_plain_document():
    assert unknown_members({"a": 1, "b": 2}, ["a"]) == ["b"]
    assert without_tolerated({"a": 1, "b": 2}, ["a"]) == {"a": 1, "b": 2}  # refused elsewhere
    with tolerating_unknown_fields() as found:
        assert without_tolerated({"a": 1, "b": 2}, ["a"]) == {"a": 1}
    assert found == ["b"]
