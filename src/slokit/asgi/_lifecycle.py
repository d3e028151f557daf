"""Start-up and shutdown: when the service may be called ready, and draining before it stops.

Readiness fails until the application's lifespan start-up has completed and its warm-up hooks
(see ``_warmup``) have returned, and again from the moment shutdown begins.
On SIGTERM (what orchestrators send) readiness flips at once, the
service keeps serving for ``drain_delay`` seconds so load balancers stop routing to it, and
only then is the server's own shutdown triggered; during lifespan shutdown requests still in
flight get up to ``drain_timeout`` seconds to finish before the application is told to stop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import threading
import time
from collections.abc import Callable, Sequence
from types import FrameType
from typing import Any

from slokit.asgi._respond import Receive, Scope, Send
from slokit.asgi._warmup import Hook, Warmup

__all__ = ["Lifecycle"]

log = logging.getLogger("slokit.asgi")


class Lifecycle:
    def __init__(
        self, *, drain_delay: float, drain_timeout: float, warmup: Sequence[Hook] = ()
    ) -> None:
        self.drain_delay = drain_delay
        self.drain_timeout = drain_timeout
        self.started = False
        self.draining = False
        self.in_flight = 0
        self.warmup = Warmup(warmup)
        """Hooks run once start-up has completed; /startupz passes when all have returned."""
        self._saw_lifespan = False
        self._on_shutdown: list[Callable[[], Any]] = []
        self._on_started: list[Callable[[], Any]] = []

    def on_started(self, callback: Callable[[], Any]) -> None:
        """Run ``callback`` (sync) once start-up has completed."""
        self._on_started.append(callback)

    def on_shutdown(self, callback: Callable[[], Any]) -> None:
        """Run ``callback`` (sync or async) after in-flight requests drained."""
        self._on_shutdown.append(callback)

    def first_request(self) -> None:
        # A server without lifespan support never tells us start-up is done: the first
        # request is the proof that it is serving.
        if not self._saw_lifespan:
            self.started = True
            self.warmup.start()

    async def lifespan(self, app: Any, scope: Scope, receive: Receive, send: Send) -> None:
        self._saw_lifespan = True
        received = False

        async def wrapped_receive() -> Any:
            nonlocal received
            received = True
            message = await receive()
            if message["type"] == "lifespan.shutdown":
                await self._drain()
            return message

        async def wrapped_send(message: Any) -> None:
            kind = message["type"]
            if kind == "lifespan.startup.complete":
                self._ready()
            elif kind == "lifespan.shutdown.complete":
                await self._shutdown_hooks()
            await send(message)

        try:
            await app(scope, wrapped_receive, wrapped_send)
        except Exception:
            if received:
                raise  # a real start-up or shutdown failure: the server must see it
            # The application refused the lifespan scope before reading a message: it does
            # not speak lifespan. Speak it for it, so readiness still follows start-up/shutdown.
            log.debug("application has no lifespan support; slokit answers lifespan itself")
            await self._own_lifespan(receive, send)

    async def _own_lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                self._ready()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self._drain()
                await self._shutdown_hooks()
                await send({"type": "lifespan.shutdown.complete"})
                return

    def _ready(self) -> None:
        self.started = True
        self.warmup.start()
        self._hook_sigterm()
        for callback in self._on_started:
            try:
                callback()
            except Exception:  # a failing hook must not fail the start-up of the service
                log.exception("start-up hook %r failed", callback)

    def begin_drain(self) -> None:
        if not self.draining:
            self.draining = True
            log.info("draining: readiness now fails; %d request(s) in flight", self.in_flight)

    async def _drain(self) -> None:
        self.begin_drain()
        limit = time.monotonic() + self.drain_timeout
        while self.in_flight > 0 and time.monotonic() < limit:  # noqa: ASYNC110 - polled counter
            await asyncio.sleep(0.02)
        if self.in_flight:
            log.warning(
                "drain timeout (%gs) passed with %d request(s) still in flight",
                self.drain_timeout,
                self.in_flight,
            )

    async def _shutdown_hooks(self) -> None:
        await self.warmup.aclose()
        for callback in self._on_shutdown:
            try:
                result = callback()
                if asyncio.iscoroutine(result):
                    await result
            except Exception:  # one failing hook must not stop the others
                log.exception("shutdown hook %r failed", callback)
        self._on_shutdown.clear()

    def _hook_sigterm(self) -> None:
        """Flip readiness on SIGTERM and delay the server's own handler by ``drain_delay``."""
        if threading.current_thread() is not threading.main_thread():
            return
        loop = asyncio.get_running_loop()
        previous = signal.getsignal(signal.SIGTERM)
        if not callable(previous):
            return  # default or ignored: nothing to delay; lifespan shutdown still drains

        def on_term(signum: int, frame: FrameType | None) -> None:
            self.begin_drain()
            if self.drain_delay <= 0:
                previous(signum, frame)
                return
            # Signal handlers run between bytecodes of the main thread: hand over to the loop.
            loop.call_soon_threadsafe(loop.call_later, self.drain_delay, previous, signum, frame)

        with contextlib.suppress(ValueError, OSError):
            signal.signal(signal.SIGTERM, on_term)
