"""The few ways repositories talk to a connection. None of them commits: the caller's
unit of work (database.pool.Database) owns the transaction."""

from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import psycopg2
from psycopg2.extensions import connection as Connection
from psycopg2.extras import Json

from models import exact_json
from models.errors import DomainError

Params = Mapping[str, Any] | None


def fetch_one(conn: Connection, query: str, params: Params = None) -> dict | None:
    with conn.cursor() as cursor:
        cursor.execute(query, params)
        return cursor.fetchone()


def fetch_all(conn: Connection, query: str, params: Params = None) -> list[dict]:
    with conn.cursor() as cursor:
        cursor.execute(query, params)
        return cursor.fetchall()


def execute(conn: Connection, query: str, params: Params = None) -> int:
    """Run a statement; return how many rows it touched."""
    with conn.cursor() as cursor:
        cursor.execute(query, params)
        return cursor.rowcount


def jsonb(value: Any) -> Json:
    """A JSON parameter whose exact numbers (models/exact_json.py) are written as numbers."""
    return Json(value, dumps=exact_json.dumps)


@contextmanager
def constraint_errors(errors: Mapping[str, Callable[[], DomainError]]) -> Iterator[None]:
    """Turn a violation of a named constraint into the domain error made for it."""
    try:
        yield
    except psycopg2.IntegrityError as error:
        make_error = errors.get(error.diag.constraint_name)
        if make_error is None:
            raise
        raise make_error() from error


def reach_param(reach: Iterable[str] | None) -> list[str] | None:
    """The applications a caller reaches, as a text[] parameter (None: all of them)."""
    return None if reach is None else sorted(reach)
