"""Strict requests: what a route does not know is refused, not silently ignored.

Every /api/v1 route is a StrictRoute. Before the route's own work:
- a query parameter it does not declare is a 400 naming it (`?aplication_id=` would
  otherwise list every application's configurations);
- a POST or PUT body that is not JSON by its Content-Type is a 415, as for PATCH;
- unknown members of the JSON body are refused by the request models (models/requests.py).

With UNKNOWN_FIELDS=warn, unknown parameters and members are tolerated instead: the request
is answered as usual, with a `Warning: 299 - "unknown field \"confg\""` header for each, as
Kubernetes' server-side field validation does.

Cheap on the hot read route, which skips FastAPI's parameters (api/query.py): each route's
known parameters are gathered once, and a request without a query string is not looked at.
"""

import email.message
import json
from collections.abc import Callable, Coroutine, Iterable
from typing import Any, Literal

from fastapi import Request, Response
from fastapi.dependencies.models import Dependant
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException

from models.requests import tolerating_unknown_fields

UnknownFields = Literal["reject", "warn"]
JSON = "application/json"
# Beyond this many, one more warning says how many were left unsaid.
MAX_WARNINGS = 20

Handler = Callable[[Request], Coroutine[Any, Any, Response]]


class StrictRoute(APIRoute):
    def get_route_handler(self) -> Handler:
        handler = super().get_route_handler()
        known = declared_query_parameters(self)
        takes_json = self.body_field is not None and not self.methods.isdisjoint({"POST", "PUT"})

        async def strict_handler(request: Request) -> Response:
            unknown = unknown_parameters(request, known) if request.scope["query_string"] else []
            if takes_json:
                await require_json(request)
            if request.app.state.settings.unknown_fields == "reject":
                if unknown:
                    raise RequestValidationError([_unknown_parameter(name) for name in unknown])
                return await handler(request)
            with tolerating_unknown_fields() as members:
                response = await handler(request)
            add_warnings(response, unknown, members)
            return response

        return strict_handler


def declared_query_parameters(route: APIRoute) -> frozenset[str]:
    """Those FastAPI reads, and those the route reads by hand and documents (api/query.py)."""
    declared = set(_query_parameters(route.dependant))
    documented = (route.openapi_extra or {}).get("parameters", [])
    declared.update(parameter["name"] for parameter in documented if parameter.get("in") == "query")
    return frozenset(declared)


def _query_parameters(dependant: Dependant) -> Iterable[str]:
    yield from (field.alias for field in dependant.query_params)
    for dependency in dependant.dependencies:
        yield from _query_parameters(dependency)


def unknown_parameters(request: Request, known: frozenset[str]) -> list[str]:
    return list(dict.fromkeys(name for name in request.query_params if name not in known))


def _unknown_parameter(name: str) -> dict[str, Any]:
    return {"loc": ("query", name), "msg": "Unknown query parameter", "type": "extra_forbidden"}


def is_json(content_type: str) -> bool:
    """application/json or any application/…+json, as FastAPI decides whether to parse."""
    message = email.message.Message()
    message["content-type"] = content_type
    subtype = message.get_content_subtype()
    return message.get_content_maintype() == "application" and (
        subtype == "json" or subtype.endswith("+json")
    )


async def require_json(request: Request) -> None:
    content_type = request.headers.get("content-type")
    if content_type is None and not await request.body():
        return  # no body at all: the route says which members it needs
    if content_type is None or not is_json(content_type):
        sent = "without a Content-Type" if content_type is None else f"as {_quoted(content_type)}"
        raise HTTPException(415, f"The body must be JSON (Content-Type: {JSON}); it came {sent}")


def add_warnings(response: Response, parameters: Iterable[str], members: Iterable[str]) -> None:
    texts = [f"unknown query parameter {_quoted(name)}" for name in parameters]
    texts += [f"unknown field {_quoted(name)}" for name in dict.fromkeys(members)]
    if len(texts) > MAX_WARNINGS:
        texts[MAX_WARNINGS - 1 :] = [f"and {len(texts) - MAX_WARNINGS + 1} more unknown fields"]
    for text in texts:
        response.headers.append("Warning", f"299 - {_quoted(text)}")


def _quoted(text: str) -> str:
    """A quoted string, as JSON writes one and as HTTP reads one, in ASCII (a header's)."""
    return json.dumps(text)
