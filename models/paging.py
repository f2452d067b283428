"""List paging: offset/limit plus keyset (`after`): ids, which sort by creation time, or
version numbers for a configuration's history."""

from collections.abc import Callable
from dataclasses import dataclass
from operator import attrgetter
from typing import Generic, TypeVar

T = TypeVar("T")
Cursor = str | int

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
# PostgreSQL's integer: versions are stored as one, and offsets beyond it are no use.
MAX_OFFSET = MAX_VERSION = 2**31 - 1


@dataclass(frozen=True)
class PageRequest:
    limit: int = DEFAULT_LIMIT
    offset: int = 0
    after: Cursor | None = None

    @property
    def sql_params(self) -> dict[str, object]:
        # One row beyond the page tells whether another page follows, without a COUNT.
        return {"limit": self.limit + 1, "offset": self.offset, "after": self.after}


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    next_after: Cursor | None = None  # where the next page starts; None on the last page

    @classmethod
    def from_rows(
        cls, rows: list[T], request: PageRequest, cursor: Callable[[T], Cursor] = attrgetter("id")
    ) -> "Page[T]":
        items = rows[: request.limit]
        return cls(items, cursor(items[-1]) if len(rows) > request.limit else None)

    @property
    def has_more(self) -> bool:
        return self.next_after is not None
