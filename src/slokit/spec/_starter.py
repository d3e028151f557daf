"""The commented starter spec written by ``slokit init``."""

from __future__ import annotations

__all__ = ["STARTER_SPEC"]

STARTER_SPEC = """\
# slokit.yaml: what this service promises (SLOs) and how to load-test it.
# Check it with `slokit validate slokit.yaml`; run it with `slokit run slokit.yaml`.
# Units: durations 250ms, 1.5s, 10m, 2h, 30d; percentages 99.9%; rates 50/s, 15/hour.
# ${VAR} and ${VAR:-default} are read from the environment (`slokit run -e VAR=value` sets one).

service: my-service
target: ${TARGET:-http://127.0.0.1:8000}   # base URL; `-H URL` (or --target) overrides it

slos:
  availability:                   # share of requests that are not 5xx or failed connections
    objective: 99.9%
    window: 30d
  latency:                        # "95% of requests answered within 300ms"
    objective: 95%
    latency: 300ms
    # route: GET /api/items       # judge only the requests of one route

gates:                            # extra pass/fail rules: METRIC[(REQUEST)] OP VALUE
  - error_rate < 1%
  # - p99(GET /api/items) < 1s
  # - rps >= 50/s

scenarios:
  smoke:                          # closed model: a few users in a loop, quick check
    executor: constant-vus
    vus: 2
    duration: 10s
    flow:
      - get: /
        name: home
        # status: 200             # default: any status below 400 is a success
  steady:                         # open model: a fixed arrival rate, whatever the server does
    executor: constant-arrival-rate
    rate: 20/s
    duration: 1m
    max_vus: 50                   # arrivals finding every user busy are counted as dropped
    warmup: 10s                   # measured but left out of the verdicts
    flow:
      - get: /
        name: home
      # - post: /api/orders
      #   json: {sku: A1, qty: 1}
      #   checks:
      #     - status: [200, 201]
      #     - json: $.id
      #       exists: true
"""
