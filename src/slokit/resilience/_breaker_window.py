"""Private helpers of the circuit breaker: its sliding windows and its option checks.

The windows count calls, failures and slow calls exactly. Both keep running totals, so
recording a call and reading the counts are O(1) (a time window that has been idle clears the
buckets it skips, at most ``size`` of them).

* :class:`CountWindow` is a ring of the last ``size`` outcomes.
* :class:`TimeWindow` is resilience4j's time-based aggregation: buckets of ``width`` seconds
  (1 s, or ``span / 100`` when that is shorter) numbered ``floor(t / width)``; a call recorded
  at ``t`` is in the window at ``now`` while ``floor(t / width) > floor(now / width) - size``.
  The counts are exactly what a list of every call's timestamp would give with that rule.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from slokit.errors import UsageError

__all__ = ["CountWindow", "TimeWindow", "Window", "fraction", "matcher", "whole"]


class Window:
    """Counts over the window; ``minimum`` calls are needed before the rates are judged."""

    __slots__ = ("calls", "failures", "minimum", "slow")

    def __init__(self, minimum: int) -> None:
        self.minimum = minimum
        self.calls = 0
        self.failures = 0
        self.slow = 0

    def record(self, now: float, failed: bool, slow: bool) -> None:
        raise NotImplementedError

    def refresh(self, now: float) -> None:
        """Drop what has aged out of the window by ``now`` (nothing, for a count window)."""

    def clear(self) -> None:
        raise NotImplementedError


class CountWindow(Window):
    """The last ``size`` recorded outcomes. ``minimum`` is capped at ``size`` (resilience4j)."""

    __slots__ = ("_pos", "_ring", "size")

    def __init__(self, size: int, minimum: int) -> None:
        super().__init__(min(minimum, size))
        self.size = size
        self._ring = [0] * size
        self._pos = 0

    def clear(self) -> None:
        self._ring = [0] * self.size
        self._pos = 0
        self.calls = self.failures = self.slow = 0

    def record(self, now: float, failed: bool, slow: bool) -> None:
        pos = self._pos
        ring = self._ring
        if self.calls == self.size:
            old = ring[pos]
            if old:
                self.failures -= old & 1
                self.slow -= old >> 1
        else:
            self.calls += 1
        if failed or slow:
            ring[pos] = failed + 2 * slow
            self.failures += failed
            self.slow += slow
        else:
            ring[pos] = 0
        pos += 1
        self._pos = 0 if pos == self.size else pos


class TimeWindow(Window):
    """Calls of the last ``span`` seconds, aggregated in ``size`` buckets of ``width`` s."""

    __slots__ = ("_calls", "_failures", "_head", "_slow", "size", "width")

    def __init__(self, span: float, minimum: int) -> None:
        super().__init__(minimum)
        self.width = min(1.0, span / 100)
        self.size = max(1, round(span / self.width))
        self._calls = [0] * self.size
        self._failures = [0] * self.size
        self._slow = [0] * self.size
        self._head: int | None = None  # number of the newest bucket

    def clear(self) -> None:
        self._calls = [0] * self.size
        self._failures = [0] * self.size
        self._slow = [0] * self.size
        self._head = None
        self.calls = self.failures = self.slow = 0

    def _advance(self, bucket: int) -> bool:
        """Make ``bucket`` current; False when it is already older than the window."""
        head = self._head
        size = self.size
        if head is None or bucket - head >= size:
            if self.calls:
                self.clear()
            self._head = bucket
            return True
        if bucket <= head:
            return head - bucket < size
        calls, failures, slow = self._calls, self._failures, self._slow
        for number in range(head + 1, bucket + 1):
            slot = number % size
            count = calls[slot]
            if count:
                self.calls -= count
                self.failures -= failures[slot]
                self.slow -= slow[slot]
                calls[slot] = failures[slot] = slow[slot] = 0
        self._head = bucket
        return True

    def refresh(self, now: float) -> None:
        self._advance(math.floor(now / self.width))

    def record(self, now: float, failed: bool, slow: bool) -> None:
        bucket = math.floor(now / self.width)
        if not self._advance(bucket):
            return  # older than the whole window (a clock that went backwards)
        slot = bucket % self.size
        self._calls[slot] += 1
        self.calls += 1
        if failed:
            self._failures[slot] += 1
            self.failures += 1
        if slow:
            self._slow[slot] += 1
            self.slow += 1


def whole(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise UsageError(f"{name} must be a whole number of 1 or more, got {value!r}")
    return value


def fraction(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value <= 1:
        raise UsageError(f"{name} must be above 0 and at most 1 (0.5 means 50 %), got {value!r}")
    return float(value)


def _never(exc: BaseException) -> bool:
    return False


def matcher(name: str, spec: object) -> Callable[[BaseException], bool]:
    if isinstance(spec, type) and issubclass(spec, BaseException):
        classes: tuple[type[BaseException], ...] = (spec,)
    elif isinstance(spec, tuple) and all(
        isinstance(c, type) and issubclass(c, BaseException) for c in spec
    ):
        classes = spec
    elif callable(spec) and not isinstance(spec, type):
        predicate: Callable[[BaseException], bool] = spec
        return predicate
    else:
        raise UsageError(
            f"{name} must be an exception class, a tuple of them, or a function taking the "
            f"exception and returning True when it matches; got {spec!r}"
        )
    if not classes:
        return _never

    def matches(exc: BaseException) -> bool:
        return isinstance(exc, classes)

    return matches
