import psycopg2
import pytest

from models.errors import ApplicationNameTaken
from repositories.sql import constraint_errors, execute, fetch_all, fetch_one


def test_fetch_helpers_return_dict_rows(conn):
    assert fetch_one(conn, "SELECT 1 AS one") == {"one": 1}
    assert fetch_one(conn, "SELECT 1 WHERE false") is None
    assert fetch_all(conn, "SELECT x FROM generate_series(1, %(n)s) x", {"n": 3}) == [
        {"x": 1},
        {"x": 2},
        {"x": 3},
    ]


def test_execute_returns_the_rows_touched(conn):
    insert = "INSERT INTO applications (id, name) VALUES (%(id)s, %(name)s)"
    assert execute(conn, insert, {"id": "01ARZ3NDEKTSV4RRFFQ69G5FAV", "name": "a"}) == 1
    assert execute(conn, "DELETE FROM applications WHERE name = 'nobody'") == 0


def test_a_named_constraint_becomes_its_domain_error(conn):
    insert = "INSERT INTO applications (id, name) VALUES (%s, 'a')"
    execute(conn, insert % "'01ARZ3NDEKTSV4RRFFQ69G5FAV'")
    taken = {"applications_name_key": lambda: ApplicationNameTaken("a")}
    with pytest.raises(ApplicationNameTaken) as raised, constraint_errors(taken):
        execute(conn, insert % "'01ARZ3NDEKTSV4RRFFQ69G5FAW'")
    assert isinstance(raised.value.__cause__, psycopg2.errors.UniqueViolation)


def test_other_violations_pass_through(conn):
    taken = {"applications_name_key": lambda: ApplicationNameTaken("a")}
    with pytest.raises(psycopg2.errors.CheckViolation), constraint_errors(taken):
        execute(conn, "INSERT INTO applications (id, name) VALUES ('not-a-ulid', 'a')")
