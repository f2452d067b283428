"""Request-scoped access to the services built once in the app's lifespan.

Dependencies here are `async def` although none awaits: FastAPI runs a plain `def`
dependency in a worker thread, one thread hop per dependency per request.
"""

from typing import Annotated

from fastapi import Depends, Request

from api.actor import actor_of, printable
from config.logging import request_id_var
from config.settings import Settings
from models.audit import AuditContext
from services.applications import ApplicationService
from services.audit import AuditService
from services.change_feed import ChangeFeed
from services.configurations import ConfigurationService
from services.health import HealthService
from services.watches import ConfigurationWatcher


async def _applications(request: Request) -> ApplicationService:
    return request.app.state.applications


async def _configurations(request: Request) -> ConfigurationService:
    return request.app.state.configurations


async def _health(request: Request) -> HealthService:
    return request.app.state.health


async def _audit(request: Request) -> AuditService:
    return request.app.state.audit


async def _feed(request: Request) -> ChangeFeed:
    return request.app.state.feed


async def _watcher(request: Request) -> ConfigurationWatcher:
    return request.app.state.watcher


async def _settings(request: Request) -> Settings:
    return request.app.state.settings


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
Feed = Annotated[ChangeFeed, Depends(_feed)]
Watcher = Annotated[ConfigurationWatcher, Depends(_watcher)]
AppSettings = Annotated[Settings, Depends(_settings)]
# Who is changing something, and from where: recorded in the audit log.
Changer = Annotated[AuditContext, Depends(_audit_context)]
