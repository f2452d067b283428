"""Token buckets, kept per process: per key for requests, per client address for failed
authentication. With N processes a caller gets at most N times the rate (README)."""

import math
import time
from dataclasses import dataclass

# Buckets not used for this long are full again anyway, and are forgotten.
IDLE_FORGET_S = 300.0
SWEEP_EVERY = 10_000


@dataclass(frozen=True)
class Decision:
    allowed: bool
    limit: int  # requests per second
    burst: int  # most requests at once, from a full bucket
    remaining: int  # whole tokens left after this request
    reset_s: int  # seconds until the bucket is full again
    retry_after_s: int  # seconds until one request will be let through (when refused)


class TokenBucket:
    """`rate` tokens a second, holding at most `burst`; a request takes one."""

    __slots__ = ("burst", "rate", "tokens", "updated")

    def __init__(self, rate: float, burst: float, now: float) -> None:
        self.rate = rate
        self.burst = burst
        self.tokens = burst
        self.updated = now

    def take(self, now: float) -> bool:
        self.tokens = min(self.burst, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        return False


class RateLimiter:
    """A bucket per caller, each with a burst of twice its rate."""

    def __init__(self, burst_factor: float = 2.0) -> None:
        self._burst_factor = burst_factor
        self._buckets: dict[str, TokenBucket] = {}
        self._since_sweep = 0

    def check(self, caller: str, rate: int) -> Decision:
        now = time.monotonic()
        bucket = self._buckets.get(caller)
        if bucket is None or bucket.rate != rate:  # a changed limit starts afresh
            self._sweep(now)
            bucket = self._buckets[caller] = TokenBucket(rate, rate * self._burst_factor, now)
        allowed = bucket.take(now)
        missing = bucket.burst - bucket.tokens
        return Decision(
            allowed=allowed,
            limit=rate,
            burst=int(bucket.burst),
            remaining=int(bucket.tokens),
            reset_s=math.ceil(missing / rate),
            retry_after_s=0 if allowed else max(1, math.ceil((1 - bucket.tokens) / rate)),
        )

    def take(self, caller: str, rate: int) -> TokenBucket | None:
        """A lean check() for the fast read path: the caller's bucket with a token taken from
        it, as check() would have taken it, and no Decision made (its fields can be read off
        the bucket); None when it has none to give, and then nothing is taken."""
        bucket = self._buckets.get(caller)
        if bucket is None or bucket.rate != rate:
            return self._buckets[caller] if self.check(caller, rate).allowed else None  # makes it
        return bucket if bucket.take(time.monotonic()) else None

    def exhausted(self, caller: str, rate: int) -> bool:
        """Whether the caller has nothing left now, without taking anything."""
        bucket = self._buckets.get(caller)
        if bucket is None:
            return False
        now = time.monotonic()
        return min(bucket.burst, bucket.tokens + (now - bucket.updated) * bucket.rate) < 1

    def refused(self, caller: str, rate: int) -> bool:
        """Count one event against the caller (a failed authentication); True once beyond
        its rate."""
        return not self.check(caller, rate).allowed

    def _sweep(self, now: float) -> None:
        self._since_sweep += 1
        if self._since_sweep < SWEEP_EVERY:
            return
        self._since_sweep = 0
        self._buckets = {k: b for k, b in self._buckets.items() if now - b.updated < IDLE_FORGET_S}
