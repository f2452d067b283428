"""Query parameters shared by every list, and the `Link: rel="next"` header."""

from typing import Annotated

from fastapi import Depends, Query, Request, Response

from models.ids import Ulid
from models.paging import DEFAULT_LIMIT, MAX_LIMIT, MAX_OFFSET, MAX_VERSION, Page, PageRequest


async def _page_request(
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Page size")] = DEFAULT_LIMIT,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET, description="Rows to skip")] = 0,
    after: Annotated[Ulid | None, Query(description="Start after this id (keyset paging)")] = None,
) -> PageRequest:
    return PageRequest(limit=limit, offset=offset, after=after)


PageParams = Annotated[PageRequest, Depends(_page_request)]


async def _version_page_request(
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Page size")] = DEFAULT_LIMIT,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET, description="Rows to skip")] = 0,
    after: Annotated[int | None, Query(ge=1, le=MAX_VERSION, description="Start below this version")] = None,
) -> PageRequest:
    return PageRequest(limit=limit, offset=offset, after=after)


VersionPageParams = Annotated[PageRequest, Depends(_version_page_request)]
# A diff's two versions: ?from= and ?to= (default: the current version).
FromVersion = Annotated[
    int, Query(alias="from", ge=1, le=MAX_VERSION, description="The version to start from")
]
ToVersion = Annotated[
    int | None, Query(alias="to", ge=1, le=MAX_VERSION, description="Default: the current version")
]


def link_next(request: Request, response: Response, page: Page) -> None:
    """Point to the next page, if any, by keyset: it stays right while rows are added."""
    if page.next_after is None:
        return
    url = request.url.remove_query_params("offset").include_query_params(after=page.next_after)
    response.headers["Link"] = f'<{url}>; rel="next"'
