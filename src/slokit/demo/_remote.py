"""The demo's provider as its own HTTP service, so faults can be put between the two.

``python -m slokit.demo --provider`` serves :func:`provider_app`; a demo started with
``--provider-url URL`` prices through :class:`RemoteQuoteProvider` instead of its in-process
provider. Put ``slokit proxy`` (or Toxiproxy) between them and a chaos experiment can slow
the provider down or cut it off while the demo's breaker and stale cache are watched.
"""

from __future__ import annotations

import os
import random
from collections import deque
from typing import Any

import httpx

from slokit.demo._provider import HEALTHY, ProviderError, ProviderProfile, Quote, QuoteProvider

__all__ = ["RemoteQuoteProvider", "provider_app"]

_RECENT = 50


class RemoteQuoteProvider:
    """Prices a SKU with ``GET {url}/quotes/{sku}``; any failure is a :class:`ProviderError`.

    The client's own timeout is only a backstop: the demo bounds each call with
    ``slokit.resilience.timeout`` (0.25 s) as a service should.
    """

    def __init__(self, url: str) -> None:
        self.url = url.rstrip("/")
        self.calls = 0
        self.failures = 0
        self._recent: deque[bool] = deque(maxlen=_RECENT)
        self._client = httpx.AsyncClient(timeout=2.0)

    def healthy(self) -> bool:
        """False when more than a fifth of the last 50 calls failed (the /healthz check)."""
        recent = self._recent
        return not recent or sum(recent) <= len(recent) / 5

    async def quote(self, sku: str) -> Quote:
        self.calls += 1
        failed = True
        try:
            response = await self._client.get(f"{self.url}/quotes/{sku}")
            if response.status_code != 200:
                raise ProviderError(f"pricing provider answered {response.status_code}")
            body = response.json()
            quote = Quote(sku=str(body["sku"]), price=float(body["price"]))
            failed = False
            return quote
        except httpx.HTTPError as exc:
            raise ProviderError(f"pricing provider unreachable: {type(exc).__name__}") from exc
        finally:
            # A call cancelled by the caller's timeout counts as a failure too.
            self._recent.append(failed)
            self.failures += failed

    async def aclose(self) -> None:
        await self._client.aclose()


def provider_app(
    *,
    seed: int = 7,
    profile: ProviderProfile = HEALTHY,
    outage: tuple[float, float] | None = None,
) -> Any:
    """The provider as a Starlette app: ``GET /quotes/{sku}`` answers a price or 503."""
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    provider = QuoteProvider(profile, random.Random(f"{seed}:provider"), outage=outage)

    async def quote(request: Request) -> JSONResponse:
        sku = request.path_params["sku"]
        try:
            found = await provider.quote(sku)
        except ProviderError as exc:
            return JSONResponse({"detail": str(exc)}, status_code=503)
        return JSONResponse({"sku": found.sku, "price": found.price, "currency": found.currency})

    async def livez(_: Request) -> JSONResponse:
        return JSONResponse({"status": "pass"})

    app = Starlette(routes=[Route("/quotes/{sku}", quote), Route("/livez", livez)])
    app.state.provider = provider
    token = os.environ.get("SLOKIT_FAULT_TOKEN") or None
    if token is not None:
        # The provider as a third party that can fail: a 5xx burst or throttling (429) from
        # it is injected with its own fault middleware, on for a chaos stack only.
        from slokit.asgi import instrument

        instrument(
            app,
            service="pricing-provider",
            faults=True,
            fault_token=token,
            access_log=False,
            probes=False,
        )
    return app
