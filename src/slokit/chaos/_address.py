"""``host:port`` strings as Toxiproxy writes them, resolved without blocking the event loop."""

from __future__ import annotations

import asyncio
import ipaddress
import socket

__all__ = ["join_address", "resolve", "split_address"]


def split_address(address: str) -> tuple[str, int]:
    """``"127.0.0.1:8474"`` or ``"[::1]:8474"`` to ``(host, port)``; ValueError when malformed."""
    host, sep, port = address.rpartition(":")
    if not sep or not port.isdigit() or int(port) > 65535:
        raise ValueError("expected host:port with a port from 0 to 65535, e.g. 127.0.0.1:8474")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    return host, int(port)


def join_address(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


async def resolve(address: str) -> tuple[str, int]:
    """The one IP address (IPv4 preferred) and port to bind for ``address``.

    Binding one address keeps ``localhost:0`` a single listener with a single port, which is
    what Toxiproxy reports back; an empty host means every interface, as in Toxiproxy.
    """
    host, port = split_address(address)
    if not host:
        return "0.0.0.0", port
    try:
        return str(ipaddress.ip_address(host)), port
    except ValueError:
        pass
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
    if not infos:
        raise OSError(f"{host!r} does not resolve to any address")
    ipv4 = [info for info in infos if info[0] == socket.AF_INET]
    return str((ipv4 or infos)[0][4][0]), port
