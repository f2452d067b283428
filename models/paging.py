"""List paging: offset/limit plus keyset (`after`) over ids, which sort by creation time."""

from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000


@dataclass(frozen=True)
class PageRequest:
    limit: int = DEFAULT_LIMIT
    offset: int = 0
    after: str | None = None

    @property
    def sql_params(self) -> dict[str, object]:
        # One row beyond the page tells whether another page follows, without a COUNT.
        return {"limit": self.limit + 1, "offset": self.offset, "after": self.after}


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    has_more: bool

    @classmethod
    def from_rows(cls, rows: list[T], request: PageRequest) -> "Page[T]":
        return cls(items=rows[: request.limit], has_more=len(rows) > request.limit)

    @property
    def next_after(self) -> str | None:
        if not self.has_more:
            return None
        return getattr(self.items[-1], "id")
