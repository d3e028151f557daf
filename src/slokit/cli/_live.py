"""Live progress while a scenario runs: a Rich status line on a terminal, plain lines in CI."""

from __future__ import annotations

import threading
import time
from types import TracebackType

from rich.console import Console, Group
from rich.live import Live
from rich.text import Text

from slokit.load import LiveTick

__all__ = ["LiveProgress"]

_PLAIN_EVERY = 5
"""Seconds between progress lines when output is not a terminal (CI logs stay short)."""
_SHOWN_FOR = 2.5
"""Seconds a scenario's line stays on screen after its last tick: scenarios side by side
tick from their own threads, each on a line of its own, and a finished one drops off."""


def _line(tick: LiveTick) -> Text:
    elapsed = tick.second + 1
    eta = max(0, round(tick.duration - elapsed))
    err = tick.failures / tick.requests if tick.requests else 0.0
    p95 = "-" if tick.p95_ms is None else f"{tick.p95_ms:,.1f}ms"
    text = Text()
    text.append(f"{tick.scenario} ", style="bold")
    text.append(f"{elapsed}s ETA {eta}s", style="cyan")
    if tick.warmup:
        text.append(" (warm-up)", style="yellow")
    text.append(f" | {tick.requests:,} req/s | p95 {p95} | errors {err:.1%}")
    text.append(f" | dropped {tick.dropped:,}", style="red" if tick.dropped else "")
    text.append(f" | VUs {tick.vus:,}")
    if len(tick.nodes) > 1:
        text.append(" | " + ", ".join(f"{node} {n:,}/s" for node, n in tick.nodes), style="dim")
    return text


class LiveProgress:
    """Callable handed to the engine; updates once per second."""

    def __init__(self, console: Console, enabled: bool = True) -> None:
        self._console = console
        self._enabled = enabled
        self._live: Live | None = None
        self._lock = threading.Lock()
        self._latest: dict[str, tuple[float, LiveTick]] = {}

    def __enter__(self) -> LiveProgress:
        if self._enabled and self._console.is_terminal:
            self._live = Live(Text("starting workers..."), console=self._console, transient=True)
            self._live.__enter__()
        return self

    def __exit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._live is not None:
            self._live.__exit__(et, ev, tb)
            self._live = None

    def __call__(self, tick: LiveTick) -> None:
        if not self._enabled:
            return
        with self._lock:
            if self._live is None:
                if (tick.second + 1) % _PLAIN_EVERY == 0:
                    self._console.print(_line(tick))
                return
            now = time.monotonic()
            self._latest[tick.scenario] = (now, tick)
            shown = [t for at, t in self._latest.values() if now - at < _SHOWN_FOR]
            self._live.update(Group(*(_line(t) for t in shown)), refresh=True)
