import copy

import pytest

from services.merge_patch import merge_patch

# The examples of RFC 7396, appendix A.
RFC_EXAMPLES = [
    ({"a": "b"}, {"a": "c"}, {"a": "c"}),
    ({"a": "b"}, {"b": "c"}, {"a": "b", "b": "c"}),
    ({"a": "b"}, {"a": None}, {}),
    ({"a": "b", "b": "c"}, {"a": None}, {"b": "c"}),
    ({"a": ["b"]}, {"a": "c"}, {"a": "c"}),
    ({"a": "c"}, {"a": ["b"]}, {"a": ["b"]}),
    ({"a": {"b": "c"}}, {"a": {"b": "d", "c": None}}, {"a": {"b": "d"}}),
    ({"a": [{"b": "c"}]}, {"a": [1]}, {"a": [1]}),
    (["a", "b"], ["c", "d"], ["c", "d"]),
    ({"a": "b"}, ["c"], ["c"]),
    ({"a": "foo"}, None, None),
    ({"a": "foo"}, "bar", "bar"),
    ({"e": None}, {"a": 1}, {"e": None, "a": 1}),
    ([1, 2], {"a": "b", "c": None}, {"a": "b"}),
    ({}, {"a": {"bb": {"ccc": None}}}, {"a": {"bb": {}}}),
]


@pytest.mark.parametrize(("target", "patch", "expected"), RFC_EXAMPLES)
def test_rfc_7396_examples(target, patch, expected):
    assert merge_patch(target, patch) == expected


def test_the_target_is_left_unchanged():
    target = {"pool": {"min": 1, "max": 10}, "legacy_flag": True, "hosts": ["a"]}
    original = copy.deepcopy(target)

    merged = merge_patch(target, {"pool": {"max": 50}, "legacy_flag": None})

    assert merged == {"pool": {"min": 1, "max": 50}, "hosts": ["a"]}
    assert target == original


def test_deep_patches_do_not_recurse():
    patch = leaf = {}
    for _ in range(10_000):
        leaf["d"] = {}
        leaf = leaf["d"]
    leaf["x"] = 1

    merged = merge_patch({}, patch)

    for _ in range(10_000):
        merged = merged["d"]
    assert merged == {"x": 1}
