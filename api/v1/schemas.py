from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Query, Request, Response

from api.deps import Changer, Schemas
from api.errors import problem_responses
from api.exact_numbers import ExactNumbersRoute
from api.paging import PageParams, VersionPageParams, link_next
from models.errors import SchemaVersionNotFound
from models.paging import MAX_VERSION
from models.schemas import (
    Compatibility,
    Schema,
    SchemaCreate,
    SchemaVersion,
    SchemaVersionCreate,
    ValidationRequest,
    ValidationResult,
)

router = APIRouter(prefix="/schemas", tags=["schemas"], route_class=ExactNumbersRoute)


@router.post(
    "", status_code=201, responses=problem_responses(400, 401, 403, 409, 413, 503, schema_errors=True)
)
async def create_schema(
    body: SchemaCreate, service: Schemas, changer: Changer, request: Request, response: Response
) -> Schema:
    """Make a schema, at version 1. It must be valid JSON Schema 2020-12, and refer to nothing
    outside itself (`#/$defs/...` only): the service never fetches a schema."""
    schema = await service.create(body, changer)
    # A name may hold any character: the Location header holds it percent-encoded.
    response.headers["Location"] = str(request.url_for("get_schema", name=quote(schema.name, safe="")))
    return schema


@router.get("", responses=problem_responses(400, 401, 503))
async def list_schemas(
    service: Schemas, page: PageParams, request: Request, response: Response
) -> list[Schema]:
    """Every schema at its latest version, oldest first."""
    result = await service.list(page)
    link_next(request, response, result)
    return result.items


@router.get("/{name}", responses=problem_responses(401, 404, 503))
async def get_schema(name: str, service: Schemas) -> Schema:
    """The schema at its latest version."""
    return await service.get(name)


@router.delete(
    "/{name}", status_code=204, response_class=Response, responses=problem_responses(401, 403, 404, 409, 503)
)
async def delete_schema(name: str, service: Schemas, changer: Changer) -> None:
    """Delete the schema and every version of it: refused (409, naming them) while any
    configuration is bound to it."""
    await service.delete(name, changer)


@router.post(
    "/{name}/versions",
    status_code=201,
    responses={
        200: {"model": Compatibility, "description": "With dry_run: whether the version would be taken"}
    }
    | problem_responses(400, 401, 403, 404, 409, 413, 503, schema_errors=True),
)
async def add_schema_version(
    name: str,
    body: SchemaVersionCreate,
    service: Schemas,
    changer: Changer,
    response: Response,
    dry_run: Annotated[bool, Query(description="Only tell whether the version would be taken")] = False,
) -> Schema | Compatibility:
    """Make the next version. Refused (409, listing each configuration and its errors) if a
    configuration that follows the latest version would not pass it; pinned ones are not
    affected."""
    outcome = await service.add_version(name, body.document, changer, dry_run=dry_run)
    if dry_run:
        response.status_code = 200
    return outcome


@router.get("/{name}/versions", responses=problem_responses(400, 401, 404, 503))
async def list_schema_versions(
    name: str, service: Schemas, page: VersionPageParams, request: Request, response: Response
) -> list[SchemaVersion]:
    """Every version, newest first."""
    result = await service.versions(name, page)
    link_next(request, response, result)
    return result.items


@router.get("/{name}/versions/{version}", responses=problem_responses(401, 404, 503))
async def get_schema_version(name: str, version: str, service: Schemas) -> SchemaVersion:
    if not (version.isascii() and version.isdigit()) or not 1 <= int(version) <= MAX_VERSION:
        raise SchemaVersionNotFound(name, version)
    return await service.version(name, int(version))


@router.post("/{name}/validate", responses=problem_responses(400, 401, 404, 413, 503))
async def validate_against_schema(name: str, body: ValidationRequest, service: Schemas) -> ValidationResult:
    """Whether a config passes the schema (its latest version, or `version`). Writes nothing."""
    return await service.validate(name, body.config, body.version)
