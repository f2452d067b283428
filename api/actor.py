"""Who a request says it acts for.

The actor of a change is its key's name (api/auth.py); an X-Actor header, where sent, names
whom the key acts for (a person behind a deploy tool, say) and is kept beside it.
"""

from starlette.requests import Request

ANONYMOUS = "anonymous"
MAX_ACTOR_LENGTH = 256


def printable(raw: str | None, limit: int) -> str | None:
    """Header text made safe to store and show: UTF-8, no control characters, one line."""
    if raw is None:
        return None
    # Starlette decodes header bytes as Latin-1; clients send UTF-8.
    text = raw.encode("latin-1", "replace").decode("utf-8", "replace")
    text = " ".join("".join(ch for ch in text if ch.isprintable() or ch.isspace()).split())
    return text[:limit] or None


def on_behalf_of(request: Request) -> str | None:
    """Whom the caller says it acts for (X-Actor): kept beside the key's name, never instead."""
    return printable(request.headers.get("x-actor"), MAX_ACTOR_LENGTH)
