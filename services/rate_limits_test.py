from unittest import mock

from services.rate_limits import RateLimiter, TokenBucket


def test_a_bucket_allows_its_burst_then_refills_at_its_rate():
    bucket = TokenBucket(rate=10, burst=20, now=0.0)
    assert all(bucket.take(0.0) for _ in range(20))
    assert not bucket.take(0.0)
    assert bucket.take(0.1)  # one token back after a tenth of a second
    assert not bucket.take(0.1)


def test_a_bucket_never_holds_more_than_its_burst():
    bucket = TokenBucket(rate=10, burst=20, now=0.0)
    assert sum(bucket.take(1000.0) for _ in range(30)) == 20


def test_the_limiter_reports_what_is_left_and_when_to_come_back():
    limiter = RateLimiter()
    with mock.patch("services.rate_limits.time.monotonic", return_value=100.0):
        decisions = [limiter.check("key", 2) for _ in range(5)]
    assert [d.allowed for d in decisions] == [True, True, True, True, False]
    assert [d.remaining for d in decisions[:4]] == [3, 2, 1, 0]
    assert decisions[0].limit == 2
    assert decisions[3].reset_s == 2  # four tokens missing at two a second
    assert decisions[4].retry_after_s == 1


def test_callers_have_buckets_of_their_own():
    limiter = RateLimiter()
    with mock.patch("services.rate_limits.time.monotonic", return_value=5.0):
        assert all(limiter.check("a", 1).allowed for _ in range(2))
        assert not limiter.check("a", 1).allowed
        assert limiter.check("b", 1).allowed


def test_a_changed_rate_starts_a_fresh_bucket():
    limiter = RateLimiter()
    with mock.patch("services.rate_limits.time.monotonic", return_value=5.0):
        for _ in range(2):
            limiter.check("a", 1)
        assert not limiter.check("a", 1).allowed
        assert limiter.check("a", 50).allowed


def test_exhausted_looks_without_taking():
    limiter = RateLimiter()
    with mock.patch("services.rate_limits.time.monotonic", return_value=5.0):
        assert not limiter.exhausted("ip", 1)
        assert not limiter.refused("ip", 1)
        assert not limiter.refused("ip", 1)
        assert limiter.exhausted("ip", 1)
        assert limiter.exhausted("ip", 1)  # looking took nothing, and gave nothing back
        assert limiter.refused("ip", 1)
    with mock.patch("services.rate_limits.time.monotonic", return_value=6.0):
        assert not limiter.exhausted("ip", 1)


def test_idle_buckets_are_forgotten(monkeypatch):
    monkeypatch.setattr("services.rate_limits.SWEEP_EVERY", 1)
    limiter = RateLimiter()
    with mock.patch("services.rate_limits.time.monotonic", return_value=0.0):
        limiter.check("old", 1)
    with mock.patch("services.rate_limits.time.monotonic", return_value=10_000.0):
        limiter.check("new", 1)
    assert set(limiter._buckets) == {"new"}


def test_take_takes_as_check_does_and_nothing_when_refused():
    limiter = RateLimiter()
    with mock.patch("services.rate_limits.time.monotonic", return_value=5.0):
        first = limiter.take("key", 1)  # makes the bucket: burst 2
        assert first is not None and first.tokens == 1
        assert limiter.take("key", 1) is first
        assert limiter.take("key", 1) is None
        assert first.tokens < 1  # nothing was taken by the refusal
        assert not limiter.check("key", 1).allowed
    with mock.patch("services.rate_limits.time.monotonic", return_value=6.0):
        assert limiter.take("key", 1) is first
