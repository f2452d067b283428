"""What one validation costs: a 1 KB configuration against a realistic schema, by jsonschema-rs
as the service runs it (services/json_schemas.py: `compile_schema` once, `errors_of` per
document) beside the reference implementation, `jsonschema` (Draft202012Validator with a
FormatChecker), listing every error the same way.

    pipenv run python -m bench.validators [--seconds 4]

Prints microseconds per validation of a valid document and of an invalid one (all its
errors listed), for both. The suite runs the same measurement and writes it to its results.
The schema and the valid configuration are also what the suite's bound PUT targets write.
"""

import argparse
import json
import sys
import timeit
from collections.abc import Callable
from typing import Any

from jsonschema import Draft202012Validator, FormatChecker

from models.json_pointer import pointer as json_pointer
from services.json_schemas import DIALECT, compile_schema, errors_of

# Where a write's own numbers go in VALID_CONFIG, so that every PUT wrk sends is a new config
# (a repeated one is a no-op write): targets.lua replaces them in body_template()'s text.
WRITER_MARK = "@writer@"
SEQUENCE_MARK = "@n@"

_NAME = {"type": "string", "pattern": "^[a-z][a-z0-9-]{1,62}$"}
_PORT = {"type": "integer", "minimum": 1, "maximum": 65535}

# A schema as a team would write for a service's configuration: 39 properties, nested up to
# three deep, with patterns, the formats email, hostname, ipv4, uri and date-time, enums,
# bounds, and shared definitions reached by $ref to #/$defs.
SCHEMA: dict[str, Any] = {
    "$schema": DIALECT,
    "title": "payments service",
    "type": "object",
    "required": ["service", "database", "http", "owners"],
    "additionalProperties": False,
    "$defs": {
        "duration_ms": {"type": "integer", "minimum": 0, "maximum": 3_600_000},
        "endpoint": {
            "type": "object",
            "required": ["url"],
            "additionalProperties": False,
            "properties": {
                "url": {"type": "string", "format": "uri", "pattern": "^https://"},
                "timeout_ms": {"$ref": "#/$defs/duration_ms"},
                "weight": {"type": "integer", "minimum": 0, "maximum": 100},
            },
        },
    },
    "properties": {
        "service": {
            "type": "object",
            "required": ["name", "version", "environment"],
            "additionalProperties": False,
            "properties": {
                "name": _NAME,
                "version": {"type": "string", "pattern": r"^\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?$"},
                "environment": {"enum": ["development", "staging", "production"]},
                "region": {"type": "string", "pattern": r"^[a-z]{2}-[a-z]+-\d$"},
                "released_at": {"type": "string", "format": "date-time"},
            },
        },
        "database": {
            "type": "object",
            "required": ["host", "port", "name"],
            "additionalProperties": False,
            "properties": {
                "host": {"type": "string", "format": "hostname"},
                "port": _PORT,
                "name": _NAME,
                "user": _NAME,
                "ssl_mode": {"enum": ["disable", "require", "verify-full"]},
                "replicas": {"type": "array", "items": {"type": "string", "format": "ipv4"}, "maxItems": 8},
                "pool": {
                    "type": "object",
                    "additionalProperties": False,
                    "properties": {
                        "min": {"type": "integer", "minimum": 0, "maximum": 100},
                        "max": {"type": "integer", "minimum": 1, "maximum": 100},
                        "idle_timeout_ms": {"$ref": "#/$defs/duration_ms"},
                    },
                },
            },
        },
        "http": {
            "type": "object",
            "required": ["bind", "port"],
            "additionalProperties": False,
            "properties": {
                "bind": {"type": "string", "format": "ipv4"},
                "port": _PORT,
                "public_url": {"type": "string", "format": "uri"},
                "upstreams": {"type": "array", "items": {"$ref": "#/$defs/endpoint"}, "maxItems": 16},
                "timeouts": {
                    "type": "object",
                    "additionalProperties": {"$ref": "#/$defs/duration_ms"},
                    "propertyNames": {"enum": ["connect", "read", "write", "idle"]},
                },
            },
        },
        "retry": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "attempts": {"type": "integer", "minimum": 0, "maximum": 10},
                "backoff_ms": {"type": "array", "items": {"$ref": "#/$defs/duration_ms"}, "maxItems": 10},
            },
        },
        "features": {
            "type": "object",
            "propertyNames": {"pattern": "^[a-z][a-z0-9_]*$"},
            "additionalProperties": {"type": "boolean"},
        },
        "owners": {
            "type": "object",
            "required": ["team", "email"],
            "additionalProperties": False,
            "properties": {
                "team": _NAME,
                "email": {"type": "string", "format": "email"},
                "oncall": {"type": "string", "format": "email"},
                "dashboard": {"type": "string", "format": "uri"},
            },
        },
        "labels": {
            "type": "object",
            "maxProperties": 20,
            "additionalProperties": {"type": "string", "maxLength": 63},
        },
        "release": {
            "type": "object",
            "required": ["writer", "sequence"],
            "additionalProperties": False,
            "properties": {
                "writer": {"type": "integer", "minimum": 0},
                "sequence": {"type": "integer", "minimum": 0},
            },
        },
    },
}

# About 1 KB rendered: valid against SCHEMA.
VALID_CONFIG: dict[str, Any] = {
    "service": {
        "name": "payments",
        "version": "4.12.1",
        "environment": "production",
        "region": "eu-west-1",
        "released_at": "2025-03-14T09:26:53Z",
    },
    "database": {
        "host": "db-primary.payments.internal",
        "port": 5432,
        "name": "payments",
        "user": "payments-app",
        "ssl_mode": "verify-full",
        "replicas": ["10.0.12.21", "10.0.12.22", "10.0.13.21"],
        "pool": {"min": 2, "max": 20, "idle_timeout_ms": 30000},
    },
    "http": {
        "bind": "0.0.0.0",
        "port": 8080,
        "public_url": "https://payments.example.com/api",
        "upstreams": [
            {"url": "https://ledger.internal/v2", "timeout_ms": 800, "weight": 60},
            {"url": "https://fraud.internal/v1/score", "timeout_ms": 250, "weight": 40},
            {"url": "https://fx.internal/v1/rates", "timeout_ms": 500},
        ],
        "timeouts": {"connect": 500, "read": 2000, "write": 2000, "idle": 60000},
    },
    "retry": {"attempts": 3, "backoff_ms": [100, 400, 1600]},
    "features": {"three_d_secure": True, "wallets": True, "new_checkout": False, "instant_payouts": False},
    "owners": {
        "team": "payments-core",
        "email": "payments-core@example.com",
        "oncall": "payments-oncall@example.com",
        "dashboard": "https://grafana.example.com/d/payments",
    },
    "labels": {"tier": "critical", "cost-center": "cc-4411", "compliance": "pci-dss"},
    "release": {"writer": 0, "sequence": 0},
}


def _invalid_config() -> dict[str, Any]:
    """VALID_CONFIG with one error of each kind the schema checks: formats, patterns, an enum,
    bounds, a type, a property it does not allow, a missing one."""
    config = json.loads(json.dumps(VALID_CONFIG))
    config["service"]["version"] = "4.12"  # pattern
    config["service"]["environment"] = "prod"  # enum
    config["service"]["released_at"] = "2025-03-14 09:26"  # date-time
    config["database"]["host"] = "db_primary..internal"  # hostname
    config["database"]["port"] = 70000  # maximum
    config["database"]["replicas"][1] = "10.0.12.300"  # ipv4
    config["http"]["public_url"] = "payments.example.com/api"  # uri
    config["http"]["upstreams"][1]["timeout_ms"] = "250"  # type, through two $refs
    config["retry"]["attempts"] = -1  # minimum
    config["owners"]["email"] = "payments-core.example.com"  # email
    config["features"]["Dark-Mode"] = True  # propertyNames pattern
    config["labels"]["owner"] = 42  # type
    del config["http"]["bind"]  # required
    config["debug"] = True  # additionalProperties
    return config


INVALID_CONFIG = _invalid_config()
ERRORS_IN_INVALID = 14


def body_template() -> str:
    """A PUT body carrying VALID_CONFIG, with WRITER_MARK and SEQUENCE_MARK where a writer's
    number and its count go (each replaced by an integer, the body passes SCHEMA)."""
    config = json.loads(json.dumps(VALID_CONFIG))
    config["release"] = {"writer": WRITER_MARK, "sequence": SEQUENCE_MARK}
    text = json.dumps({"config": config}, separators=(",", ":"))
    return text.replace(f'"{WRITER_MARK}"', WRITER_MARK).replace(f'"{SEQUENCE_MARK}"', SEQUENCE_MARK)


def rendered_size(document: Any) -> int:
    return len(json.dumps(document, separators=(",", ":")).encode())


def reference_validator() -> Draft202012Validator:
    return Draft202012Validator(SCHEMA, format_checker=FormatChecker())


def reference_errors_of(validator: Draft202012Validator, document: Any) -> list[dict[str, str]]:
    """As errors_of explains jsonschema-rs' errors: every error, with the same four members."""
    return [
        {
            "path": json_pointer(error.absolute_path),
            "message": error.message,
            "keyword": str(error.validator),
            "schema_path": json_pointer(error.absolute_schema_path),
        }
        for error in validator.iter_errors(document)
    ]


def unchecked_formats() -> list[str]:
    """The formats SCHEMA uses that the reference cannot check here: each needs a package
    of its own (`jsonschema[format]`), without which it passes any string unchecked, so the
    reference then does less work than jsonschema-rs."""
    used = ["date-time", "email", "hostname", "ipv4", "uri"]
    return [name for name in used if name not in FormatChecker().checkers]


def microseconds(call: Callable[[], object], number: int, repeat: int) -> float:
    """Microseconds per call: the fastest of `repeat` runs of `number` calls, the run least
    slowed by whatever else the machine was doing."""
    return min(timeit.repeat(call, number=number, repeat=repeat)) / number * 1e6


def calls_for(call: Callable[[], object], seconds: float) -> int:
    """How many calls take about `seconds`."""
    once = max(microseconds(call, 1, 3), 0.05) / 1e6
    return max(1, int(seconds / once))


def measure(number: int | None = None, repeat: int = 5, seconds: float = 4.0) -> dict[str, Any]:
    """Microseconds per validation for each validator and document, and the errors each
    found in the invalid one. Each of the four takes about `seconds` (in `repeat` runs), or
    `repeat` runs of `number` calls when given."""
    service = compile_schema(SCHEMA)
    reference = reference_validator()
    cases = {
        "jsonschema_rs": lambda document: errors_of(service, document),
        "jsonschema": lambda document: reference_errors_of(reference, document),
    }
    figures: dict[str, Any] = {
        "schema_properties": count_properties(SCHEMA),
        "config_bytes": rendered_size(VALID_CONFIG),
        "reference_unchecked_formats": unchecked_formats(),
    }
    for name, errors in cases.items():
        if errors(VALID_CONFIG):
            raise RuntimeError(f"{name} finds errors in VALID_CONFIG: {errors(VALID_CONFIG)}")
        row = {"errors_in_invalid": len(errors(INVALID_CONFIG))}
        for document_name, document in (("valid", VALID_CONFIG), ("invalid", INVALID_CONFIG)):
            call = _bound(errors, document)
            calls = number or calls_for(call, seconds / repeat)
            row[f"{document_name}_us"] = microseconds(call, calls, repeat)
        figures[name] = row
    return figures


def _bound(errors: Callable[[Any], list], document: Any) -> Callable[[], list]:
    return lambda: errors(document)


def count_properties(schema: Any) -> int:
    """The properties a schema names, at any depth (in $defs too)."""
    if isinstance(schema, list):
        return sum(count_properties(item) for item in schema)
    if not isinstance(schema, dict):
        return 0
    named = len(schema["properties"]) if isinstance(schema.get("properties"), dict) else 0
    return named + sum(count_properties(value) for value in schema.values())


def print_figures(figures: dict[str, Any]) -> None:
    rs, reference = figures["jsonschema_rs"], figures["jsonschema"]
    print(
        f"validating a {figures['config_bytes']:,}-byte configuration against a schema of"
        f" {figures['schema_properties']} properties, every error listed:"
    )
    print(f"{'validator':<34} {'valid µs':>9} {'invalid µs':>11} {'errors':>7}")
    for name, row in (("jsonschema-rs (the service's)", rs), ("jsonschema (reference)", reference)):
        print(f"{name:<34} {row['valid_us']:>9.1f} {row['invalid_us']:>11.1f} {row['errors_in_invalid']:>7}")
    print(
        f"{'reference / jsonschema-rs':<34} {reference['valid_us'] / rs['valid_us']:>8.0f}x"
        f" {reference['invalid_us'] / rs['invalid_us']:>10.0f}x"
    )
    if figures["reference_unchecked_formats"]:
        print(
            f"(the reference left {', '.join(figures['reference_unchecked_formats'])} unchecked:"
            " their packages are not installed, so it did less than jsonschema-rs)",
            flush=True,
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=4.0, help="per validator and document")
    args = parser.parse_args(argv)
    print_figures(measure(seconds=args.seconds))
    return 0


if __name__ == "__main__":
    sys.exit(main())
