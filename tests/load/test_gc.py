"""The worker's paced collector: no automatic collection while the load runs, cycles still
freed on the worker's own clock, and the collector as it was afterwards."""

from __future__ import annotations

import gc
import weakref

from slokit.load._gc import FULL_EVERY, YOUNG_EVERY, PacedGC


class _Node:
    def __init__(self) -> None:
        self.me = self  # a cycle: only a collection frees it


def test_cycles_are_freed_on_the_ticks_and_the_collector_is_restored() -> None:
    assert gc.isenabled()
    with PacedGC() as paced:
        assert not gc.isenabled()
        node = _Node()
        ref = weakref.ref(node)
        del node
        for _ in range(YOUNG_EVERY - 1):
            paced.tick()
        assert ref() is not None  # not yet: nothing collects between the ticks
        paced.tick()
        assert ref() is None
        old = _Node()
        old_ref = weakref.ref(old)
        gc.collect(1)  # promoted to the oldest generation, as a long-lived user's state is
        del old
        for _ in range(FULL_EVERY - YOUNG_EVERY):
            paced.tick()
        assert old_ref() is None
    assert gc.isenabled()
    assert gc.get_freeze_count() == 0


def test_a_collector_switched_off_stays_off() -> None:
    gc.disable()
    try:
        with PacedGC():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()
