"""Signals while a run shuts down."""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator

__all__ = ["interrupts_ignored", "sigint_ignored_in_children"]


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


@contextlib.contextmanager
def sigint_ignored_in_children() -> Iterator[None]:
    """Start child processes with SIGINT ignored from their first instruction: a Ctrl-C to the
    process group while a spawned worker is still importing slokit would otherwise print that
    worker's KeyboardInterrupt traceback (an ignored signal stays ignored across exec, and
    Python then installs no handler of its own). The worker ignores it itself once running."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    saved = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, saved)
