"""Signals while a run shuts down."""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator

__all__ = ["interrupts_ignored"]


@contextlib.contextmanager
def interrupts_ignored() -> Iterator[None]:
    """Shutting down after an interrupt is bounded; a second Ctrl-C (or SIGTERM) must not
    cut it short with a traceback and leave workers and results behind."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    saved = {sig: signal.signal(sig, signal.SIG_IGN) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in saved.items():
            signal.signal(sig, handler)
