from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from api.deps import Configurations
from api.errors import problem_responses
from api.paging import PageParams, link_next
from models.configurations import Configuration, ConfigurationCreate, ConfigurationUpdate
from models.ids import Ulid

router = APIRouter(prefix="/configurations", tags=["configurations"])


@router.post("", status_code=201, responses=problem_responses(400, 404, 409, 413, 503))
async def create_configuration(
    body: ConfigurationCreate, service: Configurations, request: Request, response: Response
) -> Configuration:
    configuration = await service.create(body)
    location = request.url_for("get_configuration", configuration_id=configuration.id)
    response.headers["Location"] = str(location)
    return configuration


@router.get("", responses=problem_responses(400, 404, 503))
async def list_configurations(
    service: Configurations,
    page: PageParams,
    request: Request,
    response: Response,
    application_id: Annotated[Ulid | None, Query(description="Only this application's")] = None,
    name: Annotated[str | None, Query(max_length=256, description="Exact name")] = None,
) -> list[Configuration]:
    result = await service.list(page, application_id=application_id, name=name)
    link_next(request, response, result)
    return result.items


@router.get("/{configuration_id}", responses=problem_responses(404, 503))
async def get_configuration(configuration_id: str, service: Configurations) -> Configuration:
    return await service.get(configuration_id)


@router.put("/{configuration_id}", responses=problem_responses(400, 404, 409, 413, 503))
async def update_configuration(
    configuration_id: str, body: ConfigurationUpdate, service: Configurations
) -> Configuration:
    return await service.update(configuration_id, body)


@router.delete("/{configuration_id}", status_code=204, responses=problem_responses(404, 503))
async def delete_configuration(configuration_id: str, service: Configurations) -> None:
    await service.delete(configuration_id)
