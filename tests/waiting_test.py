import itertools

import pytest

from tests.waiting import wait_until, wait_until_async


def test_it_returns_what_the_condition_gave_once_true():
    calls = itertools.count(1)
    assert wait_until(lambda: next(calls) >= 3 and "ready") == "ready"


def test_it_fails_naming_what_never_happened():
    with pytest.raises(AssertionError, match=r"not within 0\.05 s: the pool went quiet"):
        wait_until(lambda: False, timeout_s=0.05, what="the pool went quiet")


@pytest.mark.anyio
async def test_the_async_form_awaits_a_coroutine_condition():
    calls = itertools.count(1)

    async def third_time_lucky():
        return next(calls) >= 3

    def never_true():
        return 0

    assert await wait_until_async(third_time_lucky) is True
    with pytest.raises(AssertionError, match="never_true"):
        await wait_until_async(never_true, timeout_s=0.05)
