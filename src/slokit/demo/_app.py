"""The demo service: a small orders API with horoscopes, modelled on the seed runbook service.

Routes and how they behave, so the demo's SLOs have something real to judge:

- ``GET /api/horoscopes/daily``: a fast read (no I/O).
- ``POST /api/orders``: a slower write (20-60 ms of simulated storage latency), 201 + order.
- ``GET /api/orders/{order_id}``: reads an order back, 404 for unknown ids.
- ``GET /api/quotes/{sku}``: calls the flaky in-process provider; its failures become 502.
- ``GET /api/v1/events/stream``: Server-Sent Events, one ``order`` event per order placed,
  ``: heartbeat`` comments while idle (``?heartbeat=`` seconds), ``Last-Event-ID`` replay.

Unless ``instrumented=False``, the app is wrapped by :func:`slokit.asgi.instrument` with the
demo's spec: Prometheus metrics on ``/metrics``, the probes (``/livez``, ``/readyz``,
``/startupz``, ``/healthz``, the last with a non-critical check on the provider's recent
errors), JSON access logs on stdout, live SLOs on ``/ops/slo`` and the spec's guards.

Everything, including the random generators, is built by :func:`create_app`, so two apps never
share state and a run with the same seed and request order behaves the same way.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import math
import os
import random
import zlib
from collections import OrderedDict
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import FastAPI, HTTPException, Path, Query, Request
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, Field

from slokit.demo._events import EventHub
from slokit.demo._provider import HEALTHY, Pricing, ProviderError, QuoteProvider
from slokit.demo._quotes import guarded_quotes
from slokit.errors import ResilienceError
from slokit.resilience import served_stale

__all__ = ["MAX_ORDERS", "create_app"]

MAX_ORDERS = 10_000
"""Orders kept in memory; older ones are forgotten so a long soak cannot grow without bound."""

Sign = Literal[
    "aries", "taurus", "gemini", "cancer", "leo", "virgo",
    "libra", "scorpio", "sagittarius", "capricorn", "aquarius", "pisces",
]  # fmt: skip

_READINGS = (
    "A deploy on Friday will go better than feared.",
    "Your p99 is closer to your p50 than yesterday.",
    "An old dependency asks to be upgraded; listen to it.",
    "Error budgets are for spending: spend a little on courage.",
    "A retry storm passes you by because you added jitter.",
    "Someone reads your runbook and it is correct.",
)

SKU_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$"


class OrderIn(BaseModel):
    sku: str = Field(pattern=SKU_PATTERN)
    qty: int = Field(default=1, ge=1, le=1000)


class Order(BaseModel):
    id: str
    sku: str
    qty: int
    status: Literal["created"] = "created"
    created: str


def create_app(
    *,
    broken: bool = False,
    outage: tuple[float, float] | None = None,
    seed: int = 7,
    instrumented: bool = True,
    provider_url: str | None = None,
) -> FastAPI:
    """Build a fresh demo app. ``broken=True``: the quote provider is slow and failing from
    the start; ``outage=(start, end)``: only between those seconds after its first call.
    ``provider_url``: price through a remote provider (``python -m slokit.demo --provider``)
    instead of the in-process one, e.g. behind ``slokit proxy`` for chaos experiments.
    ``instrumented=False`` leaves out slokit's middleware (the benchmark's bare baseline)."""
    if broken:
        outage = (0.0, math.inf)
    provider: Pricing
    lifespan = None
    if provider_url is not None:
        from slokit.demo._remote import RemoteQuoteProvider

        remote = provider = RemoteQuoteProvider(provider_url)

        @contextlib.asynccontextmanager
        async def lifespan(_: FastAPI) -> AsyncIterator[None]:
            try:
                yield
            finally:
                await remote.aclose()

    else:
        provider = QuoteProvider(HEALTHY, random.Random(f"{seed}:provider"), outage=outage)
    app = FastAPI(title="slokit demo: orders API", version="1", lifespan=lifespan)
    # One generator per route, so concurrent orders never shift the provider's sequence.
    order_rng = random.Random(f"{seed}:orders")
    quotes = guarded_quotes(provider)
    orders: OrderedDict[str, Order] = OrderedDict()
    next_id = itertools.count(1)
    app.state.provider = provider
    app.state.orders = orders
    hub = app.state.events = EventHub()

    # Out of the OpenAPI schema: schema fuzzers call every path and wait for the body to end.
    @app.get("/api/v1/events/stream", response_model=None, include_in_schema=False)
    async def event_stream(
        request: Request, heartbeat: Annotated[float, Query(ge=0.05, le=300)] = 15.0
    ) -> StreamingResponse:
        raw = request.headers.get("last-event-id", "")
        last_id = int(raw) if raw.isdigit() else None
        return StreamingResponse(
            hub.stream(last_id, heartbeat),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )

    @app.get("/api/horoscopes/daily")
    async def daily_horoscope(sign: Annotated[Sign, Query()] = "aries") -> dict[str, str]:
        today = datetime.now(UTC).date().isoformat()
        reading = _READINGS[zlib.crc32(f"{today}:{sign}".encode()) % len(_READINGS)]
        return {"date": today, "sign": sign, "reading": reading}

    @app.post("/api/orders", status_code=201)
    async def create_order(body: OrderIn) -> Order:
        await asyncio.sleep(order_rng.uniform(0.020, 0.060))
        order = Order(
            id=f"ord-{next(next_id):08d}",
            sku=body.sku,
            qty=body.qty,
            created=datetime.now(UTC).isoformat(timespec="milliseconds"),
        )
        orders[order.id] = order
        if len(orders) > MAX_ORDERS:
            orders.popitem(last=False)
        hub.publish("order", order.model_dump())
        return order

    @app.get("/api/orders/{order_id}")
    async def read_order(order_id: str) -> Order:
        order = orders.get(order_id)
        if order is None:
            raise HTTPException(status_code=404, detail=f"no order {order_id!r}")
        return order

    @app.get("/api/quotes/{sku}", response_model=None)
    async def read_quote(
        sku: Annotated[str, Path(pattern=SKU_PATTERN)],
    ) -> dict[str, Any] | JSONResponse:
        try:
            quote = await quotes.price(sku)
        except (ProviderError, ResilienceError) as exc:
            # Nothing fresh and nothing stale: say so plainly (the provider never answered).
            return JSONResponse({"detail": str(exc), "degraded": True}, status_code=502)
        return {
            "sku": quote.sku,
            "price": quote.price,
            "currency": quote.currency,
            # The last good price, served while the provider fails or its breaker is open.
            "stale": served_stale(),
        }

    @app.get("/api/provider")
    async def provider_status() -> dict[str, Any]:
        """How the provider and its guards are doing (the demo CLI prints it after a run)."""
        stats = quotes.breaker.statistics()
        cache = quotes.cache.statistics()
        return {
            "calls": provider.calls,
            "failures": provider.failures,
            "breaker": {
                "state": stats.state.value,
                "opened": stats.open_count,
                "not_permitted": stats.not_permitted,
            },
            "stale_served": cache.stale_served,
        }

    if instrumented:
        from slokit.asgi import instrument
        from slokit.demo._server import spec_path

        # Fault injection only when a token is given (slokit demo --chaos does): never by default.
        token = os.environ.get("SLOKIT_FAULT_TOKEN") or None
        instrument(
            app,
            spec=spec_path(),
            checks={"provider": provider.healthy},
            faults=token is not None,
            fault_token=token,
        )
    return app
