"""Waiting in tests for something to happen: poll for it, up to a generous deadline.

A fixed sleep ("by now it must have happened") fails whenever the machine is busy; a deadline
that only a real fault can reach fails only then, and costs nothing while things go well.
"""

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")

# Far beyond anything a busy 2-core machine needs; reached only when something is wrong.
DEADLINE_S = 30.0
POLL_EVERY_S = 0.01


def wait_until(condition: Callable[[], T], *, timeout_s: float = DEADLINE_S, what: str | None = None) -> T:
    """Call `condition` until it returns something true, and return that; fail after
    `timeout_s` with `what` (or the condition's name) as the reason."""
    deadline = time.monotonic() + timeout_s
    while not (result := condition()):
        if time.monotonic() > deadline:
            raise AssertionError(_not_within(condition, timeout_s, what))
        time.sleep(POLL_EVERY_S)
    return result


async def wait_until_async(
    condition: Callable[[], T | Awaitable[T]], *, timeout_s: float = DEADLINE_S, what: str | None = None
) -> T:
    """As wait_until, without blocking the event loop; `condition` may be a coroutine function."""
    deadline = time.monotonic() + timeout_s
    while True:
        result = condition()
        if inspect.isawaitable(result):
            result = await result
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(_not_within(condition, timeout_s, what))
        await asyncio.sleep(POLL_EVERY_S)


def _not_within(condition: Callable, timeout_s: float, what: str | None) -> str:
    return f"not within {timeout_s:g} s: {what or getattr(condition, '__name__', repr(condition))}"
