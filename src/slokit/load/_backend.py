"""Where a run's workers live: local processes, or actors on a Ray cluster (``_ray.py``).

The controller talks to its workers through four things: a queue they put their messages
on, a ``go`` and a ``stop`` signal, and the wall-clock time of second 0 (``start_wall``).
A backend provides them and starts each worker; the worker loop is the same everywhere.
"""

from __future__ import annotations

import multiprocessing as mp
import socket
from typing import Any, Protocol

from slokit.load._signals import sigint_ignored_in_children
from slokit.load._worker import WorkerArgs, worker_main

__all__ = ["Backend", "LocalBackend", "Worker"]


class Worker(Protocol):
    """A started worker, as a ``multiprocessing.Process`` is one."""

    @property
    def exitcode(self) -> int | None: ...
    def join(self, timeout: float | None = None) -> None: ...
    def is_alive(self) -> bool: ...
    def terminate(self) -> None: ...
    def kill(self) -> None: ...


class Backend(Protocol):
    queue: Any
    go: Any
    stop: Any
    start_wall: Any
    survives_loss: bool
    """True: a lost worker (a dead actor or node) does not end the run; the others go on."""

    def spawn(self, args: WorkerArgs) -> Worker: ...
    def node(self, worker: int) -> str:
        """The machine worker ``worker`` runs on, as the results name it."""
        ...

    def close(self) -> None: ...


class LocalBackend:
    """Worker processes on this machine (``spawn``: no state forked from the controller)."""

    survives_loss = False

    def __init__(self) -> None:
        self._ctx = mp.get_context("spawn")
        self.queue: Any = self._ctx.Queue()
        self.go: Any = self._ctx.Event()
        self.stop: Any = self._ctx.Event()
        self.start_wall: Any = self._ctx.Value("d", 0.0)
        self._host = socket.gethostname()

    def spawn(self, args: WorkerArgs) -> Worker:
        p = self._ctx.Process(
            target=worker_main,
            args=(args, self.queue, self.go, self.start_wall, self.stop),
            name=f"slokit-worker-{args.worker}",
            daemon=True,
        )
        with sigint_ignored_in_children():
            p.start()
        return p

    def node(self, worker: int) -> str:
        return self._host

    def close(self) -> None:
        self.queue.close()
        self.queue.join_thread()
