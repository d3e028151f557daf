"""Absolute http(s) URLs split into an origin (where to connect) and a request target.

Parsing happens once per :meth:`HttpClient.prepare`, which the engine calls per iteration
for templated steps, so this avoids :func:`urllib.parse.urlsplit` on the common path and
caches origins (there are only a handful per run).
"""

from __future__ import annotations

import functools
import ipaddress
from dataclasses import dataclass
from urllib.parse import quote, urljoin

from slokit.errors import UsageError

__all__ = ["Origin", "join_location", "parse_origin", "split_url"]

_DEFAULT_PORTS = {"http": 80, "https": 443}
# Characters a request target may carry as they are; anything else (spaces, non-ASCII) is
# percent-encoded so a user's "/search?q=café" still makes a valid request line.
_TARGET_SAFE = "!#$%&'()*+,/:;=?@[]~-._"


@dataclass(frozen=True, slots=True)
class Origin:
    """Scheme, host and port: the key of a connection pool."""

    scheme: str
    host: str
    """Host to connect to: IDNA-encoded, IPv6 without brackets."""
    port: int
    host_header: str
    """Value of the Host header: brackets for IPv6, port only when not the default."""
    key: str
    """``scheme://host:port``, hashable and cheap to hash (str hashes are cached)."""

    @property
    def tls(self) -> bool:
        return self.scheme == "https"

    @property
    def label(self) -> str:
        """``host:port`` as error messages show it."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    @property
    def is_ip(self) -> bool:
        try:
            ipaddress.ip_address(self.host)
        except ValueError:
            return False
        return True


@functools.lru_cache(maxsize=512)
def parse_origin(scheme: str, authority: str) -> Origin:
    """Origin of ``scheme://authority``; raises :class:`UsageError` when it is not usable."""
    if "@" in authority:
        raise UsageError(
            f"credentials in the URL ({scheme}://{authority}) are not supported: "
            "send an Authorization header instead"
        )
    if authority.startswith("["):
        end = authority.find("]")
        if end < 0:
            raise UsageError(f"invalid IPv6 host in URL authority {authority!r}")
        host, rest = authority[1:end], authority[end + 1 :]
        if rest and not rest.startswith(":"):
            raise UsageError(f"invalid URL authority {authority!r}")
        port_text = rest[1:]
    else:
        host, _, port_text = authority.partition(":")
    if not host:
        raise UsageError(f"URL {scheme}://{authority} has no host")
    default = _DEFAULT_PORTS[scheme]
    if port_text:
        if not port_text.isdigit() or not 0 < int(port_text) < 65536:
            raise UsageError(f"invalid port {port_text!r} in URL {scheme}://{authority}")
        port = int(port_text)
    else:
        port = default
    if not host.isascii():
        try:
            host = host.encode("idna").decode("ascii")
        except UnicodeError as exc:
            raise UsageError(f"invalid host name {host!r}: {exc}") from None
    host = host.lower()
    if any(c in host for c in " \r\n\t/\\?#%"):
        raise UsageError(f"invalid host name {host!r}")
    shown = f"[{host}]" if ":" in host else host
    host_header = shown if port == default else f"{shown}:{port}"
    return Origin(scheme, host, port, host_header, f"{scheme}://{shown}:{port}")


def split_url(url: str) -> tuple[Origin, str]:
    """``(origin, target)`` of an absolute http(s) URL; target is ``/path?query``."""
    scheme, sep, rest = url.partition("://")
    scheme = scheme.lower()
    if not sep or scheme not in _DEFAULT_PORTS:
        raise UsageError(f"URL {url!r} must be absolute and start with http:// or https://")
    end = len(rest)
    for stop in "/?#":
        found = rest.find(stop, 0, end)
        if found >= 0:
            end = found
    origin = parse_origin(scheme, rest[:end])
    target = rest[end:]
    if "#" in target:
        target = target.partition("#")[0]
    if not target.startswith("/"):
        target = "/" + target
    if not target.isascii() or not target.isprintable() or " " in target:
        target = quote(target, safe=_TARGET_SAFE)
    return origin, target


def join_location(base: str, location: str) -> str:
    """Absolute URL a redirect's Location points to (it may be relative)."""
    return urljoin(base, location.strip())
