"""Reading an RFC 7396 merge patch from a request body."""

import json
from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException

MERGE_PATCH_JSON = "application/merge-patch+json"


async def merge_patch_body(request: Request) -> dict[str, Any]:
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type != MERGE_PATCH_JSON:
        raise HTTPException(
            415,
            f"PATCH takes a JSON merge patch (Content-Type: {MERGE_PATCH_JSON})",
            headers={"Accept-Patch": MERGE_PATCH_JSON},
        )
    body = await request.body()
    try:
        patch = json.loads(body)
    except json.JSONDecodeError as error:
        raise _malformed(error.pos, error.msg) from None
    except (ValueError, RecursionError) as error:  # bad UTF-8; nesting beyond the parser's limit
        raise _malformed(0, str(error) or type(error).__name__) from None
    if not isinstance(patch, dict):
        raise RequestValidationError(
            [
                {
                    "loc": ("body",),
                    "msg": "A merge patch of a configuration is a JSON object",
                    "type": "dict_type",
                }
            ]
        )
    return patch


def _malformed(position: int, reason: str) -> RequestValidationError:
    # The same shape as FastAPI's own report of a malformed JSON body.
    return RequestValidationError(
        [
            {
                "loc": ("body", position),
                "msg": "JSON decode error",
                "type": "json_invalid",
                "ctx": {"error": reason},
            }
        ]
    )


# How PATCH's body is described in the OpenAPI document (FastAPI cannot infer it).
MERGE_PATCH_OPENAPI = {
    "requestBody": {
        "required": True,
        "content": {
            MERGE_PATCH_JSON: {
                "schema": {
                    "type": "object",
                    "description": "RFC 7396: members replace, null removes, objects merge",
                    "properties": {
                        "name": {"type": "string"},
                        "comments": {"type": ["string", "null"]},
                        "config": {"type": ["object", "null"]},
                    },
                },
                "example": {"config": {"pool": {"max": 50}, "legacy_flag": None}},
            }
        },
    }
}
