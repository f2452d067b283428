from fastapi import APIRouter, Request, Response
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError
from starlette.convertors import Convertor, register_url_convertor

from api.conditional import IfMatch, IfNoneMatch, not_modified, representation_response, set_etag
from api.deps import Caller, Changer, Flags
from api.errors import problem_responses
from api.merge_patch import MERGE_PATCH_JSON, json_body, merge_patch_body
from api.paging import FromVersion, ToVersion, VersionPageParams, link_next
from api.strict import StrictRoute, require_json
from models.errors import FlagVersionNotFound
from models.flags import (
    DEFINITION_MEMBERS,
    FLAG_KEY_REGEX,
    EvaluationRequest,
    EvaluationResult,
    Flag,
    FlagCreate,
    FlagDefinition,
    FlagRevision,
)
from models.paging import MAX_VERSION
from models.revisions import Diff, RollbackRequest
from services.flags import evaluation_body


class FlagKeyConvertor(Convertor[str]):
    """A flag's key in a path: never "evaluate", so that .../flags/evaluate is the evaluation
    alone, and its 405 names only its own method."""

    regex = FLAG_KEY_REGEX

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


register_url_convertor("flag_key", FlagKeyConvertor())

_LABEL = {"type": "string", "minLength": 1, "maxLength": 256}
FLAG_MERGE_PATCH_OPENAPI = {
    "requestBody": {
        "required": True,
        "content": {
            MERGE_PATCH_JSON: {
                "schema": {
                    "type": "object",
                    # Null removes a member: those with a default (no description, off, no
                    # rules) may be removed; the others a flag cannot do without.
                    "description": "RFC 7396: members replace, null removes, objects merge",
                    "properties": {
                        "description": {"type": ["string", "null"], "maxLength": 1024},
                        "enabled": {"type": ["boolean", "null"]},
                        "variants": {"type": "object", "description": "Merged into the variants"},
                        "default_variant": _LABEL,
                        "off_variant": _LABEL,
                        "rules": {
                            "anyOf": [
                                {"type": "array", "items": {"$ref": "#/components/schemas/Rule"}},
                                {"type": "null"},
                            ]
                        },
                    },
                    "additionalProperties": False,
                },
                "example": {"enabled": False},
            }
        },
    }
}

router = APIRouter(prefix="/applications/{application_id}/flags", tags=["flags"], route_class=StrictRoute)


@router.post("", status_code=201, responses=problem_responses(400, 404, 409, 413, 503))
async def create_flag(
    application_id: str,
    body: FlagCreate,
    service: Flags,
    changer: Changer,
    request: Request,
    response: Response,
) -> Flag:
    """A new flag: off, unless the body says `enabled`."""
    flag = await service.create(application_id, body, changer)
    location = request.url_for("get_flag", application_id=flag.application_id, key=flag.key)
    response.headers["Location"] = str(location)
    set_etag(response, flag.version)
    return flag


@router.get("", response_model=list[Flag], responses=problem_responses(404, 503))
async def list_flags(application_id: str, service: Flags, caller: Caller) -> Response:
    """All the application's flags, in key order."""
    # The body the cache rendered with the compiled flags: no model, no serializer per read.
    return representation_response(await service.listing(application_id, caller.reach))


_EVALUATE_OPENAPI = {
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": EvaluationRequest.model_json_schema()}},
    }
}


@router.post(
    "/evaluate",
    response_class=Response,
    openapi_extra=_EVALUATE_OPENAPI,
    responses={200: {"model": EvaluationResult, "description": "Each flag's value"}}
    | problem_responses(400, 404, 413, 503),
)
async def evaluate_flags(application_id: str, request: Request, service: Flags, caller: Caller) -> Response:
    """Each flag's value for one context (all flags, or those named): what the client's
    in-process evaluation gives too. Needs only the read scope."""
    # Read and written by hand, not through FastAPI's models: a hot path, evaluated per user.
    await require_json(request)
    try:
        body = EvaluationRequest.model_validate(await json_body(request, exact=False))
    except ValidationError as error:
        errors = error.errors(include_url=False)
        raise RequestValidationError([{**e, "loc": ("body", *e["loc"])} for e in errors]) from None
    results = await service.evaluate(application_id, body.context, body.flags, caller.reach)
    return Response(evaluation_body(results), media_type="application/json")


@router.get(
    "/{key:flag_key}",
    responses={304: {"description": "Not Modified: the version named is current"}}
    | problem_responses(404, 503),
)
async def get_flag(
    application_id: str, key: str, service: Flags, caller: Caller, if_none_match: IfNoneMatch
) -> Response:
    flag = await service.get(application_id, key, caller.reach)
    if if_none_match is not None and if_none_match.matches_weakly(flag.version):
        return not_modified(flag.version)
    response = Response(flag.model_dump_json(), media_type="application/json")
    set_etag(response, flag.version)
    return response


@router.put("/{key:flag_key}", responses=problem_responses(400, 404, 412, 413, 503))
async def update_flag(
    application_id: str,
    key: str,
    body: FlagDefinition,
    service: Flags,
    changer: Changer,
    if_match: IfMatch,
    response: Response,
) -> Flag:
    """Replace the flag's definition (its key stays)."""
    flag = await service.update(application_id, key, body, changer, if_match)
    set_etag(response, flag.version)
    return flag


@router.patch(
    "/{key:flag_key}",
    openapi_extra=FLAG_MERGE_PATCH_OPENAPI,
    responses=problem_responses(400, 404, 412, 413, 415, 503),
)
async def patch_flag(
    application_id: str,
    key: str,
    request: Request,
    service: Flags,
    changer: Changer,
    if_match: IfMatch,
    response: Response,
) -> Flag:
    """Change part of a flag with an RFC 7396 JSON merge patch: `{"enabled": false}` is the kill switch."""
    patch = await merge_patch_body(request, DEFINITION_MEMBERS)
    flag = await service.patch(application_id, key, patch, changer, if_match)
    set_etag(response, flag.version)
    return flag


@router.delete(
    "/{key:flag_key}", status_code=204, response_class=Response, responses=problem_responses(404, 412, 503)
)
async def delete_flag(
    application_id: str, key: str, service: Flags, changer: Changer, if_match: IfMatch
) -> None:
    await service.delete(application_id, key, changer, if_match)


@router.post("/{key:flag_key}/rollback", responses=problem_responses(400, 404, 412, 503))
async def rollback_flag(
    application_id: str,
    key: str,
    body: RollbackRequest,
    service: Flags,
    changer: Changer,
    if_match: IfMatch,
    response: Response,
) -> Flag:
    """Make a new version whose definition is an earlier one's (nothing is deleted)."""
    flag = await service.rollback(
        application_id, key, body.version, changer, note=body.comment, if_match=if_match
    )
    set_etag(response, flag.version)
    return flag


@router.get("/{key:flag_key}/versions", responses=problem_responses(400, 404, 503))
async def list_flag_versions(
    application_id: str,
    key: str,
    service: Flags,
    caller: Caller,
    page: VersionPageParams,
    request: Request,
    response: Response,
) -> list[FlagRevision]:
    """Every version of the flag, newest first."""
    result = await service.versions(application_id, key, page, caller.reach)
    link_next(request, response, result)
    return result.items


@router.get("/{key:flag_key}/versions/{version}", responses=problem_responses(404, 503))
async def get_flag_version(
    application_id: str, key: str, version: str, service: Flags, caller: Caller
) -> FlagRevision:
    if not (version.isascii() and version.isdigit()) or not 1 <= int(version) <= MAX_VERSION:
        raise FlagVersionNotFound(key, version)
    return await service.version(application_id, key, int(version), caller.reach)


@router.get("/{key:flag_key}/diff", responses=problem_responses(400, 404, 503))
async def diff_flag_versions(
    application_id: str,
    key: str,
    service: Flags,
    caller: Caller,
    from_version: FromVersion,
    to_version: ToVersion = None,
) -> Diff:
    """An RFC 6902 JSON Patch turning one version's definition into another's."""
    return await service.diff(application_id, key, from_version, to_version, caller.reach)
