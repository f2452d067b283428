"""Requests must name this service in their Host header.

A web page can have a browser send requests to a service on 127.0.0.1 under a name of the
page's own (DNS rebinding: that name resolves first to the page's server, then to
127.0.0.1), and since the origin looks the same to the browser, the page reads the answers.
Such requests still carry the page's name in Host; answering only the names the service
goes by stops them. The names are a set made once; a request costs one lookup. The fast
read path (api/cached_reads.py), which runs before this middleware, hands any other name on
to it.
"""

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from api.actor import printable
from api.errors import problem
from config.settings import Settings

# Names that only this machine answers to, so no page can take them over by DNS.
LOCAL_NAMES = ("localhost", "127.0.0.1", "[::1]")
ANY_HOST = "*"


def allowed_host_names(settings: Settings) -> frozenset[bytes] | None:
    """The names a Host header may carry (with any port): ALLOWED_HOSTS, the local names
    and HOST; None when any name will do."""
    listed = [name.strip().lower() for name in settings.allowed_hosts.split(",") if name.strip()]
    if ANY_HOST in listed:
        return None
    bound = settings.host.lower()
    if ":" in bound and not bound.startswith("["):
        bound = f"[{bound}]"  # an IPv6 address, as a Host header writes it
    return frozenset(name.encode("ascii") for name in (*LOCAL_NAMES, bound, *listed))


def host_allowed(headers: dict[bytes, bytes], names: frozenset[bytes] | None) -> bool:
    """Whether a request of these headers may be answered: its Host is allowed (None: any
    is), or it has none (HTTP/1.0), as the middleware below judges."""
    if names is None:
        return True
    host = headers.get(b"host")
    return host is None or host_name(host) in names


def host_name(header: bytes) -> bytes:
    """The name in a Host header, without its port: `[::1]:8000` gives `[::1]`."""
    name, colon, port = header.rpartition(b":")
    return (name if colon and (port.isdigit() or not port) else header).lower()


class AllowedHostsMiddleware:
    """Answer 400 to a request whose Host header names a host not allowed. One without a
    Host header (HTTP/1.0) passes: browsers always send one."""

    def __init__(self, app: ASGIApp, names: frozenset[bytes]) -> None:
        self.app = app
        self.names = names

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            for name, value in scope["headers"]:
                if name == b"host":
                    if host_name(value) not in self.names:
                        await _not_allowed(value)(scope, receive, send)
                        return
                    break
        await self.app(scope, receive, send)


def _not_allowed(host: bytes) -> JSONResponse:
    shown = printable(host.decode("latin-1"), 256)
    detail = (
        f"The host '{shown}' is not allowed: "
        "the ALLOWED_HOSTS setting lists the hosts this service answers to"
    )
    return problem(400, "host-not-allowed", detail)
