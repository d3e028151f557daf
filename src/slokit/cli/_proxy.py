"""``slokit proxy``: the Toxiproxy-compatible fault proxy, until Ctrl-C or SIGTERM."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path
from typing import Annotated

import typer

from slokit.cli._app import app
from slokit.cli._common import err, fail, setup_logging
from slokit.errors import SlokitError


async def _serve(listen: str, config: Path | None, allow_remote: bool) -> None:
    from slokit.chaos import open_fault_proxy

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    try:
        async with open_fault_proxy(
            listen=listen, config=config, allow_remote=allow_remote
        ) as fault_proxy:
            # The URL goes to standard output, flushed: scripts read it to find a port-0 API.
            typer.echo(f"fault proxy API on {fault_proxy.url} (Toxiproxy v2 API; Ctrl-C stops)")
            for proxy in fault_proxy.proxies():
                state = "" if proxy.enabled else " (disabled)"
                err.print(f"  proxy {proxy.name}: {proxy.listen} -> {proxy.upstream}{state}")
            await stop.wait()
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)
    err.print("fault proxy stopped: every proxy closed")


@app.command()
def proxy(
    listen: Annotated[
        str,
        typer.Option(
            "--listen",
            "-l",
            help="Address of the control API (Toxiproxy's default port is 8474; port 0 picks "
            "a free one).",
        ),
    ] = "127.0.0.1:8474",
    config: Annotated[
        Path | None,
        typer.Option(
            "--config",
            "-c",
            help="Toxiproxy config file to load at start: a JSON list of "
            "{name, listen, upstream, enabled}.",
        ),
    ] = None,
    allow_remote: Annotated[
        bool,
        typer.Option(
            "--allow-remote",
            help="Accept listen addresses that are not loopback, for the API and the proxies: "
            "whoever reaches them can reconfigure the proxies or get through to the upstreams.",
        ),
    ] = False,
) -> None:
    """Run a Toxiproxy-compatible TCP fault proxy with its HTTP control API.

    Drive it with any Toxiproxy client, curl, or slokit.chaos.ToxiproxyClient.

    Toxics: latency, bandwidth, slow_close, timeout, reset_peer, slicer, limit_data.
    """
    setup_logging()
    try:
        asyncio.run(_serve(listen, config, allow_remote))
    except SlokitError as exc:
        fail(exc)
