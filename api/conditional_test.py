import pytest
from fastapi import Response
from fastapi.exceptions import RequestValidationError

from api.conditional import _if_match, _if_none_match, not_modified, set_etag
from models.preconditions import VersionCondition


@pytest.mark.anyio
async def test_headers_are_parsed_into_conditions():
    assert await _if_match(None) is None
    assert await _if_match('"2"') == VersionCondition(strong=frozenset({2}))
    assert await _if_none_match("*") == VersionCondition(any=True)


@pytest.mark.anyio
async def test_a_malformed_header_is_a_validation_error_naming_it():
    with pytest.raises(RequestValidationError) as raised:
        await _if_none_match("2")
    assert raised.value.errors()[0]["loc"] == ("header", "If-None-Match")


def test_etag_and_not_modified():
    response = Response()
    set_etag(response, 4)
    assert response.headers["etag"] == '"4"'
    unchanged = not_modified(4)
    assert (unchanged.status_code, unchanged.headers["etag"], unchanged.body) == (304, '"4"', b"")
