"""API keys: made with a secret shown once, listed without it, revoked at once everywhere.

A revocation is an audited change like any other, so it reaches every process through the
change feed, whose key rings (services/keyring.py) then forget the key.
"""

import hashlib
import logging
import os
import secrets
from collections.abc import Callable
from pathlib import Path

from psycopg2.extensions import connection as Connection

from database.pool import Database
from models.api_keys import KEY_PREFIX, ApiKey, ApiKeyCreate, ApiKeyCreated
from models.audit import AuditContext
from models.errors import ApiKeyNotFound
from models.ids import new_id
from models.paging import Page, PageRequest
from repositories import api_keys
from repositories.sql import fetch_one
from services.audit import record
from services.ids import existing_id

logger = logging.getLogger(__name__)

SECRET_BYTES = 32  # 256 bits
GENERATED_LENGTH = 43  # base64url characters of SECRET_BYTES
PREFIX_SHOWN = len(KEY_PREFIX) + 6
BOOTSTRAP_NAME = "bootstrap"
ADMIN_KEY_FILE = "admin-key"
REVOKED = "revoked"
# Replicas starting together must make one first key, not one each.
_BOOTSTRAP_LOCK = "SELECT pg_advisory_xact_lock(hashtext('config-service:bootstrap-key'))"


class BootstrapFailed(Exception):
    """Nobody could get in: the first admin key could not be handed to the operator."""


def new_secret() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(SECRET_BYTES)


def digest(secret: str) -> bytes:
    return hashlib.sha256(secret.encode("utf-8", "surrogateescape")).digest()


def shown_prefix(secret: str) -> str:
    """What may be shown of a secret: six random characters of one we made. A secret an
    operator chose (ADMIN_API_KEY) may be short, so none of it is shown."""
    if secret.startswith(KEY_PREFIX) and len(secret) >= len(KEY_PREFIX) + GENERATED_LENGTH:
        return secret[:PREFIX_SHOWN]
    return ""


def _image(row: dict, default_rate_limit: int) -> dict:
    """The key as the API and the audit log show it: never its secret or hash."""
    return ApiKey.model_validate(_with_defaults(row, default_rate_limit)).model_dump(mode="json")


def _with_defaults(row: dict, default_rate_limit: int) -> dict:
    return row | {"rate_limit_per_second": row["rate_limit_per_second"] or default_rate_limit}


def _entity(row: dict) -> dict:
    return {"entity_type": "api_key", "entity_id": row["id"], "application_id": None}


class ApiKeyService:
    def __init__(
        self, db: Database, default_rate_limit: int, forget: Callable[[str], None] | None = None
    ) -> None:
        self._db = db
        self._default_rate_limit = default_rate_limit
        # This process's key ring: told of a revocation at once (others hear of it by the feed).
        self._forget = forget

    async def create(self, request: ApiKeyCreate, context: AuditContext) -> ApiKeyCreated:
        secret = new_secret()
        row = await self._db.write(lambda conn: self._insert(conn, request, secret, context))
        return ApiKeyCreated.model_validate(_with_defaults(row, self._default_rate_limit) | {"key": secret})

    async def get(self, key_id: str) -> ApiKey:
        key_id = existing_id(key_id, ApiKeyNotFound)
        row = await self._db.read(lambda conn: api_keys.get(conn, key_id))
        if row is None:
            raise ApiKeyNotFound(key_id)
        return ApiKey.model_validate(_with_defaults(row, self._default_rate_limit))

    async def list(self, page: PageRequest, *, name: str | None = None) -> Page[ApiKey]:
        rows = await self._db.read(lambda conn: api_keys.list_page(conn, page, name=name))
        keys = [ApiKey.model_validate(_with_defaults(row, self._default_rate_limit)) for row in rows]
        return Page.from_rows(keys, page)

    async def revoke(self, key_id: str, context: AuditContext) -> None:
        key_id = existing_id(key_id, ApiKeyNotFound)

        def revoke(conn: Connection) -> None:
            row = api_keys.delete(conn, key_id)
            if row is None:
                raise ApiKeyNotFound(key_id)
            record(
                conn,
                context,
                "api_key.revoked",
                **_entity(row),
                version=None,
                before=_image(row, self._default_rate_limit),
                after=None,
            )

        await self._db.write(revoke)
        if self._forget is not None:
            self._forget(key_id)

    async def bootstrap(self, admin_api_key: str | None, data_dir: Path) -> None:
        """Make sure somebody can get in. ADMIN_API_KEY, while set, is always a working admin
        key. Without it, a database with no key at all gets one, written to a file only its
        owner can read; the log says where, never what."""
        context = AuditContext(actor="config-service")

        def ensure(conn: Connection) -> str | None:
            fetch_one(conn, _BOOTSTRAP_LOCK)
            if admin_api_key is not None:
                hashed = digest(admin_api_key)
                if api_keys.revoked(conn, hashed):
                    return REVOKED  # an operator's revocation outlives the environment
                if api_keys.by_secret(conn, hashed) is None:
                    self._insert(conn, self._bootstrap_request(conn), admin_api_key, context)
                return None
            if api_keys.count(conn) > 0:
                return None
            secret = new_secret()
            self._insert(conn, self._bootstrap_request(conn), secret, context)
            # Written before the commit: a key nobody can learn would lock everyone out.
            path = data_dir / ADMIN_KEY_FILE
            try:
                return str(_write_private(path, secret))
            except OSError as error:
                raise BootstrapFailed(
                    f"cannot write the first admin key to {path} ({error.strerror}): "
                    "set ADMIN_API_KEY, or make DATA_DIR writable"
                ) from None

        written = await self._db.write(ensure)
        if written is REVOKED:
            logger.warning(
                "ADMIN_API_KEY names a key that was revoked: it stays revoked; unset or replace it"
            )
        elif written:
            logger.warning("made the first admin API key; it is in %s (readable by its owner only)", written)

    @staticmethod
    def _bootstrap_request(conn: Connection) -> ApiKeyCreate:
        # A name an operator took meanwhile is left alone: the next free "bootstrap-N" is used.
        name, number = BOOTSTRAP_NAME, 1
        while api_keys.list_page(conn, PageRequest(limit=1), name=name):
            number += 1
            name = f"{BOOTSTRAP_NAME}-{number}"
        return ApiKeyCreate(name=name, scopes=["admin"])

    def _insert(self, conn: Connection, request: ApiKeyCreate, secret: str, context: AuditContext) -> dict:
        row = api_keys.insert(
            conn,
            id=new_id(),
            name=request.name,
            prefix=shown_prefix(secret),
            secret_sha256=digest(secret),
            scopes=request.scopes,
            application_ids=request.application_ids,
            expires_at=request.expires_at,
            rate_limit_per_second=request.rate_limit_per_second,
        )
        record(
            conn,
            context,
            "api_key.created",
            **_entity(row),
            version=None,
            before=None,
            after=_image(row, self._default_rate_limit),
        )
        return row


def _write_private(path: Path, secret: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".tmp")
    # Created anew and 0600 from the start: never readable by others, not even for a
    # moment, and never through a link or a file someone left there.
    temporary.unlink(missing_ok=True)
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    with os.fdopen(fd, "w") as file:
        file.write(secret + "\n")
    os.replace(temporary, path)
    return path.resolve()
