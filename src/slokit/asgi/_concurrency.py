"""Concurrency limits for load shedding: a fixed limit and a Gradient2-style adaptive one.

With a latency target (the tightest latency SLO) the adaptive limit sheds only when that
target is really missed; without one it follows Gradient2, which sheds as soon as latency
rises well above its own long-term level. Both run on one asyncio event loop and take no
locks. A request calls :meth:`acquire` (or :meth:`try_acquire` when it must not wait) and,
if admitted, exactly one :meth:`~ConcurrencyLimiter.release` when it is done. Requests over
the limit wait in a FIFO queue for at most ``queue_timeout`` seconds and are then rejected;
the caller answers 503.

A freed slot is handed straight to the first waiter (``in_flight`` is counted for it
before it even resumes), so a request arriving later can never overtake one already
queued: while anybody waits, ``in_flight >= limit`` holds and the fast path says no.
"""

from __future__ import annotations

import asyncio
import math
import sys
import time
from collections import deque
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass

from slokit.errors import UsageError

__all__ = ["AdaptiveLimiter", "ConcurrencyLimiter", "LimiterStats"]

_INF = math.inf

MIN_WINDOW_SAMPLES = 10
"""Samples a window needs before it may close: one slow request is not a trend."""

WARMUP_WINDOWS = 10
"""Windows averaged plainly before long RTT becomes an exponential average."""

LONG_RTT_DRIFT = 2.0
"""``long_rtt / short_rtt`` above which long RTT is decayed: load dropped, catch up."""

LONG_RTT_DECAY = 0.95
"""Factor applied to long RTT per window while it drifts above short RTT."""


@dataclass(frozen=True, slots=True)
class LimiterStats:
    """One consistent reading of a limiter."""

    limit: int
    """The limit in force now."""
    in_flight: int
    """Requests admitted and not yet released."""
    queued: int
    """Requests waiting for a slot."""
    admitted: int
    """Calls that returned True, since the limiter was made."""
    rejected: int
    """Calls that returned False, since the limiter was made."""


class ConcurrencyLimiter:
    """A fixed limit: at most ``limit`` requests in flight; others wait in a FIFO queue for
    at most ``queue_timeout`` seconds (0 = no waiting), then are rejected.

    ``max_queue`` caps how many may wait at once (``None``: no cap beyond the timeout);
    a request that finds the queue full is rejected at once.
    """

    __slots__ = (
        "_admitted",
        "_in_flight",
        "_limit",
        "_queue_cap",
        "_queue_timeout",
        "_rejected",
        "_waiters",
    )

    def __init__(
        self, limit: int, *, queue_timeout: float = 0.0, max_queue: int | None = None
    ) -> None:
        _check_limiter_args(limit, queue_timeout, max_queue)
        self._limit = limit
        self._in_flight = 0
        self._admitted = 0
        self._rejected = 0
        self._queue_timeout = queue_timeout
        # One comparison on the slow path covers both "no waiting" and "queue full".
        if queue_timeout == 0:
            self._queue_cap = 0
        else:
            self._queue_cap = sys.maxsize if max_queue is None else max_queue
        self._waiters: deque[asyncio.Future[bool]] = deque()

    @property
    def limit(self) -> int:
        return self._limit

    def try_acquire(self) -> bool:
        """Admit now if under the limit; never waits. False counts as a rejection."""
        if self._in_flight < self._limit:
            self._in_flight += 1
            self._admitted += 1
            return True
        self._rejected += 1
        return False

    def try_enter(self) -> bool:
        """The fast path of :meth:`acquire`: admit now if under the limit, else False
        without counting a rejection (the caller goes on to ``await acquire()``)."""
        if self._in_flight < self._limit:
            self._in_flight += 1
            self._admitted += 1
            return True
        return False

    async def acquire(self) -> bool:
        """Admit now, or wait in FIFO order up to ``queue_timeout``; False means rejected."""
        # The fast path is repeated rather than calling try_acquire(): a failed attempt
        # must not count as a rejection when the request then waits.
        if self._in_flight < self._limit:
            self._in_flight += 1
            self._admitted += 1
            return True
        if len(self._waiters) >= self._queue_cap:
            self._rejected += 1
            return False
        return await self._wait()

    def release(self, latency: float, dropped: bool = False) -> None:
        """A request admitted earlier is done; ``latency`` is its duration in seconds.

        ``dropped=True`` marks a request that was not served normally; the fixed limit
        ignores both arguments, the adaptive one samples only served requests.
        """
        in_flight = self._in_flight
        if in_flight <= 0:
            raise RuntimeError("release() without a matching successful acquire()")
        self._in_flight = in_flight - 1
        if self._waiters:
            self._wake()

    def statistics(self) -> LimiterStats:
        # Cancelled waiters stay queued until their task runs its cleanup: not counted.
        queued = sum(1 for waiter in self._waiters if not waiter.done())
        return LimiterStats(
            limit=self._limit,
            in_flight=self._in_flight,
            queued=queued,
            admitted=self._admitted,
            rejected=self._rejected,
        )

    # -- slow paths ----------------------------------------------------------------------

    async def _wait(self) -> bool:
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[bool] = loop.create_future()
        self._waiters.append(waiter)
        timer = loop.call_later(self._queue_timeout, self._expire, waiter)
        try:
            admitted = await waiter
        except BaseException:
            self._abandon(waiter)
            raise
        finally:
            timer.cancel()
        if admitted:
            self._admitted += 1
        else:
            self._rejected += 1
        return admitted

    def _wake(self) -> None:
        """Hand free slots to the first waiters; a shrunken limit simply admits nobody."""
        waiters = self._waiters
        while waiters and self._in_flight < self._limit:
            waiter = waiters.popleft()
            if waiter.done():
                continue  # cancelled; its task has not run its cleanup yet
            self._in_flight += 1
            waiter.set_result(True)

    def _expire(self, waiter: asyncio.Future[bool]) -> None:
        # A pending waiter is always still in the queue: granting and expiring both
        # take it out and resolve it in the same step.
        if not waiter.done():
            self._waiters.remove(waiter)
            waiter.set_result(False)

    def _abandon(self, waiter: asyncio.Future[bool]) -> None:
        """The waiting task was cancelled: leave no queue entry and no slot behind."""
        if waiter.cancelled() or not waiter.done():
            with suppress(ValueError):  # _wake() may already have skipped and dropped it
                self._waiters.remove(waiter)
            waiter.cancel()
        elif waiter.result():
            # Granted a slot just before the cancellation landed: pass the slot on.
            self._in_flight -= 1
            if self._waiters:
                self._wake()


class AdaptiveLimiter(ConcurrencyLimiter):
    """Gradient2-style adaptive limit (Netflix concurrency-limits), driven by latency.

    Samples are the latencies passed to :meth:`release` (not ``dropped``, finite, >= 0).
    They are grouped in windows of at least ``sample_window`` seconds of the injected
    ``clock`` *and* at least ``MIN_WINDOW_SAMPLES`` samples; when a window closes:

    - ``short_rtt`` = mean latency of the window;
    - ``long_rtt``: plain average of the first ``WARMUP_WINDOWS`` short RTTs, then an
      exponential average with factor ``2 / (long_window + 1)`` (``long_window`` counts
      windows); if ``long_rtt / short_rtt > 2`` it is multiplied by 0.95 (load dropped);
    - if the peak ``in_flight`` seen in the window is below ``limit / 2`` the limit is kept
      (the service is not using it, so latency says nothing about a bigger one);
    - ``gradient = clamp(tolerance * long_rtt / short_rtt, 0.5, 1.0)``;
    - ``new = limit * gradient + sqrt(limit)``;
    - ``limit = clamp(limit * (1 - smoothing) + new * smoothing, min_limit, max_limit)``.

    With ``target`` (seconds) and ``target_share`` (say 0.99 for "99 % within 300 ms", a
    latency SLO) the rule is the SLO's instead, and latency that rises but stays within the
    target never sheds anything:

    - the limit starts at ``max_limit``: nothing is refused before latency says so;
    - a window whose share of samples over ``target`` exceeds ``1 - target_share`` cuts the
      limit to ``peak * clamp(1 - excess, 0.5, 1)`` (``excess`` = that share minus the
      budget), never above the limit in force;
    - any other window whose peak used at least half the limit grows it by ``sqrt(limit)``.

    The limit is kept as a float; the admission limit is its integer part.
    """

    __slots__ = (
        "_budget",
        "_clock",
        "_estimate",
        "_long_count",
        "_long_factor",
        "_long_rtt",
        "_max_limit",
        "_min_limit",
        "_sample_window",
        "_smoothing",
        "_target",
        "_tolerance",
        "_window_count",
        "_window_end",
        "_window_peak",
        "_window_slow",
        "_window_sum",
    )

    def __init__(
        self,
        *,
        initial_limit: int = 20,
        min_limit: int = 4,
        max_limit: int = 1000,
        smoothing: float = 0.2,
        tolerance: float = 1.5,
        long_window: int = 600,
        sample_window: float = 0.1,
        queue_timeout: float = 0.05,
        max_queue: int | None = None,
        target: float | None = None,
        target_share: float = 0.99,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        _check_adaptive_args(
            initial_limit, min_limit, max_limit, smoothing, tolerance, long_window, sample_window
        )
        _check_target(target, target_share)
        if target is not None:
            initial_limit = max_limit  # shed nothing until the target is missed
        super().__init__(initial_limit, queue_timeout=queue_timeout, max_queue=max_queue)
        self._target = _INF if target is None else target
        self._budget = -1.0 if target is None else 1.0 - target_share
        self._estimate = float(initial_limit)
        self._min_limit = min_limit
        self._max_limit = max_limit
        self._smoothing = smoothing
        self._tolerance = tolerance
        self._long_factor = 2.0 / (long_window + 1)
        self._long_rtt = 0.0
        self._long_count = 0
        self._sample_window = sample_window
        self._clock = clock
        self._window_sum = 0.0
        self._window_count = 0
        self._window_peak = 0
        self._window_slow = 0
        self._window_end = clock() + sample_window

    @property
    def target(self) -> float | None:
        """The latency target in seconds, or None for Gradient2."""
        return None if self._target == _INF else self._target

    def release(self, latency: float, dropped: bool = False) -> None:
        in_flight = self._in_flight
        if in_flight <= 0:
            raise RuntimeError("release() without a matching successful acquire()")
        self._in_flight = in_flight - 1
        # Sampling is inlined: this runs on every request. The chained comparison also
        # turns away NaN and infinity, which would poison the averages for good.
        if not dropped and 0.0 <= latency < _INF:
            self._window_sum += latency
            if latency > self._target:
                self._window_slow += 1
            count = self._window_count + 1
            self._window_count = count
            if in_flight > self._window_peak:
                self._window_peak = in_flight
            # The clock is read only once the window has enough samples to close.
            if count >= MIN_WINDOW_SAMPLES:
                now = self._clock()
                if now >= self._window_end:
                    self._close_window(now)
        if self._waiters:
            self._wake()

    # -- the algorithm (once per window) -------------------------------------------------

    def _close_window(self, now: float) -> None:
        count = self._window_count
        short_rtt = self._window_sum / count
        peak = self._window_peak
        slow = self._window_slow
        self._window_sum = 0.0
        self._window_count = self._window_slow = 0
        self._window_peak = 0
        self._window_end = now + self._sample_window
        if self._budget >= 0.0:
            self._set_estimate(self._next_targeted(slow / count, peak))
            return
        long_rtt = self._update_long_rtt(short_rtt)
        if peak < self._estimate / 2:
            return
        self._set_estimate(self._next_estimate(long_rtt, short_rtt))

    def _update_long_rtt(self, short_rtt: float) -> float:
        if self._long_count < WARMUP_WINDOWS:
            self._long_count += 1
            long_rtt = self._long_rtt + (short_rtt - self._long_rtt) / self._long_count
        else:
            long_rtt = self._long_rtt + (short_rtt - self._long_rtt) * self._long_factor
        # After a long overload long RTT sits far above today's latency; the slow average
        # would keep the limit low for minutes, so pull it down faster.
        if long_rtt > LONG_RTT_DRIFT * short_rtt:
            long_rtt *= LONG_RTT_DECAY
        self._long_rtt = long_rtt
        return long_rtt

    def _next_estimate(self, long_rtt: float, short_rtt: float) -> float:
        estimate = self._estimate
        if short_rtt > 0.0:
            # Floor at 0.5 so one burst of outliers cannot halve the limit in one go.
            gradient = max(0.5, min(1.0, self._tolerance * long_rtt / short_rtt))
        else:
            gradient = 1.0  # all-zero latencies (coarse timer): no sign of queueing
        target = estimate * gradient + math.sqrt(estimate)
        smoothed = estimate * (1.0 - self._smoothing) + target * self._smoothing
        return max(float(self._min_limit), min(float(self._max_limit), smoothed))

    def _next_targeted(self, slow_share: float, peak: int) -> float:
        estimate = self._estimate
        excess = slow_share - self._budget
        if excess > 0.0:
            # Cut from what was really in flight, not from a limit the load never reached.
            cut = peak * max(0.5, min(1.0, 1.0 - excess))
            return max(float(self._min_limit), min(estimate, cut))
        if peak < estimate / 2:
            return estimate  # latency at a fraction of the limit says nothing about more
        return min(float(self._max_limit), estimate + math.sqrt(estimate))

    def _set_estimate(self, estimate: float) -> None:
        self._estimate = estimate
        self._limit = int(estimate)


def _check_limiter_args(limit: int, queue_timeout: float, max_queue: int | None) -> None:
    if limit < 1:
        raise UsageError(f"a concurrency limit must be at least 1, got {limit}")
    if not 0.0 <= queue_timeout < _INF:
        raise UsageError(f"queue_timeout must be a finite number >= 0 seconds, got {queue_timeout}")
    if max_queue is not None and max_queue < 0:
        raise UsageError(f"max_queue must be >= 0 or None, got {max_queue}")


def _check_target(target: float | None, share: float) -> None:
    if target is not None and not 0.0 < target < _INF:
        raise UsageError(f"a latency target must be a finite number of seconds > 0, got {target}")
    if not 0.0 < share < 1.0:
        raise UsageError(f"target_share must be between 0 and 1 (0.99 = 99 %), got {share}")


def _check_adaptive_args(
    initial_limit: int,
    min_limit: int,
    max_limit: int,
    smoothing: float,
    tolerance: float,
    long_window: int,
    sample_window: float,
) -> None:
    if not 1 <= min_limit <= initial_limit <= max_limit:
        raise UsageError(
            "adaptive limits need 1 <= min_limit <= initial_limit <= max_limit, got "
            f"min_limit={min_limit}, initial_limit={initial_limit}, max_limit={max_limit}"
        )
    if not 0.0 < smoothing <= 1.0:
        raise UsageError(f"smoothing must be in (0, 1], got {smoothing}")
    if not 1.0 <= tolerance < _INF:
        raise UsageError(f"tolerance must be a finite number >= 1, got {tolerance}")
    if long_window < 1:
        raise UsageError(f"long_window must be at least 1 window, got {long_window}")
    if not 0.0 < sample_window < _INF:
        raise UsageError(
            f"sample_window must be a finite number of seconds > 0, got {sample_window}"
        )
