"""``open_fault_proxy``: proxies and their control API in the running event loop.

The API is served by uvicorn on a socket bound here (so port 0 works and the real port is
known before the first request), with uvicorn's own signal handling switched off: the
program that embeds it (a test, an experiment, ``slokit proxy``) decides when to stop.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator, Generator, Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from slokit._net import is_loopback, listening_socket
from slokit.chaos._address import join_address, resolve
from slokit.chaos._fault_proxy import FaultProxy, load_config
from slokit.chaos._model import ProxyConfig
from slokit.errors import UsageError

if TYPE_CHECKING:
    import uvicorn

__all__ = ["open_fault_proxy"]

_STARTUP_TIMEOUT = 10.0


@contextlib.asynccontextmanager
async def open_fault_proxy(
    proxies: Iterable[ProxyConfig] = (),
    *,
    listen: str = "127.0.0.1:0",
    config: str | Path | None = None,
    api: bool = True,
    allow_remote: bool = False,
) -> AsyncIterator[FaultProxy]:
    """Start a fault proxy in the running event loop; stop everything on exit.

    ``proxies`` (and the Toxiproxy config file ``config``, loaded first) are created at
    start. With ``api`` (the default) the Toxiproxy-compatible control API is served on
    ``listen`` (port 0 picks a free port) and its base URL is ``fault_proxy.url``. Listen
    addresses that are not loopback are refused unless ``allow_remote`` is true. On exit
    every listener closes and every connection through the proxies is closed::

        async with open_fault_proxy([ProxyConfig("redis", upstream="127.0.0.1:6379")]) as fp:
            port = fp.proxy("redis").port
            await fp.add_toxic("redis", "latency", {"latency": 100})
    """
    initial = [*(load_config(config) if config is not None else []), *proxies]
    fault_proxy = FaultProxy(allow_remote=allow_remote)
    server: _ControlServer | None = None
    try:
        if api:
            server = await _ControlServer.start(fault_proxy, listen, allow_remote=allow_remote)
            fault_proxy.url = server.url
        await fault_proxy.populate(initial)
        yield fault_proxy
    finally:
        try:
            if server is not None:
                await server.stop()
        finally:
            await fault_proxy.aclose()


async def _bind(listen: str, *, allow_remote: bool) -> socket.socket:
    try:
        host, port = await resolve(listen)
    except (OSError, ValueError) as exc:
        raise UsageError(f"--listen {listen}: {exc}") from None
    if not allow_remote and not is_loopback(host):
        raise UsageError(
            f"--listen {listen} is not a loopback address: anyone who can reach it could "
            "reconfigure the proxies. Listen on 127.0.0.1, or pass --allow-remote "
            "(allow_remote=True) if that is what you want"
        )
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        sock = listening_socket(family, host, port)
    except OSError as exc:
        raise UsageError(
            f"--listen {listen}: cannot listen there ({exc.strerror}); pick a free port "
            "(port 0 picks one) or stop what holds it"
        ) from None
    sock.setblocking(False)
    return sock


class _ControlServer:
    def __init__(self, server: uvicorn.Server, task: asyncio.Task[None], url: str) -> None:
        self._server = server
        self._task = task
        self.url = url

    @classmethod
    async def start(
        cls, fault_proxy: FaultProxy, listen: str, *, allow_remote: bool
    ) -> _ControlServer:
        try:
            import uvicorn

            from slokit.chaos._api import create_app
        except ImportError as exc:
            raise UsageError(
                f"the control API needs {exc.name}: pip install 'slokit[chaos]' (or pass "
                "api=False to run the proxies without it)"
            ) from None

        class _Embedded(uvicorn.Server):
            @contextlib.contextmanager
            def capture_signals(self) -> Generator[None, None, None]:
                yield  # the embedding program owns SIGINT and SIGTERM

        sock = await _bind(listen, allow_remote=allow_remote)
        host, port = sock.getsockname()[:2]
        config = uvicorn.Config(
            create_app(fault_proxy),
            lifespan="off",
            log_config=None,
            log_level="warning",
            access_log=False,
            ws="none",
            timeout_graceful_shutdown=2,
        )
        server = _Embedded(config)
        task = asyncio.create_task(server.serve(sockets=[sock]))
        try:
            async with asyncio.timeout(_STARTUP_TIMEOUT):
                while not server.started:
                    if task.done():
                        break
                    await asyncio.sleep(0.005)
        except TimeoutError:
            pass
        if not server.started:
            server.should_exit = True
            with contextlib.suppress(Exception, SystemExit):
                await task
            sock.close()
            raise UsageError(f"the control API on {join_address(host, port)} did not start")
        return cls(server, task, f"http://{join_address(host, port)}")

    async def stop(self) -> None:
        self._server.should_exit = True
        await self._task
