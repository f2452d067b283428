from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from api.deps import Audit, Caller
from api.errors import problem_responses
from api.exact_numbers import ExactNumbersRoute
from api.paging import PageParams, link_next
from models.audit import Action, AuditEvent, AuditFilter, EntityType
from models.fields import SearchText, Timestamp
from models.ids import Ulid

router = APIRouter(prefix="/audit-events", tags=["audit"], route_class=ExactNumbersRoute)


def _utc(moment: datetime | None) -> datetime | None:
    """A time without a zone is taken to be UTC, as every time this service writes is."""
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=UTC)


@router.get("", responses=problem_responses(400, 503))
async def list_audit_events(
    service: Audit,
    caller: Caller,
    page: PageParams,
    request: Request,
    response: Response,
    application_id: Annotated[Ulid | None, Query()] = None,
    entity_type: Annotated[EntityType | None, Query()] = None,
    entity_id: Annotated[Ulid | None, Query()] = None,
    action: Annotated[Action | None, Query()] = None,
    actor: Annotated[SearchText | None, Query(description="The key that made the change")] = None,
    on_behalf_of: Annotated[SearchText | None, Query(description="Whom the key acted for (X-Actor)")] = None,
    since: Annotated[Timestamp | None, Query(description="Events at or after this time")] = None,
    until: Annotated[Timestamp | None, Query(description="Events before this time")] = None,
) -> list[AuditEvent]:
    """Every change, newest first: who made it, when, and the resource before and after."""
    filters = AuditFilter(
        application_id=application_id,
        entity_type=entity_type,
        entity_id=entity_id,
        action=action,
        actor=actor,
        on_behalf_of=on_behalf_of,
        reach=caller.reach,
        keys_visible=caller.holds("admin"),
        since=_utc(since),
        until=_utc(until),
    )
    result = await service.list(filters, page)
    link_next(request, response, result)
    return result.items
