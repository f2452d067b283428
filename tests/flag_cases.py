"""Flags and contexts for parity tests: whatever evaluates our flags (the server, the client's
in-process evaluation, an OpenFeature OFREP provider) must agree on these.

FLAGS are create bodies (POST /api/v1/applications/{id}/flags) that between them use every
operator, rollouts (by targeting_key and by other attributes, one with a weight of 0), a
disabled flag and a flag without rules, with boolean, string, integer, float, object and
array variants. `contexts` makes deterministic pseudo-random contexts in which each attribute
is sometimes missing and, now and then, of the wrong type or malformed.
"""

import random
from datetime import UTC, datetime, timedelta, timezone
from typing import Any


def _condition(attribute: str, operator: str, *values: Any) -> dict[str, Any]:
    return {"attribute": attribute, "operator": operator, "values": list(values)}


def _rollout(*weights: tuple[str, int], stickiness: str | None = None, conditions=()) -> dict[str, Any]:
    rule: dict[str, Any] = {
        "conditions": list(conditions),
        "rollout": [{"variant": variant, "weight": weight} for variant, weight in weights],
    }
    if stickiness is not None:
        rule["stickiness"] = stickiness
    return rule


def _serve(variant: str, *conditions: dict[str, Any]) -> dict[str, Any]:
    return {"conditions": list(conditions), "variant": variant}


def _flag(key: str, variants: dict[str, Any], default: str, off: str, *rules, enabled: bool = True) -> dict:
    return {
        "key": key,
        "enabled": enabled,
        "variants": variants,
        "default_variant": default,
        "off_variant": off,
        "rules": list(rules),
    }


ON_OFF = {"on": True, "off": False}

FLAGS: list[dict[str, Any]] = [
    _flag(
        "checkout",
        ON_OFF,
        "off",
        "off",
        _serve("on", _condition("country", "in", "NZ", "AU")),
        _rollout(("on", 3000), ("off", 7000)),
    ),
    _flag(
        "premium-banner",
        {"gold": "gold", "local": "local", "plain": "plain"},
        "plain",
        "plain",
        _serve("gold", _condition("plan", "not_in", "free", "trial"), _condition("beta", "exists")),
        _serve("local", _condition("email", "ends_with", ".nz", ".au")),
    ),
    _flag(
        "search-engine",
        {"sandbox": "sandbox", "internal": "internal", "v1": "v1"},
        "v1",
        "v1",
        _serve("sandbox", _condition("email", "contains", "test", "qa")),
        _serve("internal", _condition("email", "starts_with", "admin@", "ops@")),
    ),
    _flag(
        "max-items",
        {"senior": 5, "adult": 20, "child": 1, "teen": 10, "unknown": 15},
        "unknown",
        "unknown",
        _serve("senior", _condition("age", "gt", 60)),
        _serve("adult", _condition("age", "gte", 18)),
        _serve("child", _condition("age", "lt", 13)),
        _serve("teen", _condition("age", "lte", 17.5)),
    ),
    _flag(
        "discount",
        {"young": 0.25, "middle": 0.1, "base": 0.05},
        "base",
        "base",
        _serve("young", _condition("age", "lte", 25)),
        _serve("middle", _condition("age", "lt", 40.5)),
    ),
    _flag(
        "new-ui",
        ON_OFF,
        "off",
        "off",
        _serve("on", _condition("version", "semver_gt", "2.0.0")),
        _serve("on", _condition("version", "semver_eq", "1.5.0")),
        _serve("off", _condition("version", "semver_lt", "1.0.0-rc.1")),
        _rollout(("on", 5000), ("off", 5000), stickiness="email"),
    ),
    _flag(
        "onboarding",
        {"short": {"steps": 3, "video": True}, "none": {"steps": 0}, "full": {"steps": 5, "video": False}},
        "full",
        "none",
        _serve("short", _condition("signed_up", "after", "2025-01-01T00:00:00Z")),
        _serve("none", _condition("signed_up", "before", "2020-06-01T12:00:00+02:00")),
    ),
    _flag(
        "theme",
        {"classic": "classic", "neon": "neon"},
        "neon",
        "classic",
        _serve("neon", _condition("beta", "in", True)),
        enabled=False,
    ),
    _flag("static-limit", {"limit": 100, "none": 0}, "limit", "none"),
    _flag(
        "experiment",
        {"control": "control", "a": "a", "b": "b", "never": "never"},
        "control",
        "control",
        _rollout(("a", 3333), ("b", 3333), ("control", 3334), conditions=[_condition("beta", "in", True)]),
        _rollout(("never", 0), ("a", 5000), ("b", 5000), stickiness="country"),
    ),
    _flag(
        "tags",
        {"none": [], "some": ["a", "b"], "all": ["a", "b", "c"]},
        "none",
        "none",
        _serve("some", _condition("beta", "not_in", True), _condition("plan", "in", "pro", "team")),
        _serve("all", _condition("country", "not_in", "US", "CA"), _condition("age", "exists")),
    ),
    _flag(
        "regional-limit",
        {"low": 1.5, "high": 2.5},
        "low",
        "low",
        _rollout(
            ("low", 2500), ("high", 7500), stickiness="plan", conditions=[_condition("version", "exists")]
        ),
    ),
]

_COUNTRIES = ("NZ", "AU", "US", "CA", "DE", "JP")
_PLANS = ("free", "trial", "pro", "team")
_NAMES = ("admin", "ops", "test", "qa", "jane", "li", "ngaio")
_DOMAINS = ("example.nz", "example.au", "example.com")
_PRERELEASES = ("", "", "", "-rc.1", "-beta.2", "-alpha")
_ZONES = (UTC, timezone(timedelta(hours=13)), timezone(timedelta(hours=-5, minutes=-30)))
_SINCE = datetime(2019, 1, 1, tzinfo=UTC)


def contexts(n: int, seed: int) -> list[dict[str, Any]]:
    """`n` contexts, the same for the same seed."""
    rng = random.Random(seed)
    return [_context(rng, i) for i in range(n)]


def _context(rng: random.Random, i: int) -> dict[str, Any]:
    context: dict[str, Any] = {}

    def maybe(name: str, make, present: float = 0.8) -> None:
        if rng.random() < present:
            context[name] = make()

    maybe("targeting_key", lambda: f"user-{rng.randrange(10_000)}-{i}", 0.85)
    maybe("country", lambda: rng.choice(_COUNTRIES))
    maybe("plan", lambda: rng.choice(_PLANS))
    maybe("version", lambda: _version(rng))
    maybe("age", lambda: _age(rng))
    maybe("email", lambda: f"{rng.choice(_NAMES)}{rng.randrange(100)}@{rng.choice(_DOMAINS)}")
    maybe("signed_up", lambda: _time(rng))
    maybe("beta", lambda: rng.random() < 0.5, 0.7)
    return context


def _version(rng: random.Random) -> str:
    roll = rng.random()
    if roll < 0.1:
        return "1.5.0"
    if roll < 0.15:
        return rng.choice(("1.5", "v2.1.0", "01.2.3"))  # not SemVer: no semver condition holds
    return f"{rng.randrange(4)}.{rng.randrange(6)}.{rng.randrange(3)}{rng.choice(_PRERELEASES)}"


def _age(rng: random.Random) -> Any:
    roll = rng.random()
    if roll < 0.05:
        return str(rng.randrange(5, 90))  # a string: no numeric condition holds
    if roll < 0.25:
        return rng.randrange(5, 90) + 0.5
    return rng.randrange(5, 90)


def _time(rng: random.Random) -> str:
    moment = (_SINCE + timedelta(seconds=rng.randrange(8 * 365 * 86_400))).astimezone(rng.choice(_ZONES))
    text = moment.isoformat()
    return text.replace("+00:00", "Z") if rng.random() < 0.5 else text
