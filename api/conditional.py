"""Conditional requests: ETag out, If-Match and If-None-Match in."""

from typing import Annotated

from fastapi import Depends, Header, Request, Response
from fastapi.exceptions import RequestValidationError
from starlette.types import Receive, Scope, Send

from api.compression import accepts_gzip
from models.preconditions import CONDITION_PATTERN, VersionCondition, etag
from services.cache import Representation

CONDITION_SCHEMA = {"pattern": CONDITION_PATTERN}


def _parse(header: str, value: str | None) -> VersionCondition | None:
    if value is None:
        return None
    try:
        return VersionCondition.parse(value)
    except ValueError as error:
        raise RequestValidationError(
            [{"loc": ("header", header), "msg": f"{header} {error}", "type": "value_error"}]
        ) from None


async def _if_match(
    if_match: Annotated[
        str | None,
        Header(
            alias="If-Match",
            description='Change only if the current version is this one: "3" (or *)',
            json_schema_extra=CONDITION_SCHEMA,
        ),
    ] = None,
) -> VersionCondition | None:
    return _parse("If-Match", if_match)


async def _if_none_match(
    if_none_match: Annotated[
        str | None,
        Header(
            alias="If-None-Match",
            description='Answer 304 if the current version is this one: "3"',
            json_schema_extra=CONDITION_SCHEMA,
        ),
    ] = None,
) -> VersionCondition | None:
    return _parse("If-None-Match", if_none_match)


IfMatch = Annotated[VersionCondition | None, Depends(_if_match)]
IfNoneMatch = Annotated[VersionCondition | None, Depends(_if_none_match)]


def if_none_match_of(request: Request) -> VersionCondition | None:
    """If-None-Match read by hand, for routes that skip FastAPI's parameters (api/query.py)."""
    return _parse("If-None-Match", request.headers.get("if-none-match"))


class RepresentationResponse(Response):
    """The rendered JSON as it is, with its ETag: no model, no serializer on the way, and
    the same head the fast read path sends (api/cached_reads.py). Gzip-compressed for a
    client that accepts it, with the copy compressed once per version (api/compression.py)."""

    def __init__(self, representation: Representation) -> None:
        super().__init__(representation.body)
        self.raw_headers = list(representation.headers)
        self.representation = representation

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.representation.compressible and accepts_gzip(scope):
            headers, self.body = self.representation.gzipped
            self.raw_headers = list(headers)
        await super().__call__(scope, receive, send)


def representation_response(representation: Representation) -> Response:
    return RepresentationResponse(representation)


def set_etag(response: Response, version: int) -> None:
    response.headers["ETag"] = etag(version)


def not_modified(version: int) -> Response:
    return Response(status_code=304, headers={"ETag": etag(version)})
