"""The few ways repositories talk to a connection. None of them commits: the caller's
unit of work (database.pool.Database) owns the transaction."""

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import psycopg2
from psycopg2.extensions import connection as Connection

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
