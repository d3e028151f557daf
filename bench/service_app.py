"""The service leg's server: the demo app bare, with slokit's stack, or with a peer's.

``SLOKIT_BENCH_VARIANT`` picks the stack: ``bare``, ``slokit`` (metrics + JSON access log +
request ids + trace context + live SLOs, guards configured but never tripping), ``pfi``
(prometheus-fastapi-instrumentator, its defaults) or ``floor`` (the least any pure-Python
layer with slokit's per-request contract does: see ``_floor.py``). Run with
``uvicorn service_app:app --app-dir bench``.
"""

from __future__ import annotations

import os

from fastapi import FastAPI

from slokit.demo import create_app

VARIANT = os.environ.get("SLOKIT_BENCH_VARIANT", "bare")

SPEC = """
service: bench
slos:
  availability: {objective: 99.9%}
  daily-latency: {route: GET /api/horoscopes/daily, objective: 99%, latency: 100ms}
  items-latency: {route: "GET /items/{item_id}", objective: 99%, latency: 50ms}
guards:
  max_body: 1MiB
  concurrency: 10000
  rate_limits:
    - {route: POST /api/orders, limit: 1000/s}
"""

app: FastAPI = create_app(instrumented=False)


@app.get("/items/{item_id}")
async def item(item_id: str) -> dict[str, str]:
    """The cheapest FastAPI route there is: the worst case for any middleware's share."""
    return {"id": item_id}


if VARIANT == "slokit":
    import json

    from slokit.asgi import instrument
    from slokit.spec import parse_spec

    # Access log lines go to /dev/null: the cost of making them is measured, not the disk's.
    options = {"access_log": open(os.devnull, "w")}  # noqa: SIM115
    # SLOKIT_BENCH_OPTIONS (JSON) switches features off, to see what each one costs.
    options.update(json.loads(os.environ.get("SLOKIT_BENCH_OPTIONS", "{}")))
    spec = None if options.pop("no_spec", False) else parse_spec(SPEC)
    instrument(app, spec=spec, **options)
elif VARIANT == "pfi":
    from prometheus_fastapi_instrumentator import Instrumentator

    Instrumentator().instrument(app).expose(app)
elif VARIANT == "floor":
    from _floor import FloorMiddleware

    app.add_middleware(FloorMiddleware)
elif VARIANT != "bare":
    raise SystemExit(f"unknown SLOKIT_BENCH_VARIANT {VARIANT!r}")
