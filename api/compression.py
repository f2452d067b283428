"""gzip for responses of 1 KB or more, when the client accepts it.

Starlette's middleware compresses what the routes answer (it leaves event streams alone, so
each event is still sent as it happens). A cached representation is compressed once per
version instead (services/cache.py), and sent as it is both by the fast read path, which
runs before every middleware, and by the routes, whose already-encoded body the middleware
passes on. A small body is never touched, so a small cached read costs what it did.
"""

from starlette.middleware.gzip import GZipMiddleware
from starlette.types import ASGIApp, Scope

from services.cache import COMPRESS_FROM_BYTES, GZIP_LEVEL


def compression(app: ASGIApp) -> GZipMiddleware:
    return GZipMiddleware(app, minimum_size=COMPRESS_FROM_BYTES, compresslevel=GZIP_LEVEL)


def accepts_gzip(scope: Scope) -> bool:
    """The middleware's own test (its first Accept-Encoding), so that every path answers a
    client alike."""
    for name, value in scope["headers"]:
        if name == b"accept-encoding":
            return gzip_accepted(value)
    return False


def gzip_accepted(accept_encoding: bytes | None) -> bool:
    return accept_encoding is not None and b"gzip" in accept_encoding
