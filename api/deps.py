"""Request-scoped access to the services built once in the app's lifespan.

Dependencies here are `async def` although none awaits: FastAPI runs a plain `def`
dependency in a worker thread, one thread hop per dependency per request.
"""

from typing import Annotated, Any

from fastapi import Depends, Request

from api.actor import on_behalf_of, printable
from api.auth import caller_of
from config.logging import request_id_var
from config.settings import Settings
from models.api_keys import Principal
from models.audit import AuditContext
from services.api_keys import ApiKeyService
from services.applications import ApplicationService
from services.audit import AuditService
from services.change_feed import ChangeFeed
from services.configurations import ConfigurationService
from services.flags import FlagService
from services.health import HealthService
from services.schemas import SchemaService


def from_state(name: str) -> Any:
    """A dependency giving the app state's `name`, set up by the lifespan."""

    async def dependency(request: Request) -> Any:
        return getattr(request.app.state, name)

    dependency.__name__ = f"state_{name}"
    return Depends(dependency)


async def _caller(request: Request) -> Principal:
    return caller_of(request.scope)


async def audit_context(request: Request) -> AuditContext:
    caller = caller_of(request.scope)
    return AuditContext(
        actor=caller.name,
        on_behalf_of=on_behalf_of(request),
        reach=caller.reach,
        request_id=request_id_var.get(),
        client_ip=request.client.host[:64] if request.client else None,
        user_agent=printable(request.headers.get("user-agent"), 512),
    )


Applications = Annotated[ApplicationService, from_state("applications")]
Configurations = Annotated[ConfigurationService, from_state("configurations")]
Flags = Annotated[FlagService, from_state("flags")]
Health = Annotated[HealthService, from_state("health")]
Audit = Annotated[AuditService, from_state("audit")]
ApiKeys = Annotated[ApiKeyService, from_state("api_keys")]
Schemas = Annotated[SchemaService, from_state("schemas")]
Feed = Annotated[ChangeFeed, from_state("feed")]
AppSettings = Annotated[Settings, from_state("settings")]
# Who is changing something, and from where: recorded in the audit log.
Changer = Annotated[AuditContext, Depends(audit_context)]
# Who is asking: the key (api/auth.py), with the applications it reaches.
Caller = Annotated[Principal, Depends(_caller)]
