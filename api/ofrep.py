"""OFREP, the OpenFeature Remote Evaluation Protocol: any OpenFeature SDK's OFREP provider
evaluates our flags, pointed at an application's URL (/api/v1/applications/{id}) or at the
service's root with a key restricted to one application.

The bodies, status codes and error codes are OFREP's own, not our problem documents: the
providers read `errorCode` and `errorDetails`. What the auth middleware answers (401, 403,
429) and a database outage (503) stay ours; the providers map those statuses themselves.

These routes are hot and small: the body is parsed with json.loads and the answer written
with json.dumps, with no pydantic model in between (the models here only document them).
"""

import hashlib
import json
from typing import Any, Literal, NoReturn

from config_service_client.flag_rules import Evaluation
from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, Field

from api.auth import caller_of
from api.strict import StrictRoute
from models.errors import ApplicationNotFound
from services.flags import FlagService, FlagSet

EVALUATE = "/ofrep/v1/evaluate/flags"
JSON = "application/json"
NO_METADATA: dict[str, Any] = {}


class OfrepEvaluationRequest(BaseModel):
    context: dict[str, Any] = Field(
        default_factory=dict,
        description="The evaluation context: targetingKey (our targeting_key) and any attributes",
    )


class OfrepEvaluationSuccess(BaseModel):
    key: str
    reason: Literal["STATIC", "TARGETING_MATCH", "SPLIT", "DISABLED", "DEFAULT"]
    variant: str
    value: Any
    metadata: dict[str, Any]


class OfrepEvaluationFailure(BaseModel):
    key: str
    errorCode: Literal["PARSE_ERROR", "INVALID_CONTEXT", "GENERAL"]
    errorDetails: str


class OfrepFlagNotFound(BaseModel):
    key: str
    errorCode: Literal["FLAG_NOT_FOUND", "GENERAL"]
    errorDetails: str


class OfrepBulkEvaluationSuccess(BaseModel):
    flags: list[OfrepEvaluationSuccess]


class OfrepBulkEvaluationFailure(BaseModel):
    errorCode: Literal["PARSE_ERROR", "INVALID_CONTEXT", "GENERAL"]
    errorDetails: str


_REQUEST_BODY = {
    "requestBody": {
        "required": False,
        "content": {JSON: {"schema": OfrepEvaluationRequest.model_json_schema()}},
    }
}
_SINGLE_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"model": OfrepEvaluationSuccess, "description": "The flag's value for the context"},
    400: {"model": OfrepEvaluationFailure, "description": "PARSE_ERROR, INVALID_CONTEXT or GENERAL"},
    404: {"model": OfrepFlagNotFound, "description": "No such flag (FLAG_NOT_FOUND) or application"},
}
_BULK_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "model": OfrepBulkEvaluationSuccess,
        "description": "Every flag's value for the context",
        "headers": {"ETag": {"description": "Send it back in If-None-Match", "schema": {"type": "string"}}},
    },
    304: {"description": "Not Modified: neither the flags nor the context changed since that ETag"},
    400: {"model": OfrepBulkEvaluationFailure, "description": "PARSE_ERROR, INVALID_CONTEXT or GENERAL"},
    404: {"model": OfrepBulkEvaluationFailure, "description": "No such application (GENERAL)"},
}
_IF_NONE_MATCH = {
    "parameters": [
        {
            "name": "If-None-Match",
            "in": "header",
            "required": False,
            "description": "The ETag of an earlier answer: 304 while it still holds",
            "schema": {"type": "string"},
        }
    ]
}

# Per application: the provider's base URL is the application's own URL.
# Strict as every /api/v1 route: an unknown query parameter is refused (api/strict.py).
router = APIRouter(prefix="/applications/{application_id}", tags=["ofrep"], route_class=StrictRoute)
# At the root: the key names the application (it must reach exactly one).
root_router = APIRouter(tags=["ofrep"])


class _Refused(Exception):
    """An OFREP error answer, raised from deep in a request."""

    def __init__(self, status: int, code: str, details: str) -> None:
        self.status, self.code, self.details = status, code, details

    def response(self, key: str | None = None) -> Response:
        """The answer; a single flag's names the flag (OFREP's evaluationFailure)."""
        body = {"errorCode": self.code, "errorDetails": self.details}
        return _json_response(body if key is None else {"key": key} | body, self.status)


@router.post(
    EVALUATE + "/{key}", responses=_SINGLE_RESPONSES, openapi_extra=_REQUEST_BODY, response_class=Response
)
async def ofrep_evaluate_flag(application_id: str, key: str, request: Request) -> Response:
    """OFREP single flag evaluation: needs only the read scope."""
    return await _single(request, application_id, key)


@router.post(
    EVALUATE, responses=_BULK_RESPONSES, openapi_extra=_REQUEST_BODY | _IF_NONE_MATCH, response_class=Response
)
async def ofrep_evaluate_flags(application_id: str, request: Request) -> Response:
    """OFREP bulk evaluation: every flag, with an ETag that changes when any flag or the
    context does; If-None-Match answers 304 while neither has."""
    return await _bulk(request, application_id)


@root_router.post(
    EVALUATE + "/{key}", responses=_SINGLE_RESPONSES, openapi_extra=_REQUEST_BODY, response_class=Response
)
async def ofrep_root_evaluate_flag(key: str, request: Request) -> Response:
    """As /api/v1/applications/{id}/ofrep/v1/evaluate/flags/{key}, for the one application
    the key is restricted to."""
    try:
        application_id = _only_application(request)
    except _Refused as refused:
        return refused.response(key)
    return await _single(request, application_id, key)


@root_router.post(
    EVALUATE, responses=_BULK_RESPONSES, openapi_extra=_REQUEST_BODY | _IF_NONE_MATCH, response_class=Response
)
async def ofrep_root_evaluate_flags(request: Request) -> Response:
    """As /api/v1/applications/{id}/ofrep/v1/evaluate/flags, for the one application the key
    is restricted to."""
    try:
        application_id = _only_application(request)
    except _Refused as refused:
        return refused.response()
    return await _bulk(request, application_id)


async def _single(request: Request, application_id: str, key: str) -> Response:
    try:
        context = await _context_of(request)
        flags = await _flag_set(request, application_id)
    except _Refused as refused:
        return refused.response(key)
    compiled = flags.compiled.get(key)
    if compiled is None:
        details = f"No flag {key!r} in application {application_id!r}"
        return _json_response({"key": key, "errorCode": "FLAG_NOT_FOUND", "errorDetails": details}, 404)
    return _json_response(_success(key, compiled.evaluate(context)))


async def _bulk(request: Request, application_id: str) -> Response:
    try:
        context = await _context_of(request)
        flags = await _flag_set(request, application_id)
    except _Refused as refused:
        return refused.response()
    tag = _bulk_etag(flags, context)
    if _matches(request.headers.get("if-none-match"), tag):
        return Response(status_code=304, headers={"ETag": tag})
    results = [_success(key, compiled.evaluate(context)) for key, compiled in flags.compiled.items()]
    response = _json_response({"flags": results})
    response.headers["ETag"] = tag
    return response


async def _context_of(request: Request) -> dict[str, Any]:
    """The request's evaluation context, with OFREP's targetingKey as our targeting_key.

    No body at all counts as no context, as `{}` does. A missing targeting key is never an
    error here (so TARGETING_KEY_MISSING is never answered): a rollout without its stickiness
    attribute serves its first variant, reason DEFAULT (config_service_client.flag_rules)."""
    body = await request.body()
    if not body.strip():
        return {}
    try:
        parsed = json.loads(body, parse_constant=_not_json)
    except (ValueError, RecursionError) as error:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise _Refused(400, "PARSE_ERROR", f"The body is not JSON: {error}") from None
    if not isinstance(parsed, dict):
        raise _Refused(400, "INVALID_CONTEXT", 'The body must be a JSON object: {"context": {...}}')
    if "context" not in parsed:
        return {}
    context = parsed["context"]
    if not isinstance(context, dict):
        raise _Refused(400, "INVALID_CONTEXT", "The context must be a JSON object")
    if "targetingKey" in context:
        # OFREP's name wins over an attribute of ours that the caller also sent.
        context["targeting_key"] = context.pop("targetingKey")
    return context


def _not_json(constant: str) -> NoReturn:
    raise ValueError(f"{constant} is not a JSON number")


async def _flag_set(request: Request, application_id: str) -> FlagSet:
    service: FlagService = request.app.state.flags
    try:
        # Its database errors are left to rise: the service's own 503 answers them.
        return await service.flag_set(application_id, caller_of(request.scope).reach)
    except ApplicationNotFound as error:
        raise _Refused(404, "GENERAL", error.detail) from None


def _only_application(request: Request) -> str:
    """The one application the caller's key is restricted to; a 400 saying what to do for any
    other key (which of several applications, or of all, would be a guess)."""
    reach = caller_of(request.scope).reach
    if reach is not None and len(reach) == 1:
        return next(iter(reach))
    which = "every application" if reach is None else f"{len(reach)} applications"
    details = (
        f"This key reaches {which}, so /ofrep names no one application: use a key restricted to "
        "exactly one application, or point the provider at /api/v1/applications/{application_id}"
    )
    raise _Refused(400, "GENERAL", details)


def _bulk_etag(flags: FlagSet, context: dict[str, Any]) -> str:
    """Of the flags' own tag and the context: the same flags for another context are
    another answer, and must not be a 304. The context as canonical JSON, so that the order
    a client sends its members in does not matter."""
    canonical = json.dumps(context, sort_keys=True, separators=(",", ":"), default=str)
    digest = hashlib.sha256(f"{flags.etag}\n{canonical}".encode(errors="surrogatepass"))
    return f'"{digest.hexdigest()[:32]}"'


def _matches(if_none_match: str | None, tag: str) -> bool:
    """Whether If-None-Match lists the tag (a weak comparison, as RFC 9110 has for it).
    `*` is not taken: a POST's If-None-Match * would ask for a 412, not a 304."""
    if not if_none_match:
        return False
    return any(listed.strip().removeprefix("W/") == tag for listed in if_none_match.split(","))


def _success(key: str, found: Evaluation) -> dict[str, Any]:
    return {
        "key": key,
        "reason": found.reason,
        "variant": found.variant,
        "value": found.value,
        "metadata": NO_METADATA,
    }


def _dumps(body: Any) -> bytes:
    return json.dumps(body, separators=(",", ":")).encode()


def _json_response(body: Any, status: int = 200) -> Response:
    return Response(_dumps(body), status_code=status, media_type=JSON)
