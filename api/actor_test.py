import pytest
from starlette.requests import Request

from api.actor import on_behalf_of, printable


def request_with(headers: list[tuple[bytes, bytes]]) -> Request:
    return Request({"type": "http", "headers": headers})


@pytest.mark.parametrize(
    ("raw", "limit", "expected"),
    [
        (None, 10, None),
        ("", 10, None),
        ("  a   b  ", 10, "a b"),
        ("tab\there\r\nnew\x00nul\x7fdel", 50, "tab here newnuldel"),
        ("abcdefghijkl", 5, "abcde"),
    ],
)
def test_printable(raw, limit, expected):
    assert printable(raw, limit) == expected


def test_on_behalf_of_is_the_x_actor_header_in_utf8_or_nobody():
    assert on_behalf_of(request_with([(b"x-actor", "renée".encode())])) == "renée"
    assert on_behalf_of(request_with([(b"x-actor", b"\x01\x02")])) is None
    assert on_behalf_of(request_with([])) is None
