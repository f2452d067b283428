"""Who is making a request.

Until access control exists, whoever the X-Actor header says. This is the one function to
replace when API keys arrive.
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


def actor_of(request: Request) -> str:
    return printable(request.headers.get("x-actor"), MAX_ACTOR_LENGTH) or ANONYMOUS
