from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from api.auth import caller_of
from api.conditional import IfMatch, representation_response, set_etag
from api.deps import Applications, Caller, Changer, Configurations
from api.errors import problem_responses
from api.exact_numbers import ExactNumbersRoute
from api.paging import PageParams, link_next
from models.applications import Application, ApplicationCreate, ApplicationUpdate
from models.configurations import Configuration
from models.fields import SearchText

router = APIRouter(prefix="/applications", tags=["applications"], route_class=ExactNumbersRoute)


@router.post("", status_code=201, responses=problem_responses(400, 409, 413, 503))
async def create_application(
    body: ApplicationCreate, service: Applications, changer: Changer, request: Request, response: Response
) -> Application:
    application = await service.create(body, changer)
    response.headers["Location"] = str(request.url_for("get_application", application_id=application.id))
    set_etag(response, application.version)
    return application


@router.get("", responses=problem_responses(400, 503))
async def list_applications(
    service: Applications,
    caller: Caller,
    page: PageParams,
    request: Request,
    response: Response,
    name: Annotated[SearchText | None, Query(description="Exact name")] = None,
) -> list[Application]:
    result = await service.list(page, name=name, reach=caller.reach)
    link_next(request, response, result)
    return result.items


@router.get("/{application_id}", response_model=Application, responses=problem_responses(404, 503))
async def get_application(application_id: str, request: Request) -> Response:
    # A hot read route: the service is taken from the app's state, not a dependency (api/query.py).
    reach = caller_of(request.scope).reach
    return representation_response(await request.app.state.applications.representation(application_id, reach))


@router.put("/{application_id}", responses=problem_responses(400, 404, 409, 412, 413, 503))
async def update_application(
    application_id: str,
    body: ApplicationUpdate,
    service: Applications,
    changer: Changer,
    if_match: IfMatch,
    response: Response,
) -> Application:
    application = await service.update(application_id, body, changer, if_match)
    set_etag(response, application.version)
    return application


@router.delete(
    "/{application_id}",
    status_code=204,
    response_class=Response,
    responses=problem_responses(400, 404, 412, 503),
)
async def delete_application(
    application_id: str, service: Applications, changer: Changer, if_match: IfMatch
) -> None:
    await service.delete(application_id, changer, if_match)


@router.get("/{application_id}/configurations", responses=problem_responses(400, 404, 503))
async def list_application_configurations(
    application_id: str,
    service: Configurations,
    caller: Caller,
    page: PageParams,
    request: Request,
    response: Response,
) -> list[Configuration]:
    result = await service.list_for_application(application_id, page, caller.reach)
    link_next(request, response, result)
    return result.items
