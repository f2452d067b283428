"""The OpenAPI document as clients should read it: errors are problem+json, and invalid
input is our 400 (FastAPI documents a 422 we never send).

    python -m api.schema            # rewrite openapi.json from the code
"""

import json
import sys
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from api.errors import PROBLEM_JSON
from models.fields import JSON_VALUE, JSON_VALUE_SCHEMA

OPENAPI_PATH = Path(__file__).resolve().parent.parent / "openapi.json"


def build_openapi(app: FastAPI) -> dict[str, Any]:
    if app.openapi_schema is None:
        schema = get_openapi(
            title=app.title, version=app.version, description=app.description, routes=app.routes
        )
        for path, method, operation in _operations(schema):
            # OFREP's errors are its own JSON bodies, not problem documents, but for the key's
            # (401, 403, 429), which the middleware answers before any route.
            ofrep = OFREP_TAG in operation.get("tags", ())
            if path.startswith((API_PREFIX, OFREP_PREFIX)):
                _needs_a_key(operation)
            for parameter in operation.get("parameters", []):
                parameter["schema"] = _never_null(parameter["schema"])
            if method in _WRITES and not (ofrep or path.endswith(_EVALUATE)):
                operation.setdefault("parameters", []).append(_ACTOR_HEADER)
            responses = operation["responses"]
            if responses.pop("422", None) is not None and not ofrep:
                responses.setdefault("400", _problem("Bad Request", "ValidationProblem"))
            for status, response in responses.items():
                if ofrep and status not in _KEY_STATUSES:
                    continue
                if int(status) >= 400:  # filed under the route's own media type by FastAPI
                    (content,) = response["content"].values()
                    response["content"] = {PROBLEM_JSON: content}
                elif _is_versioned(response):
                    response["headers"] = {"ETag": _ETAG_HEADER}
        for unused in ("HTTPValidationError", "ValidationError"):
            schema["components"]["schemas"].pop(unused, None)
        schema["components"]["schemas"][JSON_VALUE] = JSON_VALUE_SCHEMA
        schema["components"]["securitySchemes"] = {BEARER: _BEARER_SCHEME}
        app.openapi_schema = schema
    return app.openapi_schema


_WRITES = {"post", "put", "patch", "delete"}
API_PREFIX = "/api/v1"
OFREP_PREFIX = "/ofrep/"
OFREP_TAG = "ofrep"
_EVALUATE = "/flags/evaluate"  # a POST that reads: no actor to record
_KEY_STATUSES = {"401", "403", "429"}
BEARER = "bearerAuth"
_BEARER_SCHEME = {
    "type": "http",
    "scheme": "bearer",
    "description": "An API key, cs_…: from POST /api/v1/api-keys, `pipenv run keys create`, "
    "ADMIN_API_KEY, or $DATA_DIR/admin-key after the first start",
}
# Read by hand (api/actor.py), not declared per route, so documented here.
_ACTOR_HEADER = {
    "name": "X-Actor",
    "in": "header",
    "required": False,
    "description": "Whom the key acts for: kept in the audit log beside the key's name (256 characters)",
    "schema": {"type": "string"},
}
_ETAG_HEADER = {
    "description": 'The version, quoted: "3". Send it back in If-Match (writes) or If-None-Match (reads)',
    "schema": {"type": "string"},
}
_VERSIONED = {
    "#/components/schemas/Configuration",
    "#/components/schemas/Application",
    "#/components/schemas/Flag",
}


def _never_null(schema: dict[str, Any]) -> dict[str, Any]:
    """A parameter is sent or left out; FastAPI's `X | None` says it may also be null, and a
    client (or fuzzer) taking that at its word sends the text "null"."""
    branches = [branch for branch in schema.get("anyOf", []) if branch != {"type": "null"}]
    if len(branches) != 1 or len(schema["anyOf"]) != 2:
        return schema
    return {key: value for key, value in schema.items() if key != "anyOf"} | branches[0]


def _is_versioned(response: dict[str, Any]) -> bool:
    """A response carrying one configuration, application or flag, and so its ETag."""
    content = response.get("content", {}).get("application/json", {})
    return content.get("schema", {}).get("$ref") in _VERSIONED


def _problem(description: str, model: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{model}"}}},
    }


def _operations(schema: dict[str, Any]):
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            yield path, method, operation


def _needs_a_key(operation: dict[str, Any]) -> None:
    """Every /api/v1 and /ofrep operation takes a bearer key (api/auth.py), and may answer for it."""
    operation["security"] = [{BEARER: []}]
    responses = operation["responses"]
    responses.setdefault(
        "401", _problem("Unauthorized: no key, or a malformed, unknown, expired or revoked one", "Problem")
    )
    responses.setdefault("403", _problem("Forbidden: the key lacks the scope this needs", "Problem"))
    responses.setdefault(
        "429", _problem("Too Many Requests: beyond the key's rate; see Retry-After", "Problem")
    )


def render(app: FastAPI) -> str:
    return json.dumps(build_openapi(app), indent=2, sort_keys=True) + "\n"


def main() -> int:
    from config.settings import load_settings
    from main import create_app

    OPENAPI_PATH.write_text(render(create_app(load_settings())))
    print(f"wrote {OPENAPI_PATH}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
