"""What the client raises.

An answer from the service that says no is a `ProblemError`, typed by its status and carrying
the RFC 9457 problem document. No answer at all before the deadline is `ServiceUnreachable`:
the one error a caller may want to ride out with a last-known-good copy.
"""

from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

import httpx

PROBLEM_TYPE_PREFIX = "urn:config-service:problem:"
# The kinds of 404 that mean "this id is gone", after which a name is worth resolving again.
APPLICATION_NOT_FOUND = PROBLEM_TYPE_PREFIX + "application-not-found"
CONFIGURATION_NOT_FOUND = PROBLEM_TYPE_PREFIX + "configuration-not-found"
# A create that lost a race: someone made the configuration meanwhile.
CONFIGURATION_NAME_TAKEN = PROBLEM_TYPE_PREFIX + "configuration-name-taken"


class ConfigServiceError(Exception):
    """Every error the client raises of its own."""


class ProblemError(ConfigServiceError):
    """The service answered with an error status (4xx or 5xx)."""

    def __init__(self, status: int, problem: Mapping[str, Any], *, retry_after: str | None = None) -> None:
        self.status = status
        self.problem: dict[str, Any] = dict(problem)
        title = self.problem.get("title")
        self.title: str = title if isinstance(title, str) and title else _phrase(status)
        detail = self.problem.get("detail")
        self.detail: str | None = detail if isinstance(detail, str) and detail else None
        self.retry_after = retry_after
        super().__init__(self.title if self.detail is None else f"{self.title}: {self.detail}")

    @property
    def problem_type(self) -> str:
        """The problem's `type` URI; RFC 9457's "about:blank" when it has none."""
        kind = self.problem.get("type")
        return kind if isinstance(kind, str) and kind else "about:blank"

    @property
    def fields(self) -> list[str]:
        """The fields a validation problem (400) names, as "body.name" or "header.If-Match"."""
        errors = self.problem.get("errors")
        if not isinstance(errors, list):
            return []
        named = []
        for error in errors:
            if isinstance(error, dict):
                where = f"{error.get('in', '')}.{error.get('field', '')}".strip(".")
                named.append(where)
        return named


class BadRequest(ProblemError):
    """400 or 422: the request was invalid; `fields` says which parts."""


class Unauthorized(ProblemError):
    """401: no API key, or one that is unknown, revoked or expired."""


class Forbidden(ProblemError):
    """403: the key lacks the scope or the reach the request needs."""


class NotFound(ProblemError):
    """404: no such application, configuration or version."""


class Conflict(ProblemError):
    """409: the name is taken, or the change conflicts with what exists."""


class PreconditionFailed(ProblemError):
    """412: If-Match named a version that is no longer current (`current_version` says which is)."""

    @property
    def current_version(self) -> int | None:
        version = self.problem.get("current_version")
        return version if isinstance(version, int) else None


class TooManyRequests(ProblemError):
    """429: beyond the key's rate; `retry_after` says when to come back. Retried within the
    call's deadline; raised as it is (not as ServiceUnreachable) once that runs out, or at
    once when `retry_after` asks for longer: the service is there, the key is too busy."""


class ServerError(ProblemError):
    """5xx: the service failed, or could not reach its database."""


_BY_STATUS: dict[int, type[ProblemError]] = {
    400: BadRequest,
    401: Unauthorized,
    403: Forbidden,
    404: NotFound,
    409: Conflict,
    412: PreconditionFailed,
    422: BadRequest,
    429: TooManyRequests,
}


def problem_error_for(
    status: int, problem: Mapping[str, Any], *, retry_after: str | None = None
) -> ProblemError:
    """The ProblemError subclass for `status`."""
    kind = _BY_STATUS.get(status, ServerError if status >= 500 else ProblemError)
    return kind(status, problem, retry_after=retry_after)


def problem_error(response: httpx.Response) -> ProblemError:
    """The error a 4xx or 5xx response stands for. Its body must have been read."""
    return problem_error_for(
        response.status_code, _problem_document(response), retry_after=response.headers.get("Retry-After")
    )


def not_found(kind: str, detail: str) -> NotFound:
    """A 404 of the client's own, for a name that resolves to nothing: shaped as the service's."""
    return NotFound(
        404,
        {
            "type": f"{PROBLEM_TYPE_PREFIX}{kind}-not-found",
            "title": "Not Found",
            "status": 404,
            "detail": detail,
        },
    )


def _problem_document(response: httpx.Response) -> dict[str, Any]:
    # A proxy or load balancer in front of the service may answer with HTML or nothing.
    try:
        document = response.json()
    except ValueError:
        document = None
    if isinstance(document, dict) and isinstance(document.get("title"), str):
        return document
    return {"title": response.reason_phrase or _phrase(response.status_code), "status": response.status_code}


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return f"HTTP {status}"


class ServiceUnreachable(ConfigServiceError):
    """No usable answer before the deadline: connections refused or dropped, timeouts, or
    5xx answers that went on until the deadline (a 429 stays TooManyRequests). `last_error`
    is the last of them (an httpx.TransportError or a ProblemError)."""

    def __init__(self, message: str, last_error: BaseException | None = None) -> None:
        super().__init__(message)
        self.last_error = last_error
