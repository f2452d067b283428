"""When to try a request again, and how long to wait first: exponential backoff with full
jitter, the server's Retry-After, and one deadline for everything a call does.

Pure decisions, no I/O: the sync and async clients each wrap them in a loop of a few lines.
"""

import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import httpx

from .errors import ProblemError, ServiceUnreachable, TooManyRequests, problem_error

logger = logging.getLogger(__name__)

# Reads change nothing, so any failure may be tried again.
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# Answers that promise the request was refused before anything was done: safe for writes too.
REFUSED_UNDONE = frozenset({429, 503})
# Failures before the request left: the server cannot have acted on it.
NEVER_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
# Too little time left to be worth another try.
_NO_TIME_S = 0.001


@dataclass(frozen=True)
class RetryPolicy:
    """`deadline_s` bounds a whole call, every retry and wait included (math.inf: never give
    up, as a watch does). Backoff before retry n (0-based) is uniform in
    [0, min(max_backoff_s, first_backoff_s * 2**n)]: "full jitter", so that clients that
    failed together do not come back together."""

    deadline_s: float = 30.0
    first_backoff_s: float = 0.1
    max_backoff_s: float = 5.0
    # The source of jitter, in [0, 1); swappable so that tests can pin it.
    random: Callable[[], float] = field(default=random.random, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.deadline_s <= 0 or self.first_backoff_s < 0 or self.max_backoff_s < 0:
            raise ValueError("RetryPolicy: the deadline must be positive and backoffs not negative")

    def backoff_cap(self, attempt: int) -> float:
        """The longest backoff before retry `attempt` (0 for the first retry)."""
        if attempt >= 64:  # 2**attempt would only overflow into the cap anyway
            return self.max_backoff_s
        return min(self.max_backoff_s, self.first_backoff_s * (1 << max(attempt, 0)))

    def delay(self, attempt: int, retry_after: str | None, remaining_s: float) -> float:
        """Seconds to wait before retry `attempt`: jittered backoff, at least what Retry-After
        asks, never beyond the `remaining_s` of the deadline."""
        wait = self.random() * self.backoff_cap(attempt)
        asked = retry_after_seconds(retry_after)
        if asked is not None:
            wait = max(wait, asked)
        return max(0.0, min(wait, remaining_s))


def retry_after_seconds(value: str | None, now: datetime | None = None) -> float | None:
    """Retry-After as seconds from now: either delta-seconds or an HTTP-date (RFC 9110
    10.2.3). None when absent or unreadable; never negative."""
    if value is None:
        return None
    text = value.strip()
    if text.isascii() and text.isdigit():
        return float(text)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # an HTTP-date is GMT; "-0000" parses as naive
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def retries_status(method: str, status: int) -> bool:
    """Whether an answer with `status` to a `method` request is worth trying again. A 4xx
    is the caller's to fix, except 429; a write that failed with a 5xx other than 503 may
    have been done, and doing it twice is not ours to decide."""
    if status in REFUSED_UNDONE:
        return True
    return status >= 500 and method.upper() in SAFE_METHODS


def retries_error(method: str, error: httpx.TransportError) -> bool:
    """Whether a request that failed with `error` (no answer) is worth trying again."""
    if isinstance(error, NEVER_SENT):
        return True
    if isinstance(error, httpx.UnsupportedProtocol | httpx.LocalProtocolError | httpx.ProxyError):
        return False  # ours or the configuration's to fix: trying again changes nothing
    return method.upper() in SAFE_METHODS


class Reachability:
    """Whether the service answered the last request a client tried. While it did not, a read
    with a last-known-good copy to fall back to is tried once rather than for a whole
    deadline: a start-up that reads several configurations while the service is down falls
    back to their copies within one deadline, not one each. Nothing else is hurried (writes,
    reads with nothing to fall back to): one blip must not leave a long-running process
    without retries.

    Down means no usable answer for a whole call: connections failing, or 5xx answers (the
    service up but its database not). A 429 is an answer about the key, not the service; a
    write not retried may well have reached it. The first answer of the service's own (below
    500) ends it."""

    def __init__(self) -> None:
        self.down = False


class Attempts:
    """The tries of one request, within the deadline of the call it belongs to. After each
    failure it says how long to wait, or raises what the caller gets; it tells
    `reachability` whether the service answered in the end. `fallback`: the caller has a
    last-known-good copy to serve if this fails, so while the service is down one try will do."""

    def __init__(
        self,
        policy: RetryPolicy,
        method: str,
        deadline_at: float,
        *,
        target: str = "Config Service",
        path: str = "",
        reachability: Reachability | None = None,
        fallback: bool = False,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._policy = policy
        self._method = method.upper()
        self._deadline_at = deadline_at
        self._target = target
        self._request = f"{self._method} {path}".rstrip()
        self._reachability = reachability or Reachability()
        # Hurried only with a copy to serve instead: anything else the caller would lose.
        self._patient = not (fallback and self._reachability.down)
        self._clock = clock
        self.retries = 0

    def remaining_s(self) -> float:
        return self._deadline_at - self._clock()

    def timeout_s(self, timeout_s: float) -> float:
        """The timeout for the next try: the client's, cut short by the deadline."""
        return max(_NO_TIME_S, min(timeout_s, self.remaining_s()))

    def after_response(self, response: httpx.Response) -> float | None:
        """None when `response` is the answer (2xx, 3xx); else the wait before the next try.
        Raises the ProblemError of an answer not worth retrying, or ServiceUnreachable."""
        if response.status_code < 500:  # the service's own answer, if not a happy one: it is up
            self._reachability.down = False
            self._patient = True
        if response.status_code < 400:
            return None
        error = problem_error(response)
        if not retries_status(self._method, response.status_code):
            raise error
        return self._wait(error, error.retry_after)

    def after_error(self, error: httpx.TransportError) -> float:
        """The wait before trying again after `error`; raises ServiceUnreachable when not."""
        if not retries_error(self._method, error):
            # Says nothing of the service: the write may have reached it, or the fault is ours.
            write = self._method not in SAFE_METHODS
            why = "not retried: a write may have reached the service" if write else "not worth retrying"
            raise self._unreachable(error, why, down=False)
        return self._wait(error, None)

    def _wait(self, error: ProblemError | httpx.TransportError, retry_after: str | None) -> float:
        if not self._patient:
            raise self._unreachable(error, "tried once: it was unreachable at the call before too")
        remaining = self.remaining_s()
        wait = self._policy.delay(self.retries, retry_after, remaining)
        if remaining - wait <= _NO_TIME_S:
            if isinstance(error, TooManyRequests):
                # The service answered: the key is over its rate. Not an outage to ride out
                # with a stale copy, and not the service's to fix.
                raise error
            raise self._unreachable(error, f"gave up after {self.retries + 1} tries within the deadline")
        self.retries += 1
        logger.debug("Retrying %s in %.3f s, after %s", self._request, wait, _described(error))
        return wait

    def _unreachable(
        self, error: ProblemError | httpx.TransportError, why: str, *, down: bool = True
    ) -> ServiceUnreachable:
        if down:
            self._reachability.down = True
        message = f"{self._target} did not answer {self._request}: {_described(error)} ({why})"
        return ServiceUnreachable(message, error)


def _described(error: ProblemError | httpx.TransportError) -> str:
    if isinstance(error, ProblemError):
        return f"{error.status} {error}"
    return f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
