"""Warm-up hooks: start-up work that runs after the server listens, gating ``/startupz``.

Under uvicorn (and any server that runs the lifespan protocol) the port opens only once
lifespan start-up has completed, so a probe can never see the service "still starting" in
that phase: it sees a refused connection. What a Kubernetes ``startupProbe`` is for, a slow
start that must not be killed by the liveness probe, is work that runs *after* that: filling
caches, loading models, a first successful call to a dependency. ``warmup=`` hooks are that
work: they start as soon as start-up has completed, all at once, and ``/startupz`` (and
``/readyz``) fail until every one of them has returned. A hook that raises or returns
``False`` keeps ``/startupz`` failing with its reason, so the orchestrator restarts the
container after its ``failureThreshold``, as it would for any start that did not finish.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Callable, Sequence

__all__ = ["Hook", "Warmup"]

Hook = tuple[str, Callable[[], object]]
log = logging.getLogger("slokit.asgi")


class Warmup:
    def __init__(self, hooks: Sequence[Hook]) -> None:
        self._hooks = tuple(hooks)
        self.pending = [name for name, _ in self._hooks]
        """Names of the hooks still running (or not yet started), in the order given."""
        self.failed: dict[str, str] = {}
        """Why each failed hook failed: ``"RuntimeError: cache server refused"``."""
        self.done = not self._hooks
        """Every hook has returned successfully; read by each probe."""
        self._tasks: list[asyncio.Task[None]] = []
        self._started = False

    def start(self) -> None:
        """Run every hook in the background; called once start-up has completed."""
        if self._started:
            return
        self._started = True
        self._tasks = [asyncio.create_task(self._run(name, hook)) for name, hook in self._hooks]

    def note(self) -> str:
        """Why start-up is not over, for the probes' ``notes``."""
        if self.failed:
            return "warm-up failed: " + ", ".join(self.failed)
        return "warming up: " + ", ".join(self.pending) + " not finished"

    async def _run(self, name: str, hook: Callable[[], object]) -> None:
        try:
            result = hook() if _is_async(hook) else await asyncio.to_thread(hook)
            if inspect.isawaitable(result):
                result = await result
            if result is False:
                raise RuntimeError("returned False")
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            # Logged once here, and kept for /startupz: the container will be restarted for it.
            log.exception("warm-up hook %r failed; /startupz keeps failing", name)
            self.failed[name] = f"{type(exc).__name__}: {exc}"[:300]
        else:
            self.pending.remove(name)
            self.done = not self.pending and not self.failed

    async def aclose(self) -> None:
        """Cancel hooks still running (shutdown came first)."""
        tasks = [t for t in self._tasks if not t.done()]
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks)


def _is_async(hook: Callable[[], object]) -> bool:
    call = getattr(hook, "__call__", None)  # noqa: B004 - objects with an async __call__
    return inspect.iscoroutinefunction(hook) or inspect.iscoroutinefunction(call)
