"""Feature flags: which variant a context gets. Pure logic, no I/O: the server and this client
both evaluate with this module, so that they agree bit for bit.

A definition (validated by the server; other members are ignored):
    {"enabled": bool, "variants": {name: JSON value}, "default_variant": name, "off_variant": name,
     "rules": [{"conditions": [{"attribute", "operator", "values": [...]}, ...],
                "variant": name  OR  "rollout": [{"variant", "weight"}, ...], "stickiness": attr}]}

The rules of evaluation:
- Disabled: off_variant, DISABLED; rules are not looked at.
- Enabled: the first rule whose conditions all hold (an empty list holds) decides:
  - "variant": that variant, TARGETING_MATCH.
  - "rollout": the context's stickiness attribute (default "targeting_key"); missing or null:
    the rollout's first variant, DEFAULT. Otherwise b = bucket(flag key, value), and the first
    entry with b < the running sum of weights (in list order, summing to BUCKETS) wins, SPLIT.
- No rule holds: default_variant; STATIC if the flag has no rules, else DEFAULT.
- bucket = murmur3_x86_32 (seed 0, unsigned) of the UTF-8 of f"{key}/{stickiness_text(value)}",
  modulo BUCKETS; stickiness_text is a string itself, anything else its compact JSON (an integral
  float below 2**53 as an integer, as JavaScript writes it).
- A condition on a missing or null attribute is false, whatever the operator (`not_in` too); so
  is one on a value of the wrong type. Never an error.
  - in / not_in: JSON equality with any / none of the values (numbers numerically, 1 == 1.0;
    a boolean is no number; arrays and objects deeply).
  - contains / starts_with / ends_with: a string attribute, against each value that is a string.
  - gt gte lt lte: attribute and values[0] both numbers (not booleans).
  - semver_eq semver_gt semver_lt: both SemVer 2.0.0 strings, compared by precedence.
  - before / after: both RFC 3339 date-times with an offset or Z, compared as instants.
  - exists: the attribute is present and not null.
  - An unknown operator (the server refuses them) is false.

An Evaluation's value is the definition's own object, shared by every evaluation: read only.
"""

import json
import re
from bisect import bisect_right
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from functools import cache
from typing import Any, Final

import mmh3

REASONS: Final = ("STATIC", "TARGETING_MATCH", "SPLIT", "DISABLED", "DEFAULT", "ERROR")
SINGLE_VALUE_OPERATORS: Final = frozenset(
    {"gt", "gte", "lt", "lte", "semver_eq", "semver_gt", "semver_lt", "before", "after"}
)
OPERATORS: Final = SINGLE_VALUE_OPERATORS | frozenset(
    {"in", "not_in", "contains", "starts_with", "ends_with", "exists"}
)
BUCKETS: Final = 10_000
DEFAULT_STICKINESS: Final = "targeting_key"

# Beyond 2**53 a float no longer stands for one integer, and JavaScript writes it as a float.
_EXACT_INTEGERS: Final = 2.0**53
_ONE_SECOND: Final = timedelta(seconds=1)

_Condition = Callable[[Mapping[str, Any]], bool]


@dataclass(frozen=True, slots=True)
class Evaluation:
    """What a flag gives a context; `value` is variants[variant]."""

    value: Any
    variant: str
    reason: str  # one of REASONS


# Rules, compiled: an Evaluation when the rule decides, None to try the next one.
_Rule = Callable[[Mapping[str, Any]], Evaluation | None]


# --- bucketing ---------------------------------------------------------------------------------


def stickiness_text(value: Any) -> str:
    """The text a stickiness value is hashed as: a string itself, anything else its compact JSON
    (42.0 as "42", as JavaScript writes it); a value JSON cannot hold, its str()."""
    if isinstance(value, str):
        return str.__str__(value)  # an enum's value, not its name
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return int.__repr__(value)
    if isinstance(value, float):
        if value.is_integer() and abs(value) < _EXACT_INTEGERS:
            return str(int(value))
        return repr(value)
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=str)


def bucket(flag_key: str, stickiness_value: Any) -> int:
    """Where a context falls in a flag's rollouts: 0..BUCKETS-1, the same for the same value."""
    text = f"{flag_key}/{stickiness_text(stickiness_value)}"
    # Encoded here, never handed to mmh3 as a str: mmh3 5.3 does not check its own UTF-8
    # encoding, and a lone surrogate (JSON may escape one) crashes the process.
    try:
        data = text.encode()
    except UnicodeEncodeError:
        # U+FFFD in place of each lone surrogate, as JavaScript's TextEncoder does.
        data = text.encode("utf-16", "surrogatepass").decode("utf-16", "replace").encode()
    return mmh3.hash(data, 0, signed=False) % BUCKETS


# --- SemVer ------------------------------------------------------------------------------------

# The SemVer 2.0.0 grammar (semver.org's own expression, ASCII digits only).
_SEMVER = re.compile(
    r"(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)"
    r"(?:-((?:0|[1-9][0-9]*|[0-9]*[a-zA-Z-][0-9a-zA-Z-]*)"
    r"(?:\.(?:0|[1-9][0-9]*|[0-9]*[a-zA-Z-][0-9a-zA-Z-]*))*))?"
    r"(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?"
)

# Numeric identifiers sort before alphanumeric ones: (0, number) < (1, text).
_Identifier = tuple[int, int | str]
_Precedence = tuple[int, int, int, int, tuple[_Identifier, ...]]


@dataclass(frozen=True, slots=True)
class SemVer:
    major: int
    minor: int
    patch: int
    prerelease: tuple[int | str, ...] = ()
    build: tuple[str, ...] = ()

    @property
    def precedence(self) -> _Precedence:
        """A key that orders versions by SemVer precedence: build metadata ignored, a
        prerelease below its release, identifiers numerically or in ASCII order, numbers first,
        a shorter list first when equal so far (as tuples compare)."""
        if not self.prerelease:
            return (self.major, self.minor, self.patch, 1, ())
        identifiers = tuple((0, part) if isinstance(part, int) else (1, part) for part in self.prerelease)
        return (self.major, self.minor, self.patch, 0, identifiers)


def parse_semver(text: str) -> SemVer | None:
    """A SemVer 2.0.0 version (no leading "v", no leading zeros), or None."""
    match = _SEMVER.fullmatch(text)
    if match is None:
        return None
    major, minor, patch, prerelease, build = match.groups()
    try:
        return SemVer(
            int(major),
            int(minor),
            int(patch),
            tuple(int(part) if part.isdigit() else part for part in prerelease.split("."))
            if prerelease
            else (),
            tuple(build.split(".")) if build else (),
        )
    except ValueError:  # a number of thousands of digits, past what int() will read
        return None


def _precedence(value: Any) -> _Precedence | None:
    """parse_semver(value).precedence, without building a SemVer (a third of the time): the
    attribute of a semver condition is read at every evaluation."""
    match = _SEMVER.fullmatch(value) if isinstance(value, str) else None
    if match is None:
        return None
    major, minor, patch, prerelease, _build = match.groups()
    try:
        if not prerelease:
            return (int(major), int(minor), int(patch), 1, ())
        identifiers = tuple((0, int(part)) if part.isdigit() else (1, part) for part in prerelease.split("."))
        return (int(major), int(minor), int(patch), 0, identifiers)
    except ValueError:
        return None


# --- RFC 3339 ----------------------------------------------------------------------------------

# RFC 3339 section 5.6: "T" and "Z" may be lower case; the offset is required.
_RFC3339 = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})[Tt]([0-9]{2}):([0-9]{2}):([0-9]{2})(?:\.([0-9]+))?"
    r"(?:[Zz]|([+-])([0-9]{2}):([0-9]{2}))"
)


@cache  # keys are bounded (2 x 100 x 100), and timezone() costs a microsecond
def _zone(sign: str, hours: str, minutes: str) -> timezone | None:
    if int(hours) > 23 or int(minutes) > 59:
        return None
    offset = timedelta(hours=int(hours), minutes=int(minutes))
    return timezone(-offset if sign == "-" else offset)


def parse_time(text: str) -> datetime | None:
    """An RFC 3339 date-time with an offset or Z, as an aware datetime (fractions of a second
    below the microsecond dropped; a leap second as the second after it), or None: a date alone
    or a time without an offset is not an instant."""
    match = _RFC3339.fullmatch(text)
    if match is None:
        return None
    year, month, day, hour, minute, second, fraction, sign, offset_hours, offset_minutes = match.groups()
    zone = _zone(sign, offset_hours, offset_minutes) if sign else UTC
    if zone is None:
        return None
    leap = second == "60"
    try:
        instant = datetime(
            int(year),
            int(month),
            int(day),
            int(hour),
            int(minute),
            59 if leap else int(second),
            int(fraction[:6].ljust(6, "0")) if fraction else 0,
            tzinfo=zone,
        )
        return instant + _ONE_SECOND if leap else instant
    except (ValueError, OverflowError):  # 2026-02-30, hour 24, year 0, past year 9999
        return None


def _instant(value: Any) -> datetime | None:
    return parse_time(value) if isinstance(value, str) else None


# --- conditions --------------------------------------------------------------------------------


def _json_kind(value: Any) -> str | None:
    if isinstance(value, str):
        return "string"
    if isinstance(value, bool):  # before int: True is an int to Python, not to JSON
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, Mapping):
        return "object"
    if isinstance(value, list | tuple):
        return "array"
    return None


def _json_equal(left: Any, right: Any) -> bool:
    kind = _json_kind(left)
    if kind is None or kind != _json_kind(right):
        return False
    if kind == "array":
        return len(left) == len(right) and all(map(_json_equal, left, right))
    if kind == "object":
        return left.keys() == right.keys() and all(_json_equal(left[name], right[name]) for name in left)
    return bool(left == right)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _never(context: Mapping[str, Any]) -> bool:
    return False


def _json_membership(values: Sequence[Any]) -> Callable[[Any], bool | None]:
    """Whether a value JSON-equals one of `values`; None for a null or a value JSON cannot hold,
    which neither `in` nor `not_in` holds for. Sets for plain scalars (the common case, one hash
    whatever the number of values), a deep comparison for the rest."""
    strings = frozenset(value for value in values if type(value) is str)
    numbers = frozenset(value for value in values if type(value) is int or type(value) is float)
    booleans = frozenset(value for value in values if type(value) is bool)

    def member(actual: Any) -> bool | None:
        kind = type(actual)
        if kind is str:
            return actual in strings
        if kind is int or kind is float:
            return actual in numbers
        if kind is bool:
            return actual in booleans
        if _json_kind(actual) is None:
            return None
        # Arrays, objects, and subclasses (an enum's hash is its name's, not its value's).
        return any(_json_equal(actual, value) for value in values)

    return member


def _json_in(attribute: str, values: Sequence[Any]) -> _Condition:
    member = _json_membership(values)

    def holds(context: Mapping[str, Any]) -> bool:
        return member(context.get(attribute)) is True

    return holds


def _json_not_in(attribute: str, values: Sequence[Any]) -> _Condition:
    member = _json_membership(values)

    def holds(context: Mapping[str, Any]) -> bool:
        return member(context.get(attribute)) is False

    return holds


def _contains(attribute: str, values: Sequence[Any]) -> _Condition:
    texts = tuple(value for value in values if isinstance(value, str))

    def holds(context: Mapping[str, Any]) -> bool:
        actual = context.get(attribute)
        return isinstance(actual, str) and any(text in actual for text in texts)

    return holds


def _affixes(
    attribute: str, values: Sequence[Any], method: Callable[[str, tuple[str, ...]], bool]
) -> _Condition:
    # str.startswith and str.endswith take a tuple: every value in one C call.
    texts = tuple(value for value in values if isinstance(value, str))

    def holds(context: Mapping[str, Any]) -> bool:
        actual = context.get(attribute)
        return isinstance(actual, str) and method(actual, texts)

    return holds


def _ordered(
    attribute: str,
    values: Sequence[Any],
    key: Callable[[Any], Any],
    compare: Callable[[Any, Any], bool],
) -> _Condition:
    """attr <compare> values[0], both read by `key` (None: not of the type, so false); the
    value is read once, here."""
    expected = key(values[0]) if values else None
    if expected is None:
        return _never

    def holds(context: Mapping[str, Any]) -> bool:
        actual = key(context.get(attribute))
        return actual is not None and compare(actual, expected)

    return holds


def _number(value: Any) -> Any:
    return value if _is_number(value) else None


def _exists(attribute: str) -> _Condition:
    def holds(context: Mapping[str, Any]) -> bool:
        return context.get(attribute) is not None

    return holds


def _less(left: Any, right: Any) -> bool:
    return bool(left < right)


def _less_or_equal(left: Any, right: Any) -> bool:
    return bool(left <= right)


def _greater(left: Any, right: Any) -> bool:
    return bool(left > right)


def _greater_or_equal(left: Any, right: Any) -> bool:
    return bool(left >= right)


def _equal(left: Any, right: Any) -> bool:
    return bool(left == right)


def _compile_condition(condition: Mapping[str, Any]) -> _Condition:
    """A condition as a function of the context, its values read once."""
    attribute: str = condition["attribute"]
    operator = condition["operator"]
    values: Sequence[Any] = condition.get("values") or ()
    match operator:
        case "in":
            return _json_in(attribute, values)
        case "not_in":
            return _json_not_in(attribute, values)
        case "contains":
            return _contains(attribute, values)
        case "starts_with":
            return _affixes(attribute, values, str.startswith)
        case "ends_with":
            return _affixes(attribute, values, str.endswith)
        case "gt":
            return _ordered(attribute, values, _number, _greater)
        case "gte":
            return _ordered(attribute, values, _number, _greater_or_equal)
        case "lt":
            return _ordered(attribute, values, _number, _less)
        case "lte":
            return _ordered(attribute, values, _number, _less_or_equal)
        case "semver_eq":
            return _ordered(attribute, values, _precedence, _equal)
        case "semver_gt":
            return _ordered(attribute, values, _precedence, _greater)
        case "semver_lt":
            return _ordered(attribute, values, _precedence, _less)
        case "before":
            return _ordered(attribute, values, _instant, _less)
        case "after":
            return _ordered(attribute, values, _instant, _greater)
        case "exists":
            return _exists(attribute)
        case _:
            return _never


# --- flags -------------------------------------------------------------------------------------


class CompiledFlag:
    """A flag definition compiled once into closures, then evaluated for many contexts: every
    Evaluation it can give is built here, and evaluating only picks one."""

    __slots__ = ("_decided", "_fallthrough", "_rules", "key")

    def __init__(self, key: str, definition: Mapping[str, Any]) -> None:
        self.key = key
        variants: Mapping[str, Any] = definition["variants"]

        def outcome(variant: str, reason: str) -> Evaluation:
            if variant not in variants:
                raise ValueError(f"flag {key!r} names a variant it does not define: {variant!r}")
            return Evaluation(variants[variant], variant, reason)

        self._rules: tuple[_Rule, ...] = ()
        self._decided: Evaluation | None = None  # a disabled flag's answer, whatever the context
        if not definition["enabled"]:
            self._decided = outcome(definition["off_variant"], "DISABLED")
            self._fallthrough = self._decided
            return
        rules = definition.get("rules") or ()
        self._rules = tuple(self._compile_rule(rule, outcome) for rule in rules)
        self._fallthrough = outcome(definition["default_variant"], "DEFAULT" if rules else "STATIC")

    def _compile_rule(self, rule: Mapping[str, Any], outcome: Callable[[str, str], Evaluation]) -> _Rule:
        conditions = tuple(_compile_condition(condition) for condition in rule.get("conditions") or ())
        if "rollout" not in rule:
            matched = outcome(rule["variant"], "TARGETING_MATCH")

            def targeted(context: Mapping[str, Any]) -> Evaluation | None:
                for holds in conditions:
                    if not holds(context):
                        return None
                return matched

            return targeted

        entries: Sequence[Mapping[str, Any]] = rule["rollout"]
        splits = tuple(outcome(entry["variant"], "SPLIT") for entry in entries)
        unstuck = outcome(entries[0]["variant"], "DEFAULT")
        # The running sums: entry i takes buckets [bounds[i-1], bounds[i]), so the first bound
        # above b is b's entry, and an entry of weight 0 (an empty range) is never it.
        bounds: list[int] = []
        for entry in entries:
            bounds.append((bounds[-1] if bounds else 0) + int(entry["weight"]))
        last = len(splits) - 1
        stickiness: str = rule.get("stickiness") or DEFAULT_STICKINESS
        flag_key = self.key

        def split(context: Mapping[str, Any]) -> Evaluation | None:
            for holds in conditions:
                if not holds(context):
                    return None
            value = context.get(stickiness)
            if value is None:
                return unstuck
            # min(): weights are validated to sum to BUCKETS; should they fall short, the last
            # entry takes the rest rather than an IndexError.
            return splits[min(bisect_right(bounds, bucket(flag_key, value)), last)]

        return split

    def evaluate(self, context: Mapping[str, Any]) -> Evaluation:
        if self._decided is not None:
            return self._decided
        for rule in self._rules:
            decided = rule(context)
            if decided is not None:
                return decided
        return self._fallthrough


def evaluate(key: str, definition: Mapping[str, Any], context: Mapping[str, Any]) -> Evaluation:
    """One evaluation, compiling the flag for it: for many, compile once with CompiledFlag."""
    return CompiledFlag(key, definition).evaluate(context)
