"""Routes that read and answer stored JSON with its numbers exact (models/exact_json.py).

A request body's numbers are parsed exactly, and the marks that exact numbers become in a
serialized response model are turned back into bare numbers, once, in the finished body.
A body without exact numbers (nearly all) costs one search for `\\u0000`, which fails.
Errors are not touched: they show no stored JSON.
"""

from typing import Any

from fastapi import Request, Response

from api.strict import Handler, StrictRoute
from models import exact_json


class ExactNumbersRequest(Request):
    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            self._json = exact_json.loads(await self.body())
        return self._json


class ExactNumbersRoute(StrictRoute):
    def get_route_handler(self) -> Handler:
        handler = super().get_route_handler()

        async def exact_handler(request: Request) -> Response:
            # Before anything reads the body: a Request reads its stream only once.
            response = await handler(ExactNumbersRequest(request.scope, request.receive))
            return with_bare_numbers(response)

        return exact_handler


def with_bare_numbers(response: Response) -> Response:
    body = getattr(response, "body", None)  # a stream has none
    if isinstance(body, bytes):
        unmarked = exact_json.unmarked_bytes(body)
        if unmarked is not body:
            response.body = unmarked
            response.headers["content-length"] = str(len(unmarked))
    return response
