"""Who may do what: bearer API keys checked before anything else reads the request.

A plain ASGI middleware. It decides everything a request's method and path tell: 401
without a valid key, 403 without the scope, 429 beyond the key's rate. What only the
resource tells (which application it belongs to) is decided further in, with the principal
this puts in the scope: outside a key's reach is 404.

The fast read path (api/cached_reads.py) runs before any middleware, and admits only what
needs no decision of this one's: a key this process knows (services/keyring.py), unexpired,
that may read, within its rate; once seen, one dictionary lookup of the header as sent. It
counts that request in the same bucket (Keys), and leaves everything else to this middleware.
"""

import functools
import math
import re
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.errors import database_unavailable, problem
from config.settings import Settings
from database.errors import DatabaseUnavailable
from models.api_keys import Principal, rank_of
from models.api_keys import Scope as KeyScope
from services.keyring import KeyRing
from services.rate_limits import Decision, RateLimiter, TokenBucket

PRINCIPAL = "config_service.principal"
API_PREFIX = "/api/v1"
KEYS_PREFIX = "/api/v1/api-keys"
SCHEMAS_PREFIX = "/api/v1/schemas"
# OFREP at the root (api/ofrep.py): a key restricted to one application names it.
OFREP_PREFIX = "/ofrep"
# A dry run (POST .../validate) and an evaluation of flags write nothing: reading is enough.
_READING_POSTS = ("/validate", "/flags/evaluate")
_OFREP_EVALUATION = "/ofrep/v1/evaluate/"
# One token of visible ASCII (RFC 6750's b64token, and what else operators choose for an
# ADMIN_API_KEY), bounded: anything else is no key of ours, and is refused unread.
_BEARER = re.compile(rb"(?i:bearer) +([\x21-\x7e]{1,512}) *")
_READS = frozenset({"GET", "HEAD", "OPTIONS"})
REALM = 'Bearer realm="config-service"'
# Authorization headers the fast read path remembers, at most (see Keys).
READERS_REMEMBERED = 10_000


# What a request that somehow bypassed this middleware acts as: nothing, nowhere.
NOBODY = Principal(key_id=None, name="anonymous", rank=0, reach=frozenset(), rate_limit_per_second=1)


def principal_of(scope: Scope) -> Principal | None:
    return scope.get(PRINCIPAL)


def caller_of(scope: Scope) -> Principal:
    """The request's principal; fails closed (no scope, no reach) if none was set."""
    return scope.get(PRINCIPAL, NOBODY)


def required_scope(method: str, path: str) -> KeyScope:
    if path == KEYS_PREFIX or path.startswith(KEYS_PREFIX + "/"):
        return "admin"
    if method in _READS or (
        method == "POST" and (path.endswith(_READING_POSTS) or _OFREP_EVALUATION in path)
    ):
        return "read"
    return "write"


def changes_schemas(method: str, path: str) -> bool:
    """Schemas belong to no application: changing one takes a key that reaches them all."""
    under = path == SCHEMAS_PREFIX or path.startswith(SCHEMAS_PREFIX + "/")
    return under and required_scope(method, path) != "read"


def anonymous(settings: Settings) -> Principal | None:
    """The principal of requests without a key (ANONYMOUS_SCOPES), if any is admitted."""
    if not settings.anonymous_scope_list:
        return None
    return Principal(
        key_id=None,
        name="anonymous",
        rank=rank_of(settings.anonymous_scope_list),
        reach=None,
        rate_limit_per_second=settings.rate_limit_per_second,
    )


class Keys:
    """The key ring and each caller's bucket of requests: one per app, shared by AuthMiddleware
    and the fast read path, so that a key's requests count in one bucket whichever answers."""

    ring: KeyRing  # made in the lifespan (it needs the pool), after the middleware

    def __init__(self) -> None:
        self.requests = RateLimiter()
        # The Authorization headers of known_readers, as sent, each to its principal: the
        # fast read path's key check is then one lookup, not a match, a hash and a lookup.
        # They hold while the ring does not change; any change to it (a key forgotten, the
        # ring emptied while deaf) starts them afresh.
        self._readers: dict[bytes, Principal] = {}
        self._readers_generation = -1

    def count(self, principal: Principal, scope: Scope) -> Decision:
        caller = principal.key_id or f"anonymous:{_client(scope)}"
        return self.requests.check(caller, principal.rate_limit_per_second)

    def known_reader(self, authorization: bytes | None) -> Principal | None:
        """The principal of a key this process knows, unexpired, that may read; None for
        anything AuthMiddleware must decide (no key, a key to look up, a refusal)."""
        if authorization is None:
            return None
        generation = self.ring.generation
        if generation != self._readers_generation:
            self._readers, self._readers_generation = {}, generation
        principal = self._readers.get(authorization)
        if principal is None:
            principal = self._reader(authorization)
            if principal is None:
                return None
            if len(self._readers) < READERS_REMEMBERED:
                self._readers[authorization] = principal
        if principal.expires_at is not None and principal.expired(time.time()):
            return None
        return principal

    def _reader(self, authorization: bytes) -> Principal | None:
        match = _BEARER.fullmatch(authorization)
        principal = None if match is None else self.ring.cached(match[1].decode("ascii"))
        if principal is None or principal.expired(time.time()) or not principal.holds("read"):
            return None
        return principal

    def admit_reader(self, principal: Principal) -> list[tuple[bytes, bytes]] | None:
        """Count a read of a known_reader: its RateLimit head, or None beyond the key's rate.
        A refusal takes nothing from the bucket, so AuthMiddleware, asked next, counts the
        request once, and answers the 429."""
        bucket = self.requests.take(principal.key_id, principal.rate_limit_per_second)
        if bucket is None:
            return None
        self.ring.used(principal)
        return bucket_head(bucket)


def rate_limit_head(decision: Decision) -> list[tuple[bytes, bytes]]:
    """The IETF draft's fields: the bucket holds `burst`, and refills at `limit` a second."""
    limit, policy = _bucket_fields(decision.burst, decision.limit)
    return [
        limit,
        (b"ratelimit-remaining", str(decision.remaining).encode()),
        (b"ratelimit-reset", str(decision.reset_s).encode()),
        policy,
    ]


def bucket_head(bucket: TokenBucket) -> list[tuple[bytes, bytes]]:
    """rate_limit_head of the Decision check() would have made of the bucket as it is now."""
    limit, policy = _bucket_fields(int(bucket.burst), bucket.rate)
    return [
        limit,
        (b"ratelimit-remaining", str(int(bucket.tokens)).encode()),
        (b"ratelimit-reset", str(math.ceil((bucket.burst - bucket.tokens) / bucket.rate)).encode()),
        policy,
    ]


@functools.cache
def _bucket_fields(burst: int, limit: int) -> tuple[tuple[bytes, bytes], tuple[bytes, bytes]]:
    """The fields a bucket's size and rate fix: made once, not per request."""
    policy = f"{burst};w={burst // limit}"
    return (b"ratelimit-limit", str(burst).encode()), (b"ratelimit-policy", policy.encode())


class AuthMiddleware:
    def __init__(self, app: ASGIApp, settings: Settings, keys: Keys) -> None:
        self.app = app
        self.keys = keys
        self.anonymous = anonymous(settings)
        self.metrics_need_key = settings.metrics_require_key
        self.failures_per_second = settings.auth_failures_per_second
        self.failures = RateLimiter()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self._guarded(scope["path"]):
            await self.app(scope, receive, send)
            return
        principal = await self._authenticate(scope, receive, send)
        if principal is None:
            return  # refused, and answered
        # Counted before the scope is judged: a refused request costs the key a request too.
        decision = self.keys.count(principal, scope)
        head = rate_limit_head(decision)
        if not decision.allowed:
            detail = (
                f"More than {decision.limit} requests a second (bursts of {decision.burst}) with this key"
            )
            headers = _named(head) | {"Retry-After": str(decision.retry_after_s)}
            await problem(429, "too-many-requests", detail, headers=headers)(scope, receive, send)
            return
        refusal = self._refusal(scope, principal)
        if refusal is not None:
            await problem(403, "forbidden", refusal, headers=_named(head))(scope, receive, send)
            return
        scope[PRINCIPAL] = principal
        self.keys.ring.used(principal)

        async def send_with_limits(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", ()), *head]
            await send(message)

        await self.app(scope, receive, send_with_limits)

    def _refusal(self, scope: Scope, principal: Principal) -> str | None:
        """Why the key may not make this request (403), if it may not."""
        needed = required_scope(scope["method"], scope["path"])
        if not principal.holds(needed):
            return f"The key {principal.name!r} does not have the {needed!r} scope this request needs"
        if self._creates_application(scope) and principal.reach is not None:
            return "A key restricted to some applications cannot create applications"
        if changes_schemas(scope["method"], scope["path"]) and principal.reach is not None:
            return "A key restricted to some applications cannot change schemas, which all applications share"
        return None

    def _guarded(self, path: str) -> bool:
        if _under(path, API_PREFIX) or _under(path, OFREP_PREFIX):
            return True
        return self.metrics_need_key and path == "/metrics"

    @staticmethod
    def _creates_application(scope: Scope) -> bool:
        return scope["method"] == "POST" and scope["path"].rstrip("/") == "/api/v1/applications"

    async def _authenticate(self, scope: Scope, receive: Receive, send: Send) -> Principal | None:
        header = _authorization(scope)
        if header is None:
            if self.anonymous is not None:
                return self.anonymous
            await self._unauthorized(scope, receive, send, "No API key: send Authorization: Bearer <key>")
            return None
        match = _BEARER.fullmatch(header)
        if match is None:
            await self._refuse(scope, receive, send, "The Authorization header is not 'Bearer <key>'")
            return None
        secret = match[1].decode("ascii")
        ring = self.keys.ring
        principal = ring.cached(secret)
        if principal is None:
            client = _client(scope)
            # Guessing keys at speed: once an address has failed too often, it is refused
            # before any lookup, so guesses cost the database nothing either.
            if self.failures.exhausted(client, self.failures_per_second):
                await self._too_many_failures(scope, receive, send)
                return None
            try:
                principal = await ring.lookup(secret)
            except DatabaseUnavailable as error:  # outside the routes: answered here
                await database_unavailable(error)(scope, receive, send)
                return None
            if principal is None:
                await self._refuse(scope, receive, send, "The API key is not valid: unknown or revoked")
                return None
        if principal.expired(time.time()):
            await self._refuse(scope, receive, send, f"The API key {principal.name!r} has expired")
            return None
        return principal

    async def _refuse(self, scope: Scope, receive: Receive, send: Send, detail: str) -> None:
        if self.failures.refused(_client(scope), self.failures_per_second):
            await self._too_many_failures(scope, receive, send)
            return
        await self._unauthorized(scope, receive, send, detail, 'error="invalid_token"')

    async def _too_many_failures(self, scope: Scope, receive: Receive, send: Send) -> None:
        detail = f"More than {self.failures_per_second} failed authentications a second from this address"
        await problem(429, "too-many-requests", detail, headers={"Retry-After": "1"})(scope, receive, send)

    @staticmethod
    async def _unauthorized(scope: Scope, receive: Receive, send: Send, detail: str, error: str = "") -> None:
        challenge = f"{REALM}, {error}" if error else REALM
        headers = {"WWW-Authenticate": challenge}
        await problem(401, "unauthorized", detail, headers=headers)(scope, receive, send)


def _under(path: str, prefix: str) -> bool:
    return path.startswith(prefix) and (len(path) == len(prefix) or path[len(prefix)] == "/")


def _named(head: list[tuple[bytes, bytes]]) -> dict[str, str]:
    return {name.decode(): value.decode() for name, value in head}


def _authorization(scope: Scope) -> bytes | None:
    for name, value in scope["headers"]:
        if name == b"authorization":
            return value
    return None


def _client(scope: Scope) -> str:
    client = scope.get("client")
    return client[0] if client else "-"
