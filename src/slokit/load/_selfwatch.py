"""The load generator watching itself: its CPU and its event loop's lag, second by second.

A latency measured by a generator whose loop was late carries that lateness; a rate made by a
generator at 100 % CPU is the generator's limit, not the target's. Both are measured in the
worker itself, at a cost of one 10 ms timer: the probe asks to wake in 10 ms and records how
much later than that it did. A loop saturated by responses wakes it late; a loop blocked by
a journey's synchronous call wakes it very late.
"""

from __future__ import annotations

import asyncio
from time import perf_counter, process_time

__all__ = ["PROBE_S", "SelfWatch"]

PROBE_S = 0.01


class SelfWatch:
    """Per-interval CPU share and worst loop lag of the process running :meth:`run`."""

    __slots__ = ("_cpu0", "_wall0", "_worst")

    def __init__(self) -> None:
        self._worst = 0.0
        self._cpu0 = process_time()
        self._wall0 = perf_counter()

    async def run(self) -> None:
        """Probe until cancelled."""
        while True:
            due = perf_counter() + PROBE_S
            await asyncio.sleep(PROBE_S)
            late = perf_counter() - due
            if late > self._worst:
                self._worst = late

    def take(self) -> tuple[float, float]:
        """(CPU share, worst loop lag in ms) since the last call; starts a new interval."""
        cpu, wall = process_time(), perf_counter()
        spent = wall - self._wall0
        share = (cpu - self._cpu0) / spent if spent > 0 else 0.0
        worst = self._worst * 1000.0
        self._cpu0, self._wall0, self._worst = cpu, wall, 0.0
        return round(share, 3), round(worst, 3)
