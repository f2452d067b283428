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

OPENAPI_PATH = Path(__file__).resolve().parent.parent / "openapi.json"


def build_openapi(app: FastAPI) -> dict[str, Any]:
    if app.openapi_schema is None:
        schema = get_openapi(
            title=app.title, version=app.version, description=app.description, routes=app.routes
        )
        for method, operation in _operations(schema):
            if method in _WRITES:
                operation.setdefault("parameters", []).append(_ACTOR_HEADER)
            responses = operation["responses"]
            if responses.pop("422", None) is not None:
                responses.setdefault("400", _problem("Bad Request", "ValidationProblem"))
            for status, response in responses.items():
                if int(status) >= 400:  # filed under the route's own media type by FastAPI
                    (content,) = response["content"].values()
                    response["content"] = {PROBLEM_JSON: content}
                elif _is_versioned(response):
                    response["headers"] = {"ETag": _ETAG_HEADER}
        for unused in ("HTTPValidationError", "ValidationError"):
            schema["components"]["schemas"].pop(unused, None)
        app.openapi_schema = schema
    return app.openapi_schema


_WRITES = {"post", "put", "patch", "delete"}
# Read by hand (api/actor.py), not declared per route, so documented here.
_ACTOR_HEADER = {
    "name": "X-Actor",
    "in": "header",
    "required": False,
    "description": "Who makes the change, for the audit log (at most 256 characters); default anonymous",
    "schema": {"type": "string"},
}
_ETAG_HEADER = {
    "description": 'The version, quoted: "3". Send it back in If-Match (writes) or If-None-Match (reads)',
    "schema": {"type": "string"},
}
_VERSIONED = {"#/components/schemas/Configuration", "#/components/schemas/Application"}


def _is_versioned(response: dict[str, Any]) -> bool:
    """A response carrying one configuration or application, and so its ETag."""
    content = response.get("content", {}).get("application/json", {})
    return content.get("schema", {}).get("$ref") in _VERSIONED


def _problem(description: str, model: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{model}"}}},
    }


def _operations(schema: dict[str, Any]):
    for path in schema["paths"].values():
        yield from path.items()


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
