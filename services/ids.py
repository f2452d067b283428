import unicodedata
from collections.abc import Callable

from models.errors import NotFound
from models.fields import is_storable
from models.ids import normalize_id


def existing_id(raw: str, not_found: Callable[[str], NotFound]) -> str:
    """The canonical form of an id taken from a URL path.

    A path naming something that cannot exist is as unknown as one that does not: 404.
    """
    normalized = normalize_id(raw)
    if normalized is None:
        raise not_found(raw)
    return normalized


def existing_name(raw: str, not_found: Callable[[str], NotFound]) -> str:
    """A name taken from a URL path, spelt as names are stored (NFC); one that could not be
    stored names nothing: 404 (PostgreSQL would refuse even to compare it)."""
    if not is_storable(raw):
        raise not_found(raw)
    return unicodedata.normalize("NFC", raw)
