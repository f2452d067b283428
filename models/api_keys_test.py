from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from models.api_keys import ApiKeyCreate, Principal, rank_of

ULID = "01JD0000000000000000000000"


def test_scopes_rank_read_below_write_below_admin():
    reader = Principal("k", "r", rank_of(["read"]), None, 10)
    writer = Principal("k", "w", rank_of(["read", "write"]), None, 10)
    admin = Principal("k", "a", rank_of(["admin"]), None, 10)
    assert reader.holds("read") and not reader.holds("write")
    assert writer.holds("write") and not writer.holds("admin")
    assert admin.holds("read") and admin.holds("write") and admin.holds("admin")


def test_reach_limits_what_a_principal_sees():
    restricted = Principal("k", "r", rank_of(["write"]), frozenset({ULID}), 10)
    everywhere = Principal("k", "e", rank_of(["write"]), None, 10)
    admin = Principal("k", "a", rank_of(["admin"]), None, 10)
    assert restricted.sees(ULID) and not restricted.sees("01JD0000000000000000000001")
    assert everywhere.sees("01JD0000000000000000000001")
    # What belongs to no application (keys) is for admins only.
    assert not everywhere.sees(None) and admin.sees(None)


def test_expiry():
    key = Principal("k", "x", 1, None, 10, expires_at=100.0)
    assert not key.expired(99.9) and key.expired(100.0)
    assert not Principal("k", "x", 1, None, 10).expired(1e12)


def test_a_request_names_known_scopes_at_least_one():
    with pytest.raises(ValidationError) as refused:
        ApiKeyCreate(name="ci", scopes=[])
    assert refused.value.errors()[0]["loc"] == ("scopes",)
    with pytest.raises(ValidationError):
        ApiKeyCreate(name="ci", scopes=["root"])
    assert ApiKeyCreate(name="ci", scopes=["read", "read"]).scopes == ["read"]


def test_application_ids_are_ulids_made_canonical():
    request = ApiKeyCreate(name="ci", scopes=["read"], application_ids=[ULID.lower()])
    assert request.application_ids == [ULID]
    with pytest.raises(ValidationError):
        ApiKeyCreate(name="ci", scopes=["read"], application_ids=["nope"])


def test_expiry_must_be_in_the_future_and_is_kept_in_utc():
    with pytest.raises(ValidationError, match="future"):
        ApiKeyCreate(name="ci", scopes=["read"], expires_at=datetime.now(UTC) - timedelta(seconds=1))
    naive = datetime.now() + timedelta(days=1)
    assert ApiKeyCreate(name="ci", scopes=["read"], expires_at=naive).expires_at.tzinfo == UTC


def test_an_offset_postgresql_cannot_store_is_refused():
    with pytest.raises(ValidationError, match="15:59"):
        ApiKeyCreate(name="ci", scopes=["read"], expires_at="2099-01-01T00:00:00+16:00")


def test_unknown_fields_are_refused():
    with pytest.raises(ValidationError) as refused:
        ApiKeyCreate(name="ci", scopes=["read"], scope="admin")
    assert refused.value.errors()[0]["type"] == "extra_forbidden"


def test_the_secrets_scope_stands_beside_the_others_and_admin_implies_it():
    def principal(scopes, reach=None):
        return Principal(None, "k", rank_of(scopes), reach, 1, reveals="secrets" in scopes)

    assert ApiKeyCreate(name="k", scopes=["read", "secrets"]).scopes == ["read", "secrets"]
    assert principal(["read", "secrets"]).holds("secrets")
    assert principal(["write", "secrets"], reach=frozenset({"A"})).holds("secrets")
    assert principal(["admin"]).holds("secrets")
    assert not principal(["write"]).holds("secrets")
    assert not principal(["secrets"]).holds("secrets")  # revealing is a way of reading
    with pytest.raises(ValidationError):
        ApiKeyCreate(name="k", scopes=["secrets"])
    assert not principal(["secrets"]).holds("read")
    assert rank_of(["read", "secrets"]) == rank_of(["read"])
