"""Errors from answers: the class by status, the problem document kept whole, and one line of
text a person can read."""

import httpx
import pytest

from config_service_client.errors import (
    APPLICATION_NOT_FOUND,
    BadRequest,
    Conflict,
    Forbidden,
    NotFound,
    PreconditionFailed,
    ProblemError,
    ServerError,
    ServiceUnreachable,
    TooManyRequests,
    Unauthorized,
    not_found,
    problem_error,
    problem_error_for,
)

PROBLEM_JSON = {"Content-Type": "application/problem+json"}


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (400, BadRequest),
        (401, Unauthorized),
        (403, Forbidden),
        (404, NotFound),
        (409, Conflict),
        (412, PreconditionFailed),
        (422, BadRequest),
        (429, TooManyRequests),
        (500, ServerError),
        (503, ServerError),
        (405, ProblemError),
        (413, ProblemError),
    ],
)
def test_the_class_follows_the_status(status: int, kind: type[ProblemError]) -> None:
    error = problem_error_for(status, {"title": "T"})

    assert type(error) is kind
    assert error.status == status


def test_it_keeps_the_problem_document_and_reads_as_title_and_detail() -> None:
    document = {
        "type": "urn:config-service:problem:precondition-failed",
        "title": "Precondition Failed",
        "status": 412,
        "detail": "Configuration 'x' is at version 3, not 2",
        "current_version": 3,
    }
    response = httpx.Response(412, json=document, headers=PROBLEM_JSON | {"ETag": '"3"'})

    error = problem_error(response)

    assert isinstance(error, PreconditionFailed)
    assert error.problem == document
    assert (error.title, error.detail) == ("Precondition Failed", "Configuration 'x' is at version 3, not 2")
    assert str(error) == "Precondition Failed: Configuration 'x' is at version 3, not 2"
    assert error.current_version == 3
    assert error.problem_type == "urn:config-service:problem:precondition-failed"


def test_without_a_detail_it_reads_as_the_title() -> None:
    error = problem_error(httpx.Response(401, json={"title": "Unauthorized", "status": 401}))

    assert str(error) == "Unauthorized"
    assert error.detail is None
    assert error.problem_type == "about:blank"


def test_a_body_that_is_no_problem_document_becomes_one_from_the_status() -> None:
    html = httpx.Response(502, text="<html>Bad gateway</html>", headers={"Content-Type": "text/html"})
    empty = httpx.Response(503, headers={"Retry-After": "4"})

    assert problem_error(html).problem == {"title": "Bad Gateway", "status": 502}
    assert str(problem_error_for(599, {})) == "HTTP 599"
    assert str(problem_error(html)) == "Bad Gateway"
    assert isinstance(problem_error(empty), ServerError)
    assert problem_error(empty).retry_after == "4"


def test_a_validation_problem_names_its_fields() -> None:
    document = {
        "title": "Bad Request",
        "status": 400,
        "detail": "The request is invalid: body.name, header.If-Match",
        "errors": [
            {"in": "body", "field": "name", "message": "too long", "type": "string_too_long"},
            {"in": "header", "field": "If-Match", "message": "bad", "type": "value_error"},
        ],
    }

    error = problem_error(httpx.Response(400, json=document))

    assert isinstance(error, BadRequest)
    assert error.fields == ["body.name", "header.If-Match"]
    assert problem_error(httpx.Response(404, json={"title": "Not Found"})).fields == []


def test_a_name_that_resolves_to_nothing_is_a_404_shaped_as_the_services() -> None:
    error = not_found("application", "No application is named 'payments'")

    assert isinstance(error, NotFound)
    assert error.problem_type == APPLICATION_NOT_FOUND
    assert str(error) == "Not Found: No application is named 'payments'"


def test_unreachable_keeps_the_last_error() -> None:
    cause = httpx.ConnectError("refused")

    error = ServiceUnreachable("no answer", cause)

    assert error.last_error is cause
    assert str(error) == "no answer"
