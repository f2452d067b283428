import re

import pytest

from models.errors import PreconditionFailed
from models.preconditions import CONDITION_PATTERN, VersionCondition, etag, require_match


def test_etag_is_the_quoted_version():
    assert etag(7) == '"7"'


@pytest.mark.parametrize(
    ("header", "condition"),
    [
        ("*", VersionCondition(any=True)),
        (" * ", VersionCondition(any=True)),
        ('"3"', VersionCondition(strong=frozenset({3}))),
        ('"3", W/"4" ,"5"', VersionCondition(strong=frozenset({3, 5}), weak=frozenset({4}))),
        ('"abc"', VersionCondition()),  # well-formed, but never one of ours
        ('""', VersionCondition()),
        ("", VersionCondition()),  # an empty list of tags: names no version
        ("  ", VersionCondition()),
        ('"03"', VersionCondition()),  # tags compare as strings: we issue "3"
        ('"\u00b3", W/"\u0663"', VersionCondition()),  # digits, but not ours
        ('"' + "9" * 5000 + '"', VersionCondition()),
    ],
)
def test_parse(header, condition):
    assert VersionCondition.parse(header) == condition


@pytest.mark.parametrize("header", ["3", '"3', '"3" "4"', '*, "3"', "W/3", '"3",,'])
def test_parse_refuses_what_is_not_a_list_of_entity_tags(header):
    with pytest.raises(ValueError):
        VersionCondition.parse(header)


def test_if_match_compares_strongly_and_if_none_match_weakly():
    condition = VersionCondition.parse('"1", W/"2"')
    assert [condition.matches_strongly(v) for v in (1, 2, 3)] == [True, False, False]
    assert [condition.matches_weakly(v) for v in (1, 2, 3)] == [True, True, False]
    assert VersionCondition(any=True).matches_strongly(99)


def test_require_match():
    require_match(None, 5, "configuration")
    require_match(VersionCondition.parse('"5"'), 5, "configuration")
    with pytest.raises(PreconditionFailed) as raised:
        require_match(VersionCondition.parse('"4"'), 5, "configuration")
    assert raised.value.current_version == 5
    assert raised.value.detail == "The configuration is at version 5, not a version If-Match names"


@pytest.mark.parametrize(
    "header", ["", "*", '"3"', 'W/"3", "4",', '"3",,', "3", '*, "3"', '"3" "4"', "W/3", ' "a" , W/"b" ']
)
def test_the_documented_pattern_accepts_what_parse_does(header):
    try:
        VersionCondition.parse(header)
        parsed = True
    except ValueError:
        parsed = False
    assert bool(re.fullmatch(CONDITION_PATTERN, header)) is parsed
