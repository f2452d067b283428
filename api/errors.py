"""The one place where errors become HTTP: RFC 9457 problem details.

Services raise domain errors (models/errors.py) and know nothing of HTTP; each kind is
mapped here, by the first base class found in `_DOMAIN_STATUSES`.
"""

import logging
import re
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.routing import iter_route_contexts
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect
from starlette.routing import Match

from database.errors import DatabaseUnavailable
from models.errors import (
    BreakingSchemaVersion,
    Conflict,
    DomainError,
    Forbidden,
    InvalidChange,
    InvalidSchema,
    NotFound,
    PreconditionFailed,
    SchemaInUse,
    SchemaValidationFailed,
)
from models.preconditions import etag
from models.schemas import SchemaError

PROBLEM_JSON = "application/problem+json"
PROBLEM_TYPE_PREFIX = "urn:config-service:problem:"
CLIENT_CLOSED_REQUEST = 499

logger = logging.getLogger(__name__)

_DOMAIN_STATUSES: list[tuple[type[DomainError], int]] = [(NotFound, 404), (Conflict, 409), (Forbidden, 403)]


class Problem(BaseModel):
    """An RFC 9457 problem document."""

    type: str = Field(examples=[f"{PROBLEM_TYPE_PREFIX}application-not-found"])
    title: str = Field(examples=["Not Found"])
    status: int = Field(examples=[404])
    detail: str | None = Field(None, examples=["Application '01J...' does not exist"])


class FieldError(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    location: str = Field(alias="in", examples=["body"])
    field: str = Field(examples=["name"])
    message: str = Field(examples=["String should have at most 256 characters"])
    type: str = Field(examples=["string_too_long"])


class ValidationProblem(Problem):
    errors: list[FieldError]


def status_phrase(status: int) -> str:
    # RFC 9110's name; Python before 3.13 still says "Request Entity Too Large".
    return "Content Too Large" if status == 413 else HTTPStatus(status).phrase


class SchemaProblem(Problem):
    """A document refused by a JSON Schema (schema-validation), or a schema that is not one
    (invalid-schema): each error by JSON Pointer."""

    errors: list[SchemaError]


def problem_responses(*statuses: int, schema_errors: bool = False) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` entries for the problems an operation can answer with; with
    `schema_errors`, its 400 may also be a SchemaProblem.

    FastAPI files the model under application/json; api/schema.py moves it to problem+json.
    """
    invalid = ValidationProblem | SchemaProblem if schema_errors else ValidationProblem
    return {
        status: {
            "model": invalid if status == 400 else Problem,
            "description": status_phrase(status),
        }
        for status in statuses
    }


def problem(
    status: int,
    code: str,
    detail: str | None = None,
    *,
    headers: dict[str, str] | None = None,
    **extensions: Any,
) -> JSONResponse:
    body = {"type": PROBLEM_TYPE_PREFIX + code, "title": status_phrase(status), "status": status}
    if detail is not None:
        body["detail"] = detail
    body.update(extensions)
    return JSONResponse(body, status_code=status, headers=headers, media_type=PROBLEM_JSON)


def internal_error() -> JSONResponse:
    return problem(500, "internal-error", "The server failed to handle the request; it has been logged")


def _kebab(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "-", name).lower()


async def _domain_error(request: Request, error: DomainError) -> JSONResponse:
    # A client's error of a kind not mapped yet is still the client's: 400, not 500.
    status = next((status for kind, status in _DOMAIN_STATUSES if isinstance(error, kind)), 400)
    return problem(status, _kebab(type(error).__name__), error.detail)


async def _database_unavailable(request: Request, error: DatabaseUnavailable) -> JSONResponse:
    return database_unavailable(error)


def database_unavailable(error: DatabaseUnavailable) -> JSONResponse:
    """The 503 for a database that failed, also for middleware outside the routes."""
    # The client learns that the database failed; the log keeps the driver's account of it.
    cause = f" ({str(error.__cause__).strip()})" if error.__cause__ else ""
    logger.warning("database unavailable: %s%s", error.detail, cause)
    headers = {"Retry-After": str(error.retry_after_s)}
    return problem(503, "database-unavailable", error.detail, headers=headers)


def unparseable(error: BaseException | None) -> str:
    """Why a body could not be read as JSON, in the request's terms (not the parser's)."""
    if isinstance(error, RecursionError):
        return "The body is nested too deeply to read"
    if isinstance(error, UnicodeDecodeError):
        return "The body is not valid UTF-8"
    return "The body is not valid JSON"


NOTHING_HERE = "Nothing here; the API is under /api/v1, its documentation at /docs"
# The order methods are listed in, in Allow and in the detail of a 405.
_METHOD_ORDER = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


async def _http_error(request: Request, error: HTTPException) -> Response:
    if isinstance(error.__cause__, ClientDisconnect):  # FastAPI's word for a body cut short
        return await _client_disconnect(request, error.__cause__)
    if error.status_code == 400:
        # Only FastAPI raises a bare 400: a body it could not parse at all (bad UTF-8,
        # nesting or numbers beyond the parser). Shown like any other invalid body.
        message = unparseable(error.__cause__)
        return _invalid([FieldError(location="body", field="", message=message, type="json_invalid")])
    if error.status_code == 404:  # raised by the router only: no route has this path
        return problem(404, "not-found", NOTHING_HERE)
    if error.status_code == 405:
        return _method_not_allowed(request)
    phrase = status_phrase(error.status_code)
    detail = None if error.detail == phrase else error.detail
    return problem(error.status_code, _kebab(phrase.replace(" ", "")), detail, headers=error.headers)


def _method_not_allowed(request: Request) -> JSONResponse:
    # Starlette's Allow names the methods of the first route matching the path; a path
    # served by several routes (GET and POST /configurations) has them all.
    allowed: set[str] = set()
    for context in iter_route_contexts(request.app.routes):
        match, _ = context.matches(request.scope)
        if match is not Match.NONE:
            allowed.update(getattr(context.original_route, "methods", None) or ())
    methods = sorted(
        allowed, key=lambda method: _METHOD_ORDER.index(method) if method in _METHOD_ORDER else 99
    )
    listed = ", ".join(methods)
    return problem(
        405,
        "method-not-allowed",
        f"{request.method} is not a method of {request.url.path}; its methods are {listed}",
        headers={"Allow": listed},
    )


async def _client_disconnect(request: Request, error: ClientDisconnect) -> Response:
    # Nobody reads it: the status is for the access log and metrics (nginx's "client
    # closed request").
    return Response(status_code=CLIENT_CLOSED_REQUEST)


async def _precondition_failed(request: Request, error: PreconditionFailed) -> JSONResponse:
    return problem(
        412,
        "precondition-failed",
        error.detail,
        headers={"ETag": etag(error.current_version)},
        current_version=error.current_version,
    )


async def _invalid_change(request: Request, error: InvalidChange) -> JSONResponse:
    return _invalid([_field_error("body", list(item["loc"]), item) for item in error.errors])


def _dotted(path: list[Any]) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else f".{part}"
    return text.lstrip(".")


# pydantic's words for these speak of Python; a client sent JSON.
_JSON_TERMS = {
    "dict_type": "Input should be a JSON object",
    "model_type": "Input should be a JSON object",
    "model_attributes_type": "Input should be a JSON object",
    "list_type": "Input should be a JSON array",
    "extra_forbidden": "Unknown field",
}


def _field_error(location: str, path: list[Any], error: dict[str, Any]) -> FieldError:
    message = _JSON_TERMS.get(error["type"]) if error["msg"].startswith(("Input should", "Extra")) else None
    message = message or error["msg"].removeprefix("Value error, ")
    if error["type"] in ("literal_error", "enum"):
        message = re.sub(r"'([^']*)'", r'"\1"', message)  # quoted as JSON quotes, as everywhere
    if error["type"] == "json_invalid":
        # The location is a character offset into the body, not a field.
        path = []
        message = f"Malformed JSON at character {error['loc'][-1]}: {error['ctx']['error']}"
    elif error["type"] == "unstorable_json":
        path = [error["ctx"]["path"]]
    return FieldError(location=location, field=_dotted(path), message=message, type=error["type"])


async def _validation_error(request: Request, error: RequestValidationError) -> JSONResponse:
    return _invalid([_field_error(item["loc"][0], list(item["loc"][1:]), item) for item in error.errors()])


def _invalid(errors: list[FieldError]) -> JSONResponse:
    named = ", ".join(sorted({f"{e.location}.{e.field}".rstrip(".") for e in errors}))
    return problem(
        400,
        "validation-error",
        f"The request is invalid: {named}",
        errors=[e.model_dump(by_alias=True) for e in errors],
    )


# A document checked against a JSON Schema: each error by JSON Pointer (services/json_schemas.py).
async def _schema_validation_failed(request: Request, error: SchemaValidationFailed) -> JSONResponse:
    return problem(
        400,
        "schema-validation",
        error.detail,
        schema={"name": error.schema, "version": error.version},
        errors=error.errors,
    )


async def _invalid_schema(request: Request, error: InvalidSchema) -> JSONResponse:
    return problem(400, "invalid-schema", error.detail, errors=error.errors)


async def _breaking_schema_version(request: Request, error: BreakingSchemaVersion) -> JSONResponse:
    return problem(
        409, "breaking-schema-version", error.detail, breaking=error.breaking, breaking_count=error.count
    )


async def _schema_in_use(request: Request, error: SchemaInUse) -> JSONResponse:
    return problem(
        409,
        "schema-in-use",
        error.detail,
        configurations=error.configurations,
        configurations_count=error.count,
    )


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(DomainError, _domain_error)
    app.add_exception_handler(PreconditionFailed, _precondition_failed)
    app.add_exception_handler(InvalidChange, _invalid_change)
    app.add_exception_handler(SchemaValidationFailed, _schema_validation_failed)
    app.add_exception_handler(InvalidSchema, _invalid_schema)
    app.add_exception_handler(BreakingSchemaVersion, _breaking_schema_version)
    app.add_exception_handler(SchemaInUse, _schema_in_use)
    app.add_exception_handler(DatabaseUnavailable, _database_unavailable)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(ClientDisconnect, _client_disconnect)
