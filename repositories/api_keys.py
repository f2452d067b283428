from psycopg2.extensions import connection as Connection

from models.errors import ApiKeyNameTaken
from models.paging import PageRequest
from repositories.sql import constraint_errors, execute, fetch_all, fetch_one

_COLUMNS = """id, name, prefix, scopes, application_ids, expires_at, rate_limit_per_second, created_at,
    last_used_at"""

_INSERT = f"""
INSERT INTO api_keys
    (id, name, prefix, secret_sha256, scopes, application_ids, expires_at, rate_limit_per_second)
VALUES
    (%(id)s, %(name)s, %(prefix)s, %(secret_sha256)s, %(scopes)s, %(application_ids)s, %(expires_at)s,
     %(rate_limit_per_second)s)
RETURNING {_COLUMNS}
"""

_GET = f"SELECT {_COLUMNS} FROM api_keys WHERE id = %(id)s"

_BY_SECRET = f"SELECT {_COLUMNS} FROM api_keys WHERE secret_sha256 = %(secret_sha256)s"

_LIST = f"""
SELECT {_COLUMNS}
FROM api_keys
WHERE (%(after)s::text IS NULL OR id > %(after)s)
  AND (%(name)s::text IS NULL OR name = %(name)s)
ORDER BY id
LIMIT %(limit)s OFFSET %(offset)s
"""

# The secret's hash is remembered, so a revoked bootstrap key is never made again.
_DELETE = f"""
WITH deleted AS (
    DELETE FROM api_keys WHERE id = %(id)s RETURNING {_COLUMNS}, secret_sha256
), remembered AS (
    INSERT INTO api_key_revocations (secret_sha256, key_id)
    SELECT secret_sha256, id FROM deleted
    ON CONFLICT (secret_sha256) DO NOTHING
)
SELECT {_COLUMNS} FROM deleted
"""

_REVOKED = (
    "SELECT EXISTS (SELECT 1 FROM api_key_revocations WHERE secret_sha256 = %(secret_sha256)s) AS revoked"
)

_COUNT = "SELECT count(*) AS keys FROM api_keys"

# Kept to the minute, by each process for the keys it saw used: never one write per request.
_TOUCH = """
UPDATE api_keys AS k SET last_used_at = used.at
FROM unnest(%(ids)s::text[], %(moments)s::timestamptz[]) AS used (id, at)
WHERE k.id = used.id AND (k.last_used_at IS NULL OR k.last_used_at < used.at)
"""


def insert(
    conn: Connection,
    *,
    id: str,
    name: str,
    prefix: str,
    secret_sha256: bytes,
    scopes: list[str],
    application_ids: list[str] | None,
    expires_at: object,
    rate_limit_per_second: int | None,
) -> dict:
    params = {
        "id": id,
        "name": name,
        "prefix": prefix,
        "secret_sha256": secret_sha256,
        "scopes": scopes,
        "application_ids": application_ids,
        "expires_at": expires_at,
        "rate_limit_per_second": rate_limit_per_second,
    }
    with constraint_errors({"api_keys_name_key": lambda: ApiKeyNameTaken(name)}):
        return fetch_one(conn, _INSERT, params)


def get(conn: Connection, key_id: str) -> dict | None:
    return fetch_one(conn, _GET, {"id": key_id})


def by_secret(conn: Connection, secret_sha256: bytes) -> dict | None:
    return fetch_one(conn, _BY_SECRET, {"secret_sha256": secret_sha256})


def list_page(conn: Connection, page: PageRequest, *, name: str | None = None) -> list[dict]:
    return fetch_all(conn, _LIST, {**page.sql_params, "name": name})


def delete(conn: Connection, key_id: str) -> dict | None:
    """The key as it was, or None if there was none."""
    return fetch_one(conn, _DELETE, {"id": key_id})


def revoked(conn: Connection, secret_sha256: bytes) -> bool:
    """Whether a key with this secret existed and was revoked."""
    return fetch_one(conn, _REVOKED, {"secret_sha256": secret_sha256})["revoked"]


def count(conn: Connection) -> int:
    return fetch_one(conn, _COUNT)["keys"]


def touch(conn: Connection, last_used: dict[str, object]) -> int:
    """Record when keys were last used ({id: moment}); never moves a moment back."""
    params = {"ids": list(last_used), "moments": list(last_used.values())}
    return execute(conn, _TOUCH, params)
