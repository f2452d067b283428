from datetime import UTC, datetime, timedelta

import psycopg2
import pytest

from models.errors import ApiKeyNameTaken
from models.ids import new_id
from models.paging import PageRequest
from repositories import api_keys


def add(conn, name: str = "ci", secret: bytes = b"h" * 32, **fields) -> dict:
    values = {
        "id": new_id(),
        "name": name,
        "prefix": "cs_abcdef",
        "secret_sha256": secret,
        "scopes": ["read"],
        "application_ids": None,
        "expires_at": None,
        "rate_limit_per_second": None,
    }
    return api_keys.insert(conn, **(values | fields))


def test_insert_returns_everything_but_the_hash(conn):
    row = add(conn, scopes=["read", "write"], application_ids=["01JD0000000000000000000000"])
    assert "secret_sha256" not in row
    assert row["scopes"] == ["read", "write"]
    assert row["application_ids"] == ["01JD0000000000000000000000"]
    assert row["last_used_at"] is None and row["created_at"] is not None


def test_found_by_the_hash_of_its_secret(conn):
    row = add(conn, secret=b"s" * 32)
    assert api_keys.by_secret(conn, b"s" * 32)["id"] == row["id"]
    assert api_keys.by_secret(conn, b"t" * 32) is None


def test_names_are_unique(conn):
    add(conn, name="ci")
    with pytest.raises(ApiKeyNameTaken):
        add(conn, name="ci", secret=b"x" * 32)


def test_unknown_scopes_are_refused_by_the_database(conn):
    with pytest.raises(psycopg2.errors.CheckViolation):
        add(conn, scopes=["root"])


def test_list_get_delete_count(conn):
    first, second = add(conn, name="a", secret=b"1" * 32), add(conn, name="b", secret=b"2" * 32)
    assert [k["id"] for k in api_keys.list_page(conn, PageRequest())] == [first["id"], second["id"]]
    assert [k["id"] for k in api_keys.list_page(conn, PageRequest(), name="b")] == [second["id"]]
    assert api_keys.count(conn) == 2
    assert api_keys.delete(conn, first["id"])["name"] == "a"
    assert api_keys.delete(conn, first["id"]) is None
    assert api_keys.get(conn, first["id"]) is None
    assert api_keys.count(conn) == 1


def test_touch_never_moves_last_use_back(conn):
    key = add(conn)
    later = datetime(2030, 1, 1, tzinfo=UTC)
    assert api_keys.touch(conn, {key["id"]: later}) == 1
    assert api_keys.touch(conn, {key["id"]: later - timedelta(minutes=5)}) == 0
    assert api_keys.get(conn, key["id"])["last_used_at"] == later
