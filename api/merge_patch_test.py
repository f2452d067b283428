import pytest
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.requests import Request

from api.merge_patch import merge_patch_body


def request(body: bytes, content_type: str | None = "application/merge-patch+json") -> Request:
    headers = [(b"content-type", content_type.encode())] if content_type else []

    async def receive():
        return {"type": "http.request", "body": body, "more_body": False}

    return Request({"type": "http", "method": "PATCH", "headers": headers}, receive)


@pytest.mark.anyio
async def test_a_merge_patch_object_is_read():
    assert await merge_patch_body(request(b'{"config": {"a": null}}')) == {"config": {"a": None}}
    assert await merge_patch_body(request(b"{}", "Application/Merge-Patch+JSON; charset=utf-8")) == {}


@pytest.mark.anyio
@pytest.mark.parametrize("content_type", ["application/json", None])
async def test_other_media_types_are_unsupported(content_type):
    with pytest.raises(HTTPException) as raised:
        await merge_patch_body(request(b"{}", content_type))
    assert raised.value.status_code == 415
    assert raised.value.headers == {"Accept-Patch": "application/merge-patch+json"}


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("body", "kind"), [(b"{", "json_invalid"), (b"\xff", "json_invalid"), (b"[]", "dict_type")]
)
async def test_malformed_bodies_are_validation_errors(body, kind):
    with pytest.raises(RequestValidationError) as raised:
        await merge_patch_body(request(body))
    assert raised.value.errors()[0]["type"] == kind
