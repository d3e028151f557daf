"""Make an ASGI service measure, probe, log and guard itself, from ``slokit.yaml``.

::

    from fastapi import FastAPI
    from slokit.asgi import instrument

    app = instrument(FastAPI(), spec="slokit.yaml")

One pure-ASGI layer adds Prometheus metrics (``/metrics``), probes (``/livez``, ``/readyz``,
``/startupz``, ``/healthz``), a JSON access log with request ids and W3C trace context, live
SLOs (``/ops/slo``) and the spec's guards (body size, rate limits, load shedding).
:class:`FaultMiddleware` (or ``instrument(app, faults=True)``) injects HTTP faults for chaos
experiments, switched at run time on a token-protected endpoint (``/ops/faults``).
"""

from slokit.asgi._checks import CheckSpec
from slokit.asgi._faults import FaultMiddleware
from slokit.asgi._instrument import instrument
from slokit.asgi._logs import DEFAULT_MASK, JsonLogFormatter
from slokit.asgi._middleware import SlokitMiddleware
from slokit.asgi._options import RateLimitRule
from slokit.asgi._routes import UNMATCHED
from slokit.asgi._trace import RequestContext, current_request
from slokit.resilience import outgoing_headers

__all__ = [
    "CheckSpec",
    "DEFAULT_MASK",
    "FaultMiddleware",
    "JsonLogFormatter",
    "RateLimitRule",
    "RequestContext",
    "SlokitMiddleware",
    "UNMATCHED",
    "current_request",
    "instrument",
    "outgoing_headers",
]
