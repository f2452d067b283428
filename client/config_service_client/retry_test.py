"""Backoff, jitter, Retry-After and the deadline, as arithmetic: no network, no sleeping."""

import math
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpx
import pytest

from config_service_client.errors import NotFound, ServerError, ServiceUnreachable, TooManyRequests
from config_service_client.retry import (
    Attempts,
    Reachability,
    RetryPolicy,
    retries_error,
    retries_status,
    retry_after_seconds,
)


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_the_backoff_cap_doubles_up_to_the_maximum() -> None:
    policy = RetryPolicy(first_backoff_s=0.1, max_backoff_s=1.0)

    assert [policy.backoff_cap(n) for n in range(6)] == pytest.approx([0.1, 0.2, 0.4, 0.8, 1.0, 1.0])
    assert policy.backoff_cap(10_000) == 1.0  # no overflow however long it has failed


def test_full_jitter_spans_zero_to_the_cap() -> None:
    lowest = RetryPolicy(random=lambda: 0.0)
    highest = RetryPolicy(random=lambda: 0.999999)

    assert lowest.delay(3, None, 30) == 0.0
    assert highest.delay(3, None, 30) == pytest.approx(0.8, rel=1e-5)


def test_real_jitter_stays_within_the_cap_and_varies() -> None:
    policy = RetryPolicy(first_backoff_s=0.1, max_backoff_s=5.0)

    delays = [policy.delay(2, None, 30) for _ in range(200)]

    assert all(0 <= delay <= 0.4 for delay in delays)
    assert len(set(delays)) > 100  # clients that failed together spread out


def test_retry_after_is_a_floor_and_the_deadline_a_ceiling() -> None:
    policy = RetryPolicy(random=lambda: 0.5)

    assert policy.delay(0, "3", 30) == 3.0  # far above the backoff: the server asked
    assert policy.delay(8, "0", 30) == pytest.approx(0.5 * 5.0)  # below it: the backoff stands
    assert policy.delay(0, "3", 1.25) == 1.25
    assert policy.delay(0, None, -1) == 0.0
    assert policy.delay(0, "garbage", 30) == pytest.approx(0.05)


def test_retry_after_reads_seconds_and_http_dates() -> None:
    now = datetime(2025, 3, 1, 12, 0, 0, tzinfo=UTC)
    later = format_datetime(now + timedelta(seconds=90), usegmt=True)
    earlier = format_datetime(now - timedelta(seconds=90), usegmt=True)

    assert retry_after_seconds("120") == 120.0
    assert retry_after_seconds(" 7 ") == 7.0
    assert retry_after_seconds(later, now) == 90.0
    assert retry_after_seconds(earlier, now) == 0.0
    assert retry_after_seconds("Sat, 01 Mar 2025 12:00:30 -0000", now) == 30.0
    assert retry_after_seconds(None) is None
    assert retry_after_seconds("-5") is None
    assert retry_after_seconds("soon") is None
    assert retry_after_seconds("1.5") is None  # RFC 9110: whole seconds only


def test_a_policy_must_leave_time_to_try() -> None:
    with pytest.raises(ValueError):
        RetryPolicy(deadline_s=0)
    assert RetryPolicy(deadline_s=math.inf).delay(1, None, math.inf) <= 0.2


@pytest.mark.parametrize(
    ("method", "status", "retried"),
    [
        ("GET", 500, True),
        ("GET", 502, True),
        ("GET", 503, True),
        ("GET", 429, True),
        ("POST", 503, True),
        ("PUT", 429, True),
        ("POST", 500, False),  # it may have been done: doing it twice is not the client's call
        ("DELETE", 502, False),
        ("GET", 404, False),
        ("GET", 400, False),
        ("PUT", 409, False),
        ("PUT", 412, False),
        ("GET", 401, False),
    ],
)
def test_which_answers_are_retried(method: str, status: int, retried: bool) -> None:
    assert retries_status(method, status) is retried


def test_which_failures_are_retried() -> None:
    refused = httpx.ConnectError("refused")
    dropped = httpx.RemoteProtocolError("Server disconnected without sending a response.")

    assert retries_error("POST", refused) and retries_error("GET", refused)
    assert retries_error("PUT", httpx.ConnectTimeout("slow")) and retries_error(
        "PUT", httpx.PoolTimeout("busy")
    )
    assert retries_error("GET", dropped) and retries_error("GET", httpx.ReadTimeout("slow"))
    assert not retries_error("POST", dropped)  # it may have reached the service
    assert not retries_error("PUT", httpx.ReadTimeout("slow"))
    assert not retries_error("GET", httpx.UnsupportedProtocol("ftp"))


def _answer(status: int, retry_after: str | None = None) -> httpx.Response:
    headers = {} if retry_after is None else {"Retry-After": retry_after}
    return httpx.Response(status, json={"title": "T", "status": status}, headers=headers)


def test_attempts_back_off_until_the_deadline_then_give_up_with_the_last_error() -> None:
    clock = Clock()
    policy = RetryPolicy(deadline_s=1.0, first_backoff_s=0.1, max_backoff_s=0.4, random=lambda: 0.999)
    attempts = Attempts(policy, "GET", clock() + policy.deadline_s, clock=clock, path="/api/v1/x")

    waits = []
    with pytest.raises(ServiceUnreachable) as raised:
        while True:
            wait = attempts.after_response(_answer(503))
            assert wait is not None
            waits.append(wait)
            clock.now += wait

    assert waits == pytest.approx([0.0999, 0.1998, 0.3996], rel=1e-3)
    assert isinstance(raised.value.last_error, ServerError)
    assert "GET /api/v1/x" in str(raised.value)
    assert attempts.retries == 3


def test_a_429_beyond_the_deadline_is_raised_as_it_is_at_once() -> None:
    clock = Clock()
    reachability = Reachability()
    attempts = Attempts(RetryPolicy(deadline_s=5), "GET", clock() + 5, clock=clock, reachability=reachability)

    with pytest.raises(TooManyRequests) as raised:
        attempts.after_response(_answer(429, "60"))

    assert raised.value.retry_after == "60"
    assert attempts.retries == 0
    assert not reachability.down  # the service answered: it is the key that is too busy


def test_429s_until_the_deadline_end_as_too_many_requests() -> None:
    clock = Clock()
    policy = RetryPolicy(deadline_s=1.0, first_backoff_s=0.1, max_backoff_s=0.4, random=lambda: 0.999)
    attempts = Attempts(policy, "PUT", clock() + policy.deadline_s, clock=clock)

    with pytest.raises(TooManyRequests):
        while True:
            wait = attempts.after_response(_answer(429, "0"))
            assert wait is not None
            clock.now += wait

    assert attempts.retries == 3


def test_attempts_pass_answers_and_raise_client_errors_without_retrying() -> None:
    clock = Clock()
    attempts = Attempts(RetryPolicy(), "GET", clock() + 30, clock=clock)

    assert attempts.after_response(httpx.Response(200)) is None
    assert attempts.after_response(httpx.Response(304)) is None
    with pytest.raises(NotFound):
        attempts.after_response(_answer(404))
    assert attempts.retries == 0


def test_a_write_that_may_have_arrived_is_not_retried() -> None:
    clock = Clock()
    attempts = Attempts(RetryPolicy(), "POST", clock() + 30, clock=clock)

    assert attempts.after_error(httpx.ConnectError("refused")) >= 0
    with pytest.raises(ServiceUnreachable, match="a write may have reached the service"):
        attempts.after_error(httpx.ReadError("reset"))


def test_each_try_times_out_by_the_deadline_at_the_latest() -> None:
    clock = Clock()
    attempts = Attempts(RetryPolicy(), "GET", clock() + 3, clock=clock)

    assert attempts.timeout_s(10) == 3
    clock.now += 2.5
    assert attempts.timeout_s(10) == pytest.approx(0.5)
    assert attempts.timeout_s(0.2) == 0.2
    clock.now += 10
    assert attempts.timeout_s(10) > 0  # httpx takes no zero or negative timeouts


def _give_up(attempts: Attempts, clock: Clock, failure: httpx.Response | httpx.TransportError) -> None:
    """Fail every try of `attempts` with `failure`, until it gives up."""
    with pytest.raises(ServiceUnreachable):
        while True:
            if isinstance(failure, httpx.Response):
                wait = attempts.after_response(failure)
                assert wait is not None
            else:
                wait = attempts.after_error(failure)
            clock.now += wait


def test_while_down_only_a_read_with_a_copy_to_fall_back_to_is_tried_once() -> None:
    clock = Clock()
    reachability = Reachability()
    policy = RetryPolicy(deadline_s=1)

    def attempts(method: str, *, fallback: bool) -> Attempts:
        return Attempts(
            policy, method, clock() + 1, clock=clock, reachability=reachability, fallback=fallback
        )

    _give_up(attempts("GET", fallback=False), clock, httpx.ConnectError("refused"))
    assert reachability.down

    with pytest.raises(ServiceUnreachable, match="tried once"):
        attempts("GET", fallback=True).after_error(httpx.ConnectError("refused"))
    # Nothing to fall back to: a write, or a read without a copy, is as patient as ever.
    assert attempts("PUT", fallback=False).after_response(_answer(503, "0")) is not None
    assert attempts("GET", fallback=False).after_error(httpx.ConnectError("refused")) >= 0
    # A 429 is the service answering: patient, and no longer down.
    assert attempts("GET", fallback=True).after_response(_answer(429, "0")) is not None
    assert not reachability.down


def test_an_answer_ends_it() -> None:
    clock = Clock()
    reachability = Reachability()
    _give_up(
        Attempts(RetryPolicy(deadline_s=1), "GET", clock() + 1, clock=clock, reachability=reachability),
        clock,
        httpx.ConnectError("refused"),
    )

    with pytest.raises(NotFound):
        Attempts(RetryPolicy(), "GET", clock() + 30, clock=clock, reachability=reachability).after_response(
            _answer(404)
        )

    assert not reachability.down
    patient = Attempts(
        RetryPolicy(), "GET", clock() + 30, clock=clock, reachability=reachability, fallback=True
    )
    assert patient.after_error(httpx.ConnectError("refused")) >= 0


def test_what_says_the_service_is_down_and_what_does_not() -> None:
    clock = Clock()
    policy = RetryPolicy(deadline_s=1)

    def down_after(method: str, failure: httpx.Response | httpx.TransportError) -> bool:
        reachability = Reachability()
        attempts = Attempts(policy, method, clock() + 1, clock=clock, reachability=reachability)
        _give_up(attempts, clock, failure)
        return reachability.down

    assert down_after("GET", httpx.ConnectError("refused"))
    assert down_after("GET", _answer(503, "0"))  # up, but its database is not: nothing to read
    # A write cut off after it was sent: the service may have done it, and may well be up.
    assert not down_after("POST", httpx.ReadError("reset"))
    reachability = Reachability()
    with pytest.raises(TooManyRequests):
        Attempts(policy, "GET", clock() + 1, clock=clock, reachability=reachability).after_response(
            _answer(429, "3600")
        )
    assert not reachability.down
