import random
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError
from starlette.exceptions import HTTPException

from api.auth import caller_of
from api.conditional import IfMatch, if_none_match_of, not_modified, representation_response, set_etag
from api.deps import Caller, Changer, Configurations, audit_context
from api.disconnects import ended_by_disconnect
from api.errors import problem_responses
from api.exact_numbers import ExactNumbersRoute
from api.merge_patch import MERGE_PATCH_JSON, MERGE_PATCH_OPENAPI, json_body, merge_patch_body
from api.paging import FromVersion, PageParams, ToVersion, VersionPageParams, link_next
from api.query import described, header_parameter, optional_flag, optional_number, query_parameter
from models import exact_json
from models.configurations import STATE_MEMBERS, Configuration, ConfigurationCreate, ConfigurationUpdate
from models.errors import RevealForbidden, RevisionNotFound
from models.fields import SearchText
from models.ids import Ulid
from models.paging import MAX_VERSION
from models.preconditions import CONDITION_PATTERN, VersionCondition, etag
from models.revisions import Diff, Revision, RollbackRequest
from models.schemas import ValidationResult
from services.configurations import ConfigurationService

router = APIRouter(prefix="/configurations", tags=["configurations"], route_class=ExactNumbersRoute)


@router.post("", status_code=201, responses=problem_responses(400, 404, 409, 413, 503, schema_errors=True))
async def create_configuration(
    body: ConfigurationCreate,
    service: Configurations,
    changer: Changer,
    request: Request,
    response: Response,
) -> Configuration:
    configuration = await service.create(body, changer)
    location = request.url_for("get_configuration", configuration_id=configuration.id)
    response.headers["Location"] = str(location)
    set_etag(response, configuration.version)
    return configuration


@router.get("", responses=problem_responses(400, 404, 503))
async def list_configurations(
    service: Configurations,
    caller: Caller,
    page: PageParams,
    request: Request,
    response: Response,
    application_id: Annotated[Ulid | None, Query(description="Only this application's")] = None,
    name: Annotated[SearchText | None, Query(description="Exact name")] = None,
) -> list[Configuration]:
    result = await service.list(page, application_id=application_id, name=name, reach=caller.reach)
    link_next(request, response, result)
    return result.items


REVEAL_DOCUMENTED = query_parameter(
    "reveal",
    {"type": "boolean"},
    "Show secrets in plain (a key with the secrets scope; audited; never cached)",
)
LONG_POLL_DOCUMENTED = described(
    query_parameter(
        "wait", {"minimum": 0, "type": "number"}, "Long poll: hold up to this many seconds for a change"
    ),
    query_parameter(
        "version",
        {"maximum": MAX_VERSION, "minimum": 0, "type": "integer"},
        "With wait: the version the client has",
    ),
    header_parameter(
        "If-None-Match", 'Answer 304 if the current version is this one: "3"', CONDITION_PATTERN
    ),
    REVEAL_DOCUMENTED,
)


@router.get(
    "/{configuration_id}",
    response_model=Configuration,
    openapi_extra=LONG_POLL_DOCUMENTED,
    responses={304: {"description": "Not Modified: the version named is current (or no change came)"}}
    | problem_responses(400, 403, 404, 503),
)
async def get_configuration(configuration_id: str, request: Request) -> Response:
    """The configuration. With `wait` (a long poll): answered at once if it is newer than
    `version` (or the If-None-Match version), else held until it changes (200) or `wait`
    passes (304)."""
    # The hottest route: its parameters and services are read by hand (api/query.py).
    wait = optional_number(request, "wait", float, minimum=0)
    version = optional_number(request, "version", int, minimum=0, maximum=MAX_VERSION)
    if_none_match = if_none_match_of(request)
    state = request.app.state
    reveal = optional_flag(request, "reveal")
    if reveal and not caller_of(request.scope).holds("secrets"):
        raise RevealForbidden()  # before any wait: the answer would be refused anyway
    reach = caller_of(request.scope).reach
    if wait is None and version is None:
        representation = await state.configurations.representation(configuration_id, reach)
        if if_none_match is not None and if_none_match.matches_weakly(representation.version):
            return not_modified(representation.version)
    else:
        known = version if version is not None else _version_named(if_none_match)
        hold_s = _hold(wait or 0, state.settings.max_wait_seconds)
        async with ended_by_disconnect(request.receive):  # a departed client's wait ends with it
            representation, changed = await state.watcher.wait_for_change(
                configuration_id, known, hold_s, reach
            )
        if not changed:
            return not_modified(representation.version)
    if reveal:  # read afresh, in plain, and audited; never from or into the cache
        return await _revealed(request, state.configurations, configuration_id)
    return representation_response(representation)


async def _revealed(
    request: Request, service: ConfigurationService, configuration_id: str, version: int | None = None
) -> Response:
    """The configuration (or a version of it) with its secrets in plain, for a key that holds
    the secrets scope; never stored by any cache on the way."""
    caller = caller_of(request.scope)
    if not caller.holds("secrets"):
        raise RevealForbidden()
    revealed = await service.revealed(configuration_id, await audit_context(request), version)
    body = exact_json.unmarked_bytes(revealed.model_dump_json().encode())
    headers = {"Cache-Control": "no-store"}
    if version is None:
        headers["ETag"] = etag(revealed.version)
    return Response(body, media_type="application/json", headers=headers)


def _version_named(if_none_match: VersionCondition | None) -> int | None:
    """The version a long poll's If-None-Match names; None (the current one) for none or *.
    Tags we never issued ("0", "abc") name no version the client has: any is newer (0)."""
    if if_none_match is None or if_none_match.any:
        return None
    return max(if_none_match.strong | if_none_match.weak, default=0)


def _hold(wait_s: float, max_wait_s: float) -> float:
    # A little jitter, never beyond what was asked, so clients that started together
    # do not all come back at the same moment.
    return min(wait_s, max_wait_s) * random.uniform(0.9, 1.0)


@router.put(
    "/{configuration_id}", responses=problem_responses(400, 404, 409, 412, 413, 503, schema_errors=True)
)
async def update_configuration(
    configuration_id: str,
    body: ConfigurationUpdate,
    service: Configurations,
    changer: Changer,
    if_match: IfMatch,
    response: Response,
) -> Configuration:
    configuration = await service.update(configuration_id, body, changer, if_match)
    set_etag(response, configuration.version)
    return configuration


@router.patch(
    "/{configuration_id}",
    openapi_extra=MERGE_PATCH_OPENAPI,
    responses=problem_responses(400, 404, 409, 412, 413, 415, 503, schema_errors=True),
)
async def patch_configuration(
    configuration_id: str,
    request: Request,
    service: Configurations,
    changer: Changer,
    if_match: IfMatch,
    response: Response,
) -> Configuration:
    """Change part of a configuration with an RFC 7396 JSON merge patch."""
    patch = await merge_patch_body(request, STATE_MEMBERS)
    configuration = await service.patch(configuration_id, patch, changer, if_match)
    set_etag(response, configuration.version)
    return configuration


@router.delete(
    "/{configuration_id}",
    status_code=204,
    response_class=Response,
    responses=problem_responses(400, 404, 412, 503),
)
async def delete_configuration(
    configuration_id: str, service: Configurations, changer: Changer, if_match: IfMatch
) -> None:
    await service.delete(configuration_id, changer, if_match)


@router.post(
    "/{configuration_id}/rollback", responses=problem_responses(400, 404, 409, 412, 503, schema_errors=True)
)
async def rollback_configuration(
    configuration_id: str,
    body: RollbackRequest,
    service: Configurations,
    changer: Changer,
    if_match: IfMatch,
    response: Response,
) -> Configuration:
    """Make a new version equal to an earlier one (nothing is deleted)."""
    configuration = await service.rollback(
        configuration_id, body.version, changer, note=body.comment, if_match=if_match
    )
    set_etag(response, configuration.version)
    return configuration


@router.get("/{configuration_id}/versions", responses=problem_responses(400, 404, 503))
async def list_configuration_versions(
    configuration_id: str,
    service: Configurations,
    caller: Caller,
    page: VersionPageParams,
    request: Request,
    response: Response,
) -> list[Revision]:
    """Every version of the configuration, newest first."""
    result = await service.versions(configuration_id, page, caller.reach)
    link_next(request, response, result)
    return result.items


@router.get("/{configuration_id}/versions/{version}", responses=problem_responses(400, 403, 404, 503))
async def get_configuration_version(
    configuration_id: str,
    version: str,
    service: Configurations,
    caller: Caller,
    request: Request,
    reveal: Annotated[bool, Query(description=REVEAL_DOCUMENTED["description"])] = False,
) -> Revision:
    if not (version.isascii() and version.isdigit()) or not 1 <= int(version) <= MAX_VERSION:
        raise RevisionNotFound(configuration_id, version)
    if reveal:
        return await _revealed(request, service, configuration_id, int(version))
    return await service.version(configuration_id, int(version), caller.reach)


@router.get("/{configuration_id}/diff", responses=problem_responses(400, 404, 503))
async def diff_configuration_versions(
    configuration_id: str,
    service: Configurations,
    caller: Caller,
    from_version: FromVersion,
    to_version: ToVersion = None,
) -> Diff:
    """An RFC 6902 JSON Patch turning one version's config into another's."""
    return await service.diff(configuration_id, from_version, to_version, caller.reach)


_VALIDATE_OPENAPI = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": {"$ref": "#/components/schemas/ConfigurationUpdate"}},
            MERGE_PATCH_JSON: MERGE_PATCH_OPENAPI["requestBody"]["content"][MERGE_PATCH_JSON],
        },
    }
}


@router.post(
    "/{configuration_id}/validate",
    openapi_extra=_VALIDATE_OPENAPI,
    responses=problem_responses(400, 404, 413, 415, 503),
)
async def validate_configuration_change(
    configuration_id: str, request: Request, service: Configurations, caller: Caller
) -> ValidationResult:
    """Whether a change would pass the configuration's schema, and why not: the body of a PUT
    (application/json) or of a merge PATCH (application/merge-patch+json). Writes nothing."""
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type == MERGE_PATCH_JSON:
        patch = await merge_patch_body(request, STATE_MEMBERS)
        return await service.check(configuration_id, caller.reach, patch=patch)
    if media_type != "application/json":
        raise HTTPException(
            415, f"Send the body of a PUT (application/json) or of a PATCH ({MERGE_PATCH_JSON})"
        )
    update = await _put_body(request)
    return await service.check(configuration_id, caller.reach, fields=update.model_dump(exclude_unset=True))


async def _put_body(request: Request) -> ConfigurationUpdate:
    """The body as a PUT reads it: FastAPI reads only one kind of body per route."""
    try:
        return ConfigurationUpdate.model_validate(await json_body(request))
    except ValidationError as error:
        errors = error.errors(include_url=False)
        raise RequestValidationError([{**e, "loc": ("body", *e["loc"])} for e in errors]) from None
