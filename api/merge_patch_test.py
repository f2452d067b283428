import pytest
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.requests import Request

from api.merge_patch import merge_patch_body as read_merge_patch
from models.requests import tolerating_unknown_fields

MEMBERS = ("name", "comments", "config")


async def merge_patch_body(request: Request) -> dict:
    return await read_merge_patch(request, MEMBERS)


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


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("body", "reason"),
    [(b"[" * 100_000 + b"]" * 100_000, "nested too deeply"), (b'{"a": "\xff"}', "not valid UTF-8")],
)
async def test_unreadable_bodies_are_explained_without_the_parser_s_words(body, reason):
    with pytest.raises(RequestValidationError) as raised:
        await merge_patch_body(request(body))
    (error,) = raised.value.errors()
    assert reason in error["ctx"]["error"]
    assert "recursion" not in error["ctx"]["error"]
    assert "codec" not in error["ctx"]["error"]


@pytest.mark.anyio
async def test_unknown_top_level_members_are_refused_even_as_null():
    with pytest.raises(RequestValidationError) as raised:
        await merge_patch_body(request(b'{"confg": null, "config": {"a": 1}, "nmae": "x"}'))
    assert [(e["loc"], e["type"]) for e in raised.value.errors()] == [
        (("body", "confg"), "extra_forbidden"),
        (("body", "nmae"), "extra_forbidden"),
    ]


@pytest.mark.anyio
async def test_unknown_members_when_tolerated_are_left_out_and_noted():
    with tolerating_unknown_fields() as found:
        patch = await merge_patch_body(request(b'{"confg": null, "config": {"x": {"deep": 1}}}'))
    assert patch == {"config": {"x": {"deep": 1}}}  # only the top level is the resource's
    assert found == ["confg"]
