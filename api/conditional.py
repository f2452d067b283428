"""Conditional requests: ETag out, If-Match and If-None-Match in."""

from typing import Annotated

from fastapi import Depends, Header, Request, Response
from fastapi.exceptions import RequestValidationError

from models.preconditions import VersionCondition, etag
from services.cache import Representation


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
        Header(alias="If-Match", description='Change only if the current version is this one: "3" (or *)'),
    ] = None,
) -> VersionCondition | None:
    return _parse("If-Match", if_match)


async def _if_none_match(
    if_none_match: Annotated[
        str | None,
        Header(alias="If-None-Match", description='Answer 304 if the current version is this one: "3"'),
    ] = None,
) -> VersionCondition | None:
    return _parse("If-None-Match", if_none_match)


IfMatch = Annotated[VersionCondition | None, Depends(_if_match)]
IfNoneMatch = Annotated[VersionCondition | None, Depends(_if_none_match)]


def if_none_match_of(request: Request) -> VersionCondition | None:
    """If-None-Match read by hand, for routes that skip FastAPI's parameters (api/query.py)."""
    return _parse("If-None-Match", request.headers.get("if-none-match"))


def representation_response(representation: Representation) -> Response:
    """The rendered JSON as it is, with its ETag: no model, no serializer on the way, and
    the same head the fast read path sends (api/cached_reads.py)."""
    response = Response(representation.body)
    response.raw_headers = list(representation.headers)
    return response


def set_etag(response: Response, version: int) -> None:
    response.headers["ETag"] = etag(version)


def not_modified(version: int) -> Response:
    return Response(status_code=304, headers={"ETag": etag(version)})
