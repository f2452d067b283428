import pytest
from pydantic import ValidationError

from models.flags import Flag, FlagCreate, FlagDefinition, definition_errors

BASE = {"variants": {"on": True, "off": False}, "default_variant": "off", "off_variant": "off"}


def errors_of(**fields) -> dict[tuple, str]:
    return {e["loc"]: e["msg"] for e in definition_errors(FlagDefinition.model_validate(BASE | fields))}


def condition(operator, values):
    return {
        "rules": [
            {"conditions": [{"attribute": "a", "operator": operator, "values": values}], "variant": "on"}
        ]
    }


def test_a_sound_definition_has_no_errors():
    rules = [
        {"conditions": [{"attribute": "country", "operator": "in", "values": ["NZ"]}], "variant": "on"},
        {
            "rollout": [{"variant": "on", "weight": 2500}, {"variant": "off", "weight": 7500}],
            "stickiness": "org",
        },
    ]
    assert errors_of(rules=rules) == {}


def test_unknown_variants_are_named_where_they_are_used():
    rules = [
        {"variant": "maybe"},
        {"rollout": [{"variant": "on", "weight": 5000}, {"variant": "x", "weight": 5000}]},
    ]
    found = errors_of(default_variant="nope", off_variant="gone", rules=rules)

    assert set(found) == {
        ("default_variant",),
        ("off_variant",),
        ("rules", 0, "variant"),
        ("rules", 1, "rollout", 1, "variant"),
    }
    assert "'on', 'off'" in found[("default_variant",)]


def test_weights_must_sum_to_10000():
    found = errors_of(
        rules=[{"rollout": [{"variant": "on", "weight": 10}, {"variant": "off", "weight": 20}]}]
    )
    assert found == {("rules", 0, "rollout"): "The weights sum to 30, not 10000 (100.00 %)"}


def test_variants_share_one_json_type_numbers_being_one():
    assert errors_of(variants={"a": 1, "b": 2.5}, default_variant="a", off_variant="b") == {}
    found = errors_of(variants={"on": True, "off": "no"})
    assert list(found) == [("variants", "off")]


def test_a_rule_serves_exactly_one_of_variant_and_rollout():
    both = errors_of(rules=[{"variant": "on", "rollout": [{"variant": "on", "weight": 10000}]}])
    neither = errors_of(rules=[{"conditions": []}])
    assert list(both) == [("rules", 0)] and list(neither) == [("rules", 0)]
    assert list(errors_of(rules=[{"variant": "on", "stickiness": "org"}])) == [("rules", 0, "stickiness")]


@pytest.mark.parametrize(
    ("operator", "values"),
    [
        ("exists", ["x"]),
        ("in", []),
        ("contains", [1]),
        ("gt", ["5"]),
        ("gt", [True]),
        ("lt", [1, 2]),
        ("semver_gt", ["1.2"]),
        ("before", ["2026-12-05"]),
        ("after", ["2026-12-05T10:00:00"]),
    ],
)
def test_each_operator_takes_its_own_values(operator, values):
    assert list(errors_of(**condition(operator, values))) == [("rules", 0, "conditions", 0, "values")]


@pytest.mark.parametrize(
    ("operator", "values"),
    [
        ("exists", []),
        ("not_in", ["a", 1]),
        ("ends_with", [".nz", ".au"]),
        ("gte", [2.5]),
        ("semver_eq", ["1.2.3-rc.1+b5"]),
        ("after", ["2026-12-05T10:00:00+13:00"]),
    ],
)
def test_values_each_operator_accepts(operator, values):
    assert errors_of(**condition(operator, values)) == {}


def test_an_unknown_operator_or_member_is_refused_by_the_shape():
    with pytest.raises(ValidationError) as refused:
        FlagDefinition.model_validate(BASE | condition("like", ["a"]))
    assert refused.value.errors()[0]["loc"] == ("rules", 0, "conditions", 0, "operator")
    with pytest.raises(ValidationError):
        FlagDefinition.model_validate(BASE | {"colour": "red"})


def test_a_secret_is_no_flag_value():
    found = errors_of(variants={"on": {"$secret": "x"}, "off": {}})
    assert list(found) == [("variants", "on")]


@pytest.mark.parametrize("key", ["New-Checkout", "-x", "", "a b", "ü"])
def test_keys_are_lowercase_words(key):
    with pytest.raises(ValidationError):
        FlagCreate.model_validate(BASE | {"key": key})


def test_stored_keeps_the_definition_only_and_reads_back_as_a_flag():
    created = FlagCreate.model_validate(BASE | {"key": "k", "rules": [{"variant": "on"}]})
    stored = created.stored()

    assert "key" not in stored
    assert stored["rules"] == [{"conditions": [], "variant": "on"}]
    row = {
        "id": "01J00000000000000000000000",
        "application_id": "01J00000000000000000000001",
        "name": "k",
        "version": 1,
        "created_at": "2026-12-05T00:00:00Z",
        "updated_at": "2026-12-05T00:00:00Z",
        "config": stored,
    }
    flag = Flag.from_row(row)
    assert flag.key == "k" and flag.definition() == stored
