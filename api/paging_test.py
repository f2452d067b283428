from fastapi import Response
from starlette.requests import Request

from api.paging import link_next
from models.paging import Page


class Row:
    def __init__(self, id: str) -> None:
        self.id = id


def request(query: str) -> Request:
    return Request(
        {
            "type": "http",
            "method": "GET",
            "scheme": "http",
            "server": ("svc", 80),
            "path": "/api/v1/things",
            "query_string": query.encode(),
            "headers": [(b"host", b"svc")],
        }
    )


def test_next_link_uses_the_last_id_and_keeps_other_filters():
    response = Response()
    link_next(request("limit=2&offset=4&name=x"), response, Page([Row("A"), Row("B")], next_after="B"))
    assert response.headers["link"] == '<http://svc/api/v1/things?limit=2&name=x&after=B>; rel="next"'


def test_no_link_on_the_last_page():
    response = Response()
    link_next(request("limit=2"), response, Page([Row("A")]))
    assert "link" not in response.headers
