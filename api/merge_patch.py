"""Reading an RFC 7396 merge patch from a request body."""

import json
from collections.abc import Iterable
from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException

from api.errors import unparseable
from models import exact_json
from models.requests import unknown_members, without_tolerated

MERGE_PATCH_JSON = "application/merge-patch+json"


async def merge_patch_body(request: Request, members: Iterable[str]) -> dict[str, Any]:
    """The patch, a JSON object whose top-level members are among `members` (a member patched
    that the resource does not have is a typo, even `"confg": null`, which changes nothing)."""
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type != MERGE_PATCH_JSON:
        raise HTTPException(
            415,
            f"PATCH takes a JSON merge patch (Content-Type: {MERGE_PATCH_JSON})",
            headers={"Accept-Patch": MERGE_PATCH_JSON},
        )
    patch = await json_body(request)
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
    patch = without_tolerated(patch, members)
    unknown = unknown_members(patch, members)
    if unknown:
        raise RequestValidationError([_unknown_member(member) for member in unknown])
    return patch


async def json_body(request: Request, *, exact: bool = True) -> Any:
    """The body, parsed with its numbers exact (else as Python's floats and ints); a body that
    is no JSON is refused as FastAPI refuses one (a 400 naming where it broke)."""
    body = await request.body()
    try:
        return exact_json.loads(body) if exact else json.loads(body)
    except json.JSONDecodeError as error:
        raise _malformed(error.pos, error.msg) from None
    except (ValueError, RecursionError) as error:  # bad UTF-8; nesting beyond the parser's limit
        raise _malformed(0, unparseable(error)) from None


def _unknown_member(member: str) -> dict[str, Any]:
    return {"loc": ("body", member), "msg": "Unknown field", "type": "extra_forbidden"}


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
                # A merge patch of a configuration may hold what a PUT may: the same members,
                # none null but the comments (a null name or config would remove it).
                "schema": {
                    "$ref": "#/components/schemas/ConfigurationUpdate",
                    "description": "RFC 7396: members replace, null removes, objects merge",
                },
                "example": {"config": {"pool": {"max": 50}, "legacy_flag": None}},
            }
        },
    }
}
