"""Prometheus metrics of the fault proxy's traffic, read from its counters at scrape time.

Each :class:`FaultProxy` gets a registry of its own, so several in one process (tests,
experiments) never collide in prometheus-client's global registry. This module imports
prometheus-client; the API imports it only when ``/metrics`` is asked for.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.registry import Collector

from slokit._prometheus import Family, families
from slokit.chaos._fault_proxy import FaultProxy
from slokit.chaos._model import STREAMS

__all__ = ["CONTENT_TYPE", "registry", "render"]

CONTENT_TYPE = CONTENT_TYPE_LATEST


_FAMILIES: tuple[Family, ...] = (
    (
        "counter",
        "slokit_proxy_bytes",
        "Bytes each proxy let through, by direction (upstream: client to server, "
        "downstream: server to client).",
        ("proxy", "direction"),
    ),
    (
        "counter",
        "slokit_proxy_received_bytes",
        "Bytes each proxy read from the sender, by direction; more than let through when "
        "toxics drop or cut data.",
        ("proxy", "direction"),
    ),
    ("counter", "slokit_proxy_connections", "Client connections each proxy accepted.", ("proxy",)),
    (
        "gauge",
        "slokit_proxy_connections_active",
        "Client connections each proxy is carrying now.",
        ("proxy",),
    ),
    (
        "gauge",
        "slokit_proxy_enabled",
        "1 while the proxy listens, 0 while it is down (disabled).",
        ("proxy",),
    ),
    ("gauge", "slokit_proxy_toxics", "Toxics on each proxy, by direction.", ("proxy", "direction")),
)


class _ProxyCollector(Collector):
    def __init__(self, fault_proxy: FaultProxy) -> None:
        self._fp = fault_proxy

    def collect(self) -> Iterator[Any]:
        sent, received, connections, active, enabled, toxics = families(*_FAMILIES)
        for proxy in self._fp._traffic():
            for stream in STREAMS:
                sent.add_metric([proxy.name, stream], proxy.traffic.sent[stream])
                received.add_metric([proxy.name, stream], proxy.traffic.received[stream])
                count = sum(1 for t in proxy.toxics() if t.stream == stream)
                toxics.add_metric([proxy.name, stream], count)
            connections.add_metric([proxy.name], proxy.connections_total)
            active.add_metric([proxy.name], proxy.connections_active)
            enabled.add_metric([proxy.name], 1.0 if proxy.enabled else 0.0)
        yield from (sent, received, connections, active, enabled, toxics)


def registry(fault_proxy: FaultProxy) -> CollectorRegistry:
    """A registry holding only the metrics of ``fault_proxy``."""
    own = CollectorRegistry(auto_describe=False)
    own.register(_ProxyCollector(fault_proxy))
    return own


def render(own: CollectorRegistry) -> bytes:
    return generate_latest(own)
