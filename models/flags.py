"""Feature flags: a kill switch, variants and ordered targeting rules, stored as the definition
(the config) of a configuration row of the kind "flag" (repositories/configurations.py).

The rules are evaluated by the client package's flag_rules, on the server and in every client
alike. What a definition must be to evaluate at all is checked here: pydantic gives the shape,
and `definition_errors` what only the whole definition tells (which variants exist, which
values each operator takes), each error naming its rule and field.
"""

from datetime import datetime
from typing import Annotated, Any, Literal

from config_service_client import flag_rules
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StringConstraints,
    WithJsonSchema,
)
from pydantic_core import PydanticCustomError

from models.fields import (
    JSON_VALUE_SCHEMA,
    Comments,
    Documented,
    storable_pattern,
    storable_text,
    storable_value,
)
from models.requests import RequestModel

FLAG_KEY_PATTERN = r"^[a-z0-9][a-z0-9._-]*$"
# "evaluate" is the evaluation's own path (.../flags/evaluate), so no flag's key.
RESERVED_KEY = "evaluate"
FLAG_KEY_REGEX = rf"(?!{RESERVED_KEY}$)[a-z0-9][a-z0-9._-]*"  # in a path (Python's re looks ahead)


def _not_reserved(key: str) -> str:
    if key == RESERVED_KEY:
        raise PydanticCustomError(
            "flag_key_reserved", "{key!r} is the evaluation's path: no flag's key", {"key": key}
        )
    return key


FlagKey = Annotated[
    str,
    StringConstraints(min_length=1, max_length=256, pattern=FLAG_KEY_PATTERN),
    AfterValidator(_not_reserved),
]
Operator = Literal[
    "in",
    "not_in",
    "contains",
    "starts_with",
    "ends_with",
    "gt",
    "gte",
    "lt",
    "lte",
    "semver_eq",
    "semver_gt",
    "semver_lt",
    "before",
    "after",
    "exists",
]
Label = Annotated[
    str,
    StringConstraints(min_length=1, max_length=256),
    AfterValidator(storable_text),
    Documented(storable_pattern),
]
JsonValue = Annotated[Any, AfterValidator(storable_value), WithJsonSchema(JSON_VALUE_SCHEMA)]
# The members a merge patch of a flag may hold: its definition's.
DEFINITION_MEMBERS = ("description", "enabled", "variants", "default_variant", "off_variant", "rules")


class Condition(RequestModel):
    attribute: Label = Field(description="A member of the evaluation context; missing: the condition fails")
    operator: Operator
    values: list[JsonValue] = Field(default_factory=list, max_length=1000)


class Split(RequestModel):
    variant: Label
    weight: int = Field(ge=0, le=flag_rules.BUCKETS, description="In 0.01 % steps: the weights sum to 10000")


class Rule(RequestModel):
    """Its conditions all hold (none: always), then it serves `variant`, or a `rollout`
    bucketed by the context's `stickiness` attribute (default: targeting_key)."""

    conditions: list[Condition] = Field(default_factory=list, max_length=100)
    variant: Label | None = None
    rollout: list[Split] | None = Field(None, min_length=1, max_length=100)
    stickiness: Label | None = None


class FlagDefinition(RequestModel):
    """What a PUT sets, whole. A flag is created off unless it says `enabled`."""

    description: Comments | None = None
    enabled: StrictBool = Field(False, description="The kill switch: off serves off_variant to everyone")
    variants: dict[Label, JsonValue] = Field(
        min_length=1, max_length=100, description="Name to value; all values of one JSON type"
    )
    default_variant: Label = Field(description="Served when enabled and no rule holds")
    off_variant: Label = Field(description="Served when disabled")
    rules: list[Rule] = Field(
        default_factory=list, max_length=200, description="The first that holds decides"
    )

    def stored(self) -> dict[str, Any]:
        """The definition as the flag's config keeps it: a rule without its unset members."""
        return self.model_dump(mode="json", include=set(DEFINITION_MEMBERS) - {"rules"}) | {
            "rules": [rule.model_dump(mode="json", exclude_none=True) for rule in self.rules]
        }


class FlagCreate(FlagDefinition):
    key: FlagKey


_RULES_SCHEMA = WithJsonSchema({"type": "array", "items": {"$ref": "#/components/schemas/Rule"}})


class _Stored(BaseModel):
    """A definition as stored: valid when written, so read as it is."""

    model_config = ConfigDict(frozen=True)

    key: str
    description: str | None
    enabled: bool
    variants: dict[str, Any]
    default_variant: str
    off_variant: str
    rules: Annotated[list[dict[str, Any]], _RULES_SCHEMA]
    version: int


class _Identified(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str
    application_id: str


class Flag(_Stored, _Identified):  # its id first, as every resource's
    """A flag as the API shows it; `version` as a configuration's."""

    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_row(cls, row: dict) -> "Flag":
        return cls.model_validate(_fields_of(row))

    def definition(self) -> dict[str, Any]:
        return self.model_dump(mode="json", include=set(DEFINITION_MEMBERS))


def _fields_of(row: dict) -> dict:
    return _in_order(row["config"]) | {
        "id": row["id"],
        "application_id": row["application_id"],
        "key": row["name"],
        "version": row["version"],
        "created_at": row["created_at"],
        "updated_at": row["updated_at"],
    }


def _in_order(definition: dict) -> dict:
    """The definition with its rules' members in the order they are written in (jsonb keeps
    an object's members in an order of its own)."""
    rules = [
        Rule.model_validate(rule).model_dump(mode="json", exclude_none=True) for rule in definition["rules"]
    ]
    return {**definition, "rules": rules}


class FlagRevision(_Stored):
    """One immutable version of a flag."""

    created_at: datetime
    actor: str
    change: Literal["created", "updated", "patched", "rolled_back"]
    rolled_back_from: int | None
    note: str | None

    @classmethod
    def from_row(cls, row: dict) -> "FlagRevision":
        return cls.model_validate({**row, "key": row["name"], **_in_order(row["config"])})


class EvaluationRequest(RequestModel):
    # Any JSON object: a context is evaluated, never stored, so what PostgreSQL could not
    # store (a NUL) is no concern of it.
    context: dict[str, Any] = Field(
        default_factory=dict, description="The evaluation context: targeting_key and any attributes"
    )
    flags: list[FlagKey] | None = Field(None, max_length=1000, description="Only these flags (default: all)")


class FlagResult(BaseModel):
    value: Any
    variant: str | None
    reason: Literal["STATIC", "TARGETING_MATCH", "SPLIT", "DISABLED", "DEFAULT", "ERROR"]
    error_code: str | None = Field(None, description="With reason ERROR: FLAG_NOT_FOUND")


class EvaluationResult(BaseModel):
    flags: dict[str, FlagResult]


def definition_errors(definition: FlagDefinition) -> list[dict[str, Any]]:
    """What makes a well-formed definition one that cannot be evaluated: each error as pydantic
    writes one (loc, msg, type), its loc naming the rule and field."""
    errors: list[dict[str, Any]] = []
    variants = definition.variants

    def error(loc: tuple, message: str, kind: str = "flag_invalid") -> None:
        errors.append({"loc": loc, "msg": message, "type": kind})

    def known(name: str, loc: tuple) -> None:
        if name not in variants:
            error(loc, f"Unknown variant {name!r}: the variants are {', '.join(map(repr, variants))}")

    types = {name: _json_type(value) for name, value in variants.items()}
    first_name, first_type = next(iter(types.items()))
    for name, kind in types.items():
        if kind != first_type:
            error(
                ("variants", name),
                f"All variants must be of one JSON type: {first_name!r} is {first_type}, {name!r} is {kind}",
                "flag_mixed_types",
            )
        if _holds_secret(variants[name]):
            error(("variants", name), 'A flag holds no secrets: "$secret" is not a member it may have')
    known(definition.default_variant, ("default_variant",))
    known(definition.off_variant, ("off_variant",))
    for i, rule in enumerate(definition.rules):
        here = ("rules", i)
        if (rule.variant is None) == (rule.rollout is None):
            error(here, "A rule serves either a variant or a rollout: give exactly one of them")
        if rule.variant is not None:
            known(rule.variant, (*here, "variant"))
        if rule.rollout is not None:
            for j, split in enumerate(rule.rollout):
                known(split.variant, (*here, "rollout", j, "variant"))
            total = sum(split.weight for split in rule.rollout)
            if total != flag_rules.BUCKETS:
                error((*here, "rollout"), f"The weights sum to {total}, not {flag_rules.BUCKETS} (100.00 %)")
        elif rule.stickiness is not None:
            error((*here, "stickiness"), "Only a rollout is bucketed: stickiness goes with rollout")
        for k, condition in enumerate(rule.conditions):
            problem = _values_problem(condition)
            if problem:
                error((*here, "conditions", k, "values"), problem)
    return errors


def _values_problem(condition: Condition) -> str | None:
    operator, values = condition.operator, condition.values
    if operator == "exists":
        return "exists takes no values" if values else None
    if operator in ("in", "not_in"):
        return None if values else f"{operator} takes one or more values"
    if operator in ("contains", "starts_with", "ends_with"):
        if values and all(isinstance(v, str) for v in values):
            return None
        return f"{operator} takes one or more strings"
    if len(values) != 1:
        return f"{operator} takes exactly one value"
    value = values[0]
    if operator in ("gt", "gte", "lt", "lte"):
        number = isinstance(value, int | float) and not isinstance(value, bool)
        return None if number else f"{operator} compares numbers: give one number"
    if operator.startswith("semver_"):
        parsed = isinstance(value, str) and flag_rules.parse_semver(value) is not None
        return None if parsed else f"{operator} takes one SemVer 2.0.0 version, such as 1.4.0"
    parsed = isinstance(value, str) and flag_rules.parse_time(value) is not None
    return (
        None if parsed else f"{operator} takes one RFC 3339 time with an offset, such as 2027-01-01T00:00:00Z"
    )


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    return "an array" if isinstance(value, list) else "an object"


def _holds_secret(value: Any) -> bool:
    if isinstance(value, dict):
        return "$secret" in value or any(_holds_secret(v) for v in value.values())
    if isinstance(value, list):
        return any(_holds_secret(v) for v in value)
    return False
