"""``serve``: the dashboard under uvicorn, on loopback unless told otherwise.

The socket is bound here, before uvicorn starts, so a port that is taken is a clear error
(exit 2) instead of a log line, port 0 picks a free port, and the printed URL is the real
one. uvicorn handles Ctrl-C and SIGTERM (graceful shutdown, the store closed on the way out).
"""

from __future__ import annotations

import socket
from collections.abc import Callable
from pathlib import Path

from slokit._net import is_loopback, listening_socket
from slokit.dashboard._app import create_app
from slokit.dashboard._security import LOOPBACK_NAMES
from slokit.errors import UsageError

__all__ = ["DEFAULT_PORT", "bind", "serve"]

DEFAULT_PORT = 8787


def _address(host: str, port: int) -> tuple[socket.AddressFamily, str]:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError) as exc:
        raise UsageError(f"--host {host!r}: {exc}") from None
    ipv4 = [info for info in infos if info[0] == socket.AF_INET]
    family, _, _, _, address = (ipv4 or infos)[0]
    return family, str(address[0])


def bind(host: str, port: int, *, allow_remote: bool = False) -> socket.socket:
    """A listening socket on ``host:port``; UsageError for a host that is not loopback
    (unless ``allow_remote``) and for a port that cannot be had."""
    if not 0 <= port <= 65535:
        raise UsageError(f"--port {port}: give a port from 1 to 65535 (0 picks a free one)")
    family, ip = _address(host, port)
    if not allow_remote and not is_loopback(ip):
        raise UsageError(
            f"--host {host} is not a loopback address: everyone who can reach it could read "
            "your run history. Serve on 127.0.0.1 (the default) and use an SSH tunnel, or "
            "pass --allow-remote if that is what you want"
        )
    try:
        return listening_socket(family, ip, port)
    except OSError as exc:
        raise UsageError(
            f"cannot listen on {host}:{port} ({exc.strerror or exc}); pick another --port "
            "(0 picks a free one) or stop what holds it"
        ) from None


def serve(
    store_url: str | None,
    *,
    project_dir: Path,
    host: str = "127.0.0.1",
    port: int = DEFAULT_PORT,
    prometheus: str | None = None,
    spec: Path | None = None,
    allow_remote: bool = False,
    started: Callable[[str], None] | None = None,
) -> None:
    """Serve the dashboard until Ctrl-C or SIGTERM.

    ``started`` is called with the dashboard's URL once the socket listens (before the
    first request can be answered). Raises what :func:`create_app` and :func:`bind` raise.
    """
    import uvicorn

    sock = bind(host, port, allow_remote=allow_remote)
    try:
        app = create_app(
            store_url,
            project_dir=project_dir,
            prometheus=prometheus,
            spec=spec,
            trusted_hosts=None if allow_remote else (host, *LOOPBACK_NAMES),
        )
        ip, real_port = sock.getsockname()[:2]
        shown = f"[{ip}]" if ":" in ip else ip
        if started is not None:
            started(f"http://{shown}:{real_port}")
        config = uvicorn.Config(
            app,
            log_level="warning",
            access_log=False,
            ws="none",
            timeout_graceful_shutdown=3,
        )
        uvicorn.Server(config).run(sockets=[sock])
    finally:
        sock.close()
