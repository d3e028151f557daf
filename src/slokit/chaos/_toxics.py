"""What each toxic does to the data of one direction of one connection.

A :class:`Stage` is one toxic attached to one direction of one live connection: it holds the
toxic's per-connection state and whether it applies at all (``toxicity`` is drawn per
connection, and drawn again when the toxic is updated, as Toxiproxy does). Every wait is
cut short when the toxic is updated or removed, so removing a latency toxic lets the data
it holds flow at once and no connection can pin a toxic in place.

Chunks carry the loop time at which they are due at the stage (their arrival time, or when
the stage before let them go), so a latency toxic delays each chunk from its arrival even
when earlier chunks kept the pipeline busy.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from typing import Protocol

from slokit.chaos._model import Toxic

__all__ = ["Emit", "Stage", "on_eof", "process"]

Emit = Callable[[float, bytes], Awaitable[None]]


class Controls(Protocol):
    """What a toxic may do to its whole connection."""

    def close(self) -> None: ...

    def reset(self) -> None: ...


def _applies(toxicity: float) -> bool:
    return toxicity >= 1.0 or random.random() < toxicity


class Stage:
    """One toxic on one direction of one connection."""

    def __init__(self, toxic: Toxic, controls: Controls) -> None:
        self.toxic = toxic
        self.controls = controls
        self.active = _applies(toxic.toxicity)
        self.removed = False
        self.state: dict[str, float] = {}
        self._changed = asyncio.Event()
        self._timer: asyncio.TimerHandle | None = None
        self._arm()

    @property
    def live(self) -> bool:
        """True while this toxic acts on this connection."""
        return self.active and not self.removed

    def update(self, toxic: Toxic) -> None:
        self.toxic = toxic
        self.active = _applies(toxic.toxicity)
        self._signal()
        self._arm()

    def remove(self) -> None:
        self.removed = True
        self._signal()
        self.stop()
        if self.toxic.type == "timeout" and self.active:
            # As Toxiproxy: the data it swallowed is gone, so the stream cannot carry on.
            self.controls.close()

    def stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    async def wait_until(self, due: float) -> bool:
        """Sleep until loop time ``due``: True when reached, False when the toxic changed first."""
        loop = asyncio.get_running_loop()
        changed = self._changed
        while (left := due - loop.time()) > 0:
            if changed.is_set():
                return False
            try:
                async with asyncio.timeout(left):
                    await changed.wait()
            except TimeoutError:
                continue
            return False
        return True

    def _signal(self) -> None:
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()

    def _arm(self) -> None:
        self.stop()
        ms = self.toxic.attributes.get("timeout", 0)
        if self.toxic.type == "timeout" and self.active and ms > 0:
            self._timer = asyncio.get_running_loop().call_later(ms / 1000, self.controls.close)


def _latency_delay(toxic: Toxic) -> float:
    delay = float(toxic.attributes["latency"])
    jitter = toxic.attributes["jitter"]
    if jitter:
        delay += random.uniform(-jitter, jitter)
    return max(delay, 0.0) / 1000


async def _latency(stage: Stage, due: float, data: bytes, emit: Emit) -> None:
    ready = due + _latency_delay(stage.toxic)
    while not await stage.wait_until(ready):
        if not stage.live:
            ready = asyncio.get_running_loop().time()
            break
        ready = due + _latency_delay(stage.toxic)
    await emit(ready, data)


async def _bandwidth(stage: Stage, due: float, data: bytes, emit: Emit) -> None:
    offset = 0
    while offset < len(data):
        rate = stage.toxic.attributes["rate"]  # KB/s: bytes per ms
        if not stage.live or rate <= 0:
            await emit(due, data[offset:])
            return
        # At most 100 ms worth at a time, as Toxiproxy, so slow rates still trickle.
        piece = data[offset : offset + rate * 100]
        ready = max(stage.state.get("ready", 0.0), due) + len(piece) / (rate * 1000)
        if not await stage.wait_until(ready):
            continue
        stage.state["ready"] = ready
        await emit(ready, piece)
        offset += len(piece)


def _slices(size: int, average: int, variation: int) -> list[tuple[int, int]]:
    """Toxiproxy's cut points: halve (± variation) until pieces are about ``average``."""
    pieces: list[tuple[int, int]] = []
    todo = [(0, size)]
    while todo:
        start, end = todo.pop()
        if (end - start) - average <= variation:
            pieces.append((start, end))
            continue
        shift = random.randrange(-variation, variation) if variation else 0
        middle = start + (end - start) // 2 + shift
        todo += [(middle, end), (start, middle)]
    return pieces


async def _slicer(stage: Stage, due: float, data: bytes, emit: Emit) -> None:
    attributes = stage.toxic.attributes
    loop = asyncio.get_running_loop()
    for start, end in _slices(len(data), attributes["average_size"], attributes["size_variation"]):
        if not stage.live:
            await emit(due, data[start:])
            return
        await emit(due, data[start:end])
        # Spaced from now, not from the chunk's arrival: the gaps are the point of a slicer.
        pause = stage.toxic.attributes["delay"] / 1e6
        if pause > 0:
            await stage.wait_until(loop.time() + pause)


async def _limit_data(stage: Stage, due: float, data: bytes, emit: Emit) -> None:
    limit = stage.toxic.attributes["bytes"]
    sent = int(stage.state.get("sent", 0))
    part = data[: max(limit - sent, 0)]
    if part:
        await emit(due, part)
        stage.state["sent"] = sent = sent + len(part)
    if sent >= limit:
        stage.controls.close()


async def _timeout(stage: Stage, due: float, data: bytes, emit: Emit) -> None:
    """Swallow the data: nothing gets through until the toxic goes (or its timer closes)."""


async def _reset_peer(stage: Stage, due: float, data: bytes, emit: Emit) -> None:
    ready = due + stage.toxic.attributes["timeout"] / 1000
    while not await stage.wait_until(ready):
        if not stage.live:
            await emit(due, data)
            return
        ready = due + stage.toxic.attributes["timeout"] / 1000
    stage.controls.reset()


async def _pass(stage: Stage, due: float, data: bytes, emit: Emit) -> None:
    await emit(due, data)


_PROCESS: dict[str, Callable[[Stage, float, bytes, Emit], Awaitable[None]]] = {
    "latency": _latency,
    "bandwidth": _bandwidth,
    "slicer": _slicer,
    "limit_data": _limit_data,
    "timeout": _timeout,
    "reset_peer": _reset_peer,
    "slow_close": _pass,
}


async def process(stage: Stage, due: float, data: bytes, emit: Emit) -> None:
    """Run one chunk through ``stage``; ``emit`` hands what comes out to the next stage."""
    if not stage.live:
        await emit(due, data)
        return
    await _PROCESS[stage.toxic.type](stage, due, data, emit)


async def on_eof(stage: Stage) -> None:
    """The source closed its side: a slow_close toxic holds the close back for its delay."""
    if stage.toxic.type != "slow_close" or not stage.live:
        return
    start = asyncio.get_running_loop().time()
    while not await stage.wait_until(start + stage.toxic.attributes["delay"] / 1000):
        if not stage.live:
            return
