"""What api/auth.py decides from a request's method, path and header alone (end to end, with
keys in the database: api/v1/api_keys_test.py)."""

import pytest

from api.auth import (
    _BEARER,
    NOBODY,
    PRINCIPAL,
    anonymous,
    bucket_head,
    caller_of,
    changes_schemas,
    rate_limit_head,
    required_scope,
)
from config.settings import load_settings
from models.api_keys import Principal
from services.rate_limits import RateLimiter


@pytest.mark.parametrize(
    ("method", "path", "scope"),
    [
        ("GET", "/api/v1/configurations/X", "read"),
        ("HEAD", "/api/v1/applications", "read"),
        ("OPTIONS", "/api/v1/applications", "read"),
        ("POST", "/api/v1/applications", "write"),
        ("DELETE", "/api/v1/configurations/X", "write"),
        ("GET", "/api/v1/api-keys", "admin"),
        ("GET", "/api/v1/api-keys/X", "admin"),
        ("GET", "/api/v1/api-keysX", "read"),  # not the keys' route: a 404 for readers
        ("POST", "/api/v1/schemas", "write"),
        ("POST", "/api/v1/schemas/db/validate", "read"),  # dry runs write nothing
        ("POST", "/api/v1/configurations/X/validate", "read"),
        ("POST", "/api/v1/schemas/db/versions", "write"),
    ],
)
def test_the_scope_a_request_needs(method, path, scope):
    assert required_scope(method, path) == scope


@pytest.mark.parametrize(
    ("method", "path", "changes"),
    [
        ("POST", "/api/v1/schemas", True),
        ("POST", "/api/v1/schemas/db/versions", True),
        ("DELETE", "/api/v1/schemas/db", True),
        ("GET", "/api/v1/schemas/db", False),
        ("POST", "/api/v1/schemas/db/validate", False),
        ("POST", "/api/v1/schemasX", False),
        ("PUT", "/api/v1/configurations/X", False),
    ],
)
def test_which_requests_change_schemas(method, path, changes):
    assert changes_schemas(method, path) is changes


@pytest.mark.parametrize(
    ("header", "token"),
    [
        (b"Bearer cs_abc", b"cs_abc"),
        (b"bearer  cs_abc ", b"cs_abc"),
        (b"BEARER Operator!Chosen:Secret#42", b"Operator!Chosen:Secret#42"),
        (b"Bearer", None),
        (b"Bearer two words", None),
        (b"Basic dXNlcjpwYXNz", None),
        (b"Bearer " + b"x" * 513, None),
        ("Bearer \u00e9t\u00e9".encode(), None),
    ],
)
def test_what_counts_as_a_bearer_token(header, token):
    match = _BEARER.fullmatch(header)
    assert (match[1] if match else None) == token


def test_a_request_without_a_principal_fails_closed():
    assert caller_of({}) is NOBODY
    assert not NOBODY.holds("read") and not NOBODY.sees("01JD0000000000000000000000")
    someone = Principal("k", "ci", 1, None, 10)
    assert caller_of({PRINCIPAL: someone}) is someone


def test_anonymous_requests_get_only_the_scopes_granted():
    assert anonymous(load_settings(_env_file=None)) is None
    reader = anonymous(load_settings(_env_file=None, anonymous_scopes="read", rate_limit_per_second=7))
    assert reader.holds("read") and not reader.holds("write")
    assert (reader.key_id, reader.reach, reader.rate_limit_per_second) == (None, None, 7)


def test_the_fast_read_paths_take_is_check_without_the_decision(monkeypatch):
    """Two sets of buckets, asked alike at the same moments: the one through take() answers
    each request with the head and the refusals the other's check() decides."""
    now = [1000.0]
    monkeypatch.setattr("time.monotonic", lambda: now[0])
    checked, taken = RateLimiter(), RateLimiter()
    for step, rate in [(0, 2), (0, 2), (0.1, 2), (0.1, 2), (0.2, 2), (0.6, 2), (0, 3), (0, 3), (5, 3)]:
        now[0] += step
        decision = checked.check("key", rate)
        bucket = taken.take("key", rate)
        assert (bucket is not None) == decision.allowed
        if bucket is not None:
            assert bucket_head(bucket) == rate_limit_head(decision)
