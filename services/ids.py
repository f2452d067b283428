from collections.abc import Callable

from models.errors import NotFound
from models.ids import normalize_id


def existing_id(raw: str, not_found: Callable[[str], NotFound]) -> str:
    """The canonical form of an id taken from a URL path.

    A path naming something that cannot exist is as unknown as one that does not: 404.
    """
    normalized = normalize_id(raw)
    if normalized is None:
        raise not_found(raw)
    return normalized
