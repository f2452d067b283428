"""Request-scoped access to the services built once in the app's lifespan.

Dependencies here are `async def` although none awaits: FastAPI runs a plain `def`
dependency in a worker thread, one thread hop per dependency per request.
"""

from typing import Annotated

from fastapi import Depends, Request

from api.actor import actor_of, printable
from config.logging import request_id_var
from models.audit import AuditContext
from services.applications import ApplicationService
from services.audit import AuditService
from services.configurations import ConfigurationService
from services.health import HealthService


async def _applications(request: Request) -> ApplicationService:
    return request.app.state.applications


async def _configurations(request: Request) -> ConfigurationService:
    return request.app.state.configurations


async def _health(request: Request) -> HealthService:
    return request.app.state.health


async def _audit(request: Request) -> AuditService:
    return request.app.state.audit


async def _audit_context(request: Request) -> AuditContext:
    return AuditContext(
        actor=actor_of(request),
        request_id=request_id_var.get(),
        client_ip=request.client.host[:64] if request.client else None,
        user_agent=printable(request.headers.get("user-agent"), 512),
    )


Applications = Annotated[ApplicationService, Depends(_applications)]
Configurations = Annotated[ConfigurationService, Depends(_configurations)]
Health = Annotated[HealthService, Depends(_health)]
Audit = Annotated[AuditService, Depends(_audit)]
# Who is changing something, and from where: recorded in the audit log.
Changer = Annotated[AuditContext, Depends(_audit_context)]
