"""Time for the resilience primitives: one injectable clock and a test mode without sleeping.

Every primitive reads time through a ``Clock`` (``time.monotonic`` unless given one), so its
state machine can be tested by moving a fake clock instead of waiting. ``set_testing(True)``
makes every retry back-off and half-open wait return at once, for users' own test suites
(stamina's habit): behaviour stays the same, only the waiting is skipped.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from datetime import timedelta

from slokit.errors import UsageError

__all__ = ["Clock", "asleep", "is_testing", "seconds", "set_testing", "sleep"]

Clock = Callable[[], float]
"""Seconds from any fixed origin, never going backwards (``time.monotonic``)."""

_lock = threading.Lock()
_testing = False


def set_testing(testing: bool) -> None:
    """Switch off real sleeping in retries and waits (for test suites)."""
    global _testing
    with _lock:
        _testing = bool(testing)


def is_testing() -> bool:
    return _testing


def sleep(delay: float) -> None:
    if delay > 0 and not _testing:
        time.sleep(delay)


async def asleep(delay: float) -> None:
    if delay > 0 and not _testing:
        await asyncio.sleep(delay)
    else:
        await asyncio.sleep(0)  # still a scheduling point, as callers expect from an await


def seconds(name: str, value: float | timedelta | None, *, allow_none: bool = False) -> float:
    """An option given as seconds or a timedelta, checked: UsageError names the option."""
    if value is None:
        if allow_none:
            return float("inf")
        raise UsageError(f"{name} is required: give seconds (0.5) or a timedelta")
    if isinstance(value, timedelta):
        value = value.total_seconds()
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise UsageError(f"{name} must be seconds (a number) or a timedelta, got {value!r}")
    if value < 0 or value != value:
        raise UsageError(f"{name} must be zero or more seconds, got {value!r}")
    return float(value)
