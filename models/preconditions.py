"""Entity tags for optimistic concurrency: a resource's ETag is its version, quoted."""

import re
from dataclasses import dataclass

from models.errors import PreconditionFailed

_ENTITY_TAG = re.compile(r'\s*(W/)?"([^"]*)"\s*(?:,|$)')
# What `VersionCondition.parse` accepts, as the OpenAPI document states it.
CONDITION_PATTERN = r'^\s*(\*|((W/)?"[^"]*"\s*(,\s*(W/)?"[^"]*"\s*)*,?)?)\s*$'
# The tags we issue: a version as written by str(), so "03" or "³" are not version 3.
_VERSION_TAG = re.compile(r"[1-9][0-9]{0,9}", re.ASCII)


def etag(version: int) -> str:
    return f'"{version}"'


@dataclass(frozen=True)
class VersionCondition:
    """An If-Match or If-None-Match header: `*`, or the versions it names."""

    any: bool = False
    strong: frozenset[int] = frozenset()
    weak: frozenset[int] = frozenset()

    @classmethod
    def parse(cls, header: str) -> "VersionCondition":
        """Raises ValueError for a header that is not a list of entity tags (or `*`)."""
        header = header.strip()
        if header == "*":
            return cls(any=True)
        if not header:
            # RFC 9110's `#entity-tag` may be an empty list: it names no version, so an
            # If-Match fails (412) and an If-None-Match holds, rather than either being ignored.
            return cls()
        strong, weak, position = set(), set(), 0
        while position < len(header):
            match = _ENTITY_TAG.match(header, position)
            if match is None:
                raise ValueError('expected "*" or quoted entity tags such as "3"')
            is_weak, tag = match.groups()
            if _VERSION_TAG.fullmatch(tag):  # one we never issued cannot match, but is well-formed
                (weak if is_weak else strong).add(int(tag))
            position = match.end()
        return cls(strong=frozenset(strong), weak=frozenset(weak))

    def matches_strongly(self, version: int) -> bool:
        """If-Match uses the strong comparison: a weak tag never matches."""
        return self.any or version in self.strong

    def matches_weakly(self, version: int) -> bool:
        """If-None-Match uses the weak comparison."""
        return self.any or version in self.strong or version in self.weak


def require_match(if_match: VersionCondition | None, version: int, entity: str) -> None:
    """Refuse a change whose If-Match does not name the current version."""
    if if_match is not None and not if_match.matches_strongly(version):
        raise PreconditionFailed(entity, version)
