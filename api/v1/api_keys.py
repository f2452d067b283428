from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from api.deps import ApiKeys, Changer
from api.errors import problem_responses
from api.paging import PageParams, link_next
from api.strict import StrictRoute
from models.api_keys import ApiKey, ApiKeyCreate, ApiKeyCreated
from models.fields import SearchText

router = APIRouter(prefix="/api-keys", tags=["api-keys"], route_class=StrictRoute)


@router.post("", status_code=201, responses=problem_responses(400, 401, 403, 409, 413, 503))
async def create_api_key(
    body: ApiKeyCreate, service: ApiKeys, changer: Changer, request: Request, response: Response
) -> ApiKeyCreated:
    """Make a key. Its secret, `key`, is in this answer only: it is never shown again."""
    created = await service.create(body, changer)
    response.headers["Location"] = str(request.url_for("get_api_key", key_id=created.id))
    response.headers["Cache-Control"] = "no-store"
    return created


@router.get("", responses=problem_responses(400, 401, 403, 503))
async def list_api_keys(
    service: ApiKeys,
    page: PageParams,
    request: Request,
    response: Response,
    name: Annotated[SearchText | None, Query(description="Exact name")] = None,
) -> list[ApiKey]:
    result = await service.list(page, name=name)
    link_next(request, response, result)
    return result.items


@router.get("/{key_id}", responses=problem_responses(401, 403, 404, 503))
async def get_api_key(key_id: str, service: ApiKeys) -> ApiKey:
    return await service.get(key_id)


@router.delete(
    "/{key_id}", status_code=204, response_class=Response, responses=problem_responses(401, 403, 404, 503)
)
async def revoke_api_key(key_id: str, service: ApiKeys, changer: Changer) -> None:
    """Revoke the key: every process refuses it from now on (within the notification latency)."""
    await service.revoke(key_id, changer)
