"""The worker's garbage collector, run on the worker's clock instead of the allocator's.

With tens of thousands of users thinking, every user's wake-up timer lives a second: long
enough for CPython's collector to promote it, so full collections came every few seconds and
each walked every user, connection and timer of the worker. With 25,000 users that stalled
the event loop for 300-450 ms each time (the self-watch saw it) and cost 15 % of the rate.

So while the load runs the automatic collector is off, and the worker collects itself: the
young generations every 5 s (their cost is the young objects alive, the users' timers, not
the time since the last one), everything once a minute (a cycle made during the run is freed
within a minute, so a soak does not leak). 50,000 users on 2 workers, alternated on one
machine: 38-43k req/s with the automatic collector, 43-47k with this.
What exists before the load starts is frozen: no collection walks it again.
"""

from __future__ import annotations

import gc
from types import TracebackType

__all__ = ["PacedGC"]

YOUNG_EVERY = 5
"""Seconds between collections of the young generations while the load runs."""
FULL_EVERY = 60
"""Seconds between full collections while the load runs."""


class PacedGC:
    """``with PacedGC() as paced:`` around the load, ``paced.tick()`` once a second."""

    __slots__ = ("_enabled", "_ticks")

    def __init__(self) -> None:
        self._enabled = False
        self._ticks = 0

    def __enter__(self) -> PacedGC:
        self._enabled = gc.isenabled()
        gc.collect()
        gc.freeze()
        gc.disable()
        return self

    def tick(self) -> None:
        self._ticks += 1
        if self._ticks % FULL_EVERY == 0:
            gc.collect()
        elif self._ticks % YOUNG_EVERY == 0:
            gc.collect(1)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        gc.unfreeze()
        if self._enabled:
            gc.enable()
