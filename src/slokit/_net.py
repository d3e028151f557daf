"""Listening sockets for slokit's own servers (the dashboard, the fault proxies' control API):
what counts as loopback, and a bound, listening socket or an ``OSError``."""

from __future__ import annotations

import ipaddress
import socket

__all__ = ["is_loopback", "listening_socket"]


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and loopback addresses (``127.0.0.0/8``, ``::1``)."""
    host = host.strip().strip("[]").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def listening_socket(family: socket.AddressFamily, ip: str, port: int) -> socket.socket:
    """A TCP socket bound to ``(ip, port)`` and listening; closed again if either fails."""
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((ip, port))
        sock.listen(128)
    except OSError:
        sock.close()
        raise
    return sock
