"""Chaos: a Toxiproxy-compatible TCP fault proxy, and experiments judged by the spec's SLOs.

``slokit chaos EXPERIMENT.yaml`` (:func:`load_experiment`, :func:`run_experiment`) injects
faults on a timeline while a scenario of the spec runs, and returns a :class:`Journal`:
the verdict, T_inject/T_detect/T_remove/T_recover, budget burned, before/during/after stats.

``slokit proxy`` serves Toxiproxy's v2 HTTP API, so its clients and curl habits work
unchanged; in Python, :func:`open_fault_proxy` runs the same proxies in the current event
loop and :class:`ToxiproxyClient` drives ``slokit proxy`` or a real Toxiproxy::

    from slokit.chaos import ProxyConfig, open_fault_proxy

    async with open_fault_proxy([ProxyConfig("redis", upstream="127.0.0.1:6379")]) as fp:
        redis = Redis(port=fp.proxy("redis").port)
        await fp.add_toxic("redis", "latency", {"latency": 100, "jitter": 10})
        ...                                        # every reply is 90-110 ms late
        await fp.set_enabled("redis", False)       # connections closed, port refuses

Toxics: latency, bandwidth, slow_close, timeout, reset_peer, slicer, limit_data, with
Toxiproxy's attributes, streams (upstream: client to server, downstream: server to client)
and toxicity. Starlette, uvicorn and httpx (the ``chaos`` extra) are imported only when the
API is served or the client is made.
"""

from __future__ import annotations

from slokit.chaos._client import ToxiproxyClient
from slokit.chaos._experiment import Experiment, load_experiment, parse_experiment
from slokit.chaos._fault_proxy import FaultProxy
from slokit.chaos._journal import Journal
from slokit.chaos._model import TOXIC_TYPES, ProxyConfig, Toxic
from slokit.chaos._runner import ChaosOptions, run_experiment
from slokit.chaos._serve import open_fault_proxy
from slokit.chaos._summary import summarize

__all__ = [
    "ChaosOptions",
    "Experiment",
    "FaultProxy",
    "Journal",
    "ProxyConfig",
    "TOXIC_TYPES",
    "Toxic",
    "ToxiproxyClient",
    "load_experiment",
    "open_fault_proxy",
    "parse_experiment",
    "run_experiment",
    "summarize",
]
