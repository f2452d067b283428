"""Request-scoped access to the services built once in the app's lifespan."""

from typing import Annotated

from fastapi import Depends, Request

from services.applications import ApplicationService
from services.configurations import ConfigurationService
from services.health import HealthService


def _applications(request: Request) -> ApplicationService:
    return request.app.state.applications


def _configurations(request: Request) -> ConfigurationService:
    return request.app.state.configurations


def _health(request: Request) -> HealthService:
    return request.app.state.health


Applications = Annotated[ApplicationService, Depends(_applications)]
Configurations = Annotated[ConfigurationService, Depends(_configurations)]
Health = Annotated[HealthService, Depends(_health)]
