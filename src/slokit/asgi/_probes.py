"""The endpoints the middleware answers itself: probes, /metrics and /ops/slo.

``/livez`` says only that the process serves requests (never depends on anything else, so a
database outage does not get every replica restarted); ``/startupz`` passes once start-up is
done: lifespan start-up and then every ``warmup=`` hook (the part a probe can observe);
``/readyz`` fails while starting, while draining, or when a critical dependency fails;
``/healthz`` gives every check's detail as ``application/health+json``, and ``/healthz/NAME``
one check's (``/healthz/migrations``).
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable
from typing import Any

from slokit.asgi._checks import HealthChecks, health_document, overall_status
from slokit.asgi._lifecycle import Lifecycle
from slokit.asgi._metrics import Metrics
from slokit.asgi._respond import Receive, Scope, Send, reply, reply_json
from slokit.asgi._slo import LiveSLOs
from slokit.resilience import State as BreakerState
from slokit.resilience import default_registry as breaker_registry

__all__ = ["Endpoint", "Probes", "metrics_endpoint", "ops_endpoint"]

Endpoint = Callable[[Scope, Receive, Send], Awaitable[None]]
HEALTH_JSON = b"application/health+json"


def _head(scope: Scope) -> bool:
    return bool(scope.get("method") == "HEAD")


class Probes:
    def __init__(self, lifecycle: Lifecycle, checks: HealthChecks, service: str) -> None:
        self.lifecycle = lifecycle
        self.checks = checks
        self.service = service

    def _phase(self) -> tuple[str | None, list[str]]:
        """``fail`` with a note while starting or draining, else no forced status."""
        if self.lifecycle.draining:
            return "fail", ["draining: shutting down, not accepting new work"]
        if not self.lifecycle.started:
            return "fail", ["starting: application start-up has not completed"]
        if not self.lifecycle.warmup.done:
            return "fail", [self.lifecycle.warmup.note()]
        return None, []

    async def livez(self, scope: Scope, receive: Receive, send: Send) -> None:
        await reply_json(send, 200, {"status": "pass"}, HEALTH_JSON, head=_head(scope))

    async def startupz(self, scope: Scope, receive: Receive, send: Send) -> None:
        lifecycle = self.lifecycle
        started = lifecycle.started and lifecycle.warmup.done
        document: dict[str, Any] = {"status": "pass" if started else "fail"}
        if lifecycle.started and not started:
            document["notes"] = [lifecycle.warmup.note()]
            if lifecycle.warmup.failed:
                document["failing"] = dict(lifecycle.warmup.failed)
        await reply_json(send, 200 if started else 503, document, HEALTH_JSON, head=_head(scope))

    async def readyz(self, scope: Scope, receive: Receive, send: Send) -> None:
        forced, notes = self._phase()
        document: dict[str, Any] = {}
        if forced is not None:
            # Not ready whatever the dependencies say: do not even query them.
            status = forced
        else:
            results = await self.checks.run()
            status = overall_status(results)
            # Every check by name, so a missing one shows: the detail is on /healthz.
            document["checks"] = {r.name: r.status for r in results}
            failing = {r.name: r.output for r in results if r.status != "pass"}
            if failing:
                document["failing"] = failing
        document = {"status": status, **({"notes": notes} if notes else {}), **document}
        code = 503 if status == "fail" else 200
        await reply_json(send, code, document, HEALTH_JSON, head=_head(scope))

    async def healthz(self, scope: Scope, receive: Receive, send: Send) -> None:
        forced, notes = self._phase()
        results = await self.checks.run()
        code, document = health_document(
            results,
            service=self.service,
            extra_status=forced,  # type: ignore[arg-type]
            notes=notes,
        )
        _add_breakers(document)
        await reply_json(send, code, document, HEALTH_JSON, head=_head(scope))

    def one(self, name: str) -> Endpoint:
        """``/healthz/NAME``: that check alone (seed 001's ``/health/migrations``), 503 when
        it fails, whatever the others say; the lifecycle does not count here."""

        async def serve(scope: Scope, receive: Receive, send: Send) -> None:
            results = [r for r in await self.checks.run() if r.name == name]
            code, document = health_document(results, service=self.service)
            await reply_json(send, code, document, HEALTH_JSON, head=_head(scope))

        return serve


def _add_breakers(document: dict[str, Any]) -> None:
    """Every circuit breaker of the process as a component: an open one makes the service
    degraded (warn), never unhealthy: it is doing its job."""
    checks = document.setdefault("checks", {})
    degraded = False
    for stats in breaker_registry.snapshot():
        is_open = stats.state is not BreakerState.CLOSED
        degraded = degraded or is_open
        entry: dict[str, Any] = {
            "componentId": stats.name,
            "componentType": "component",
            "status": "warn" if is_open else "pass",
            "observedValue": stats.state.value,
        }
        if stats.failure_rate is not None:
            entry["failureRate"] = round(stats.failure_rate, 4)
        if is_open:
            entry["output"] = f"circuit {stats.state.value}; retry after {stats.retry_after:.3g} s"
        checks[f"{stats.name}:circuitBreaker"] = [entry]
    if degraded and document.get("status") == "pass":
        document["status"] = "warn"


def metrics_endpoint(metrics: Metrics, flush: Callable[[], None]) -> Endpoint:
    async def serve(scope: Scope, receive: Receive, send: Send) -> None:
        flush()  # a scrape sees every request that has finished
        accept = ""
        for name, value in scope.get("headers", ()):
            if name == b"accept":
                accept = value.decode("latin-1")
        body, content_type = metrics.exposition(accept)
        await reply(send, 200, body, content_type.encode(), head=_head(scope))

    return serve


def ops_endpoint(live: LiveSLOs, token: str | None, flush: Callable[[], None]) -> Endpoint:
    expected = f"Bearer {token}".encode() if token else None

    async def serve(scope: Scope, receive: Receive, send: Send) -> None:
        if expected is not None:
            given = b""
            for name, value in scope.get("headers", ()):
                if name == b"authorization":
                    given = value
            # Constant-time: the token must not leak one byte at a time through timing.
            if not hmac.compare_digest(given, expected):
                await reply_json(
                    send,
                    401,
                    {"error": "this endpoint needs 'Authorization: Bearer <ops_token>'"},
                    headers=[(b"www-authenticate", b'Bearer realm="slokit"')],
                )
                return
        flush()
        document = live.snapshot()
        document["breakers"] = [
            {
                "name": b.name,
                "state": b.state.value,
                "failure_rate": b.failure_rate,
                "slow_call_rate": b.slow_call_rate,
                "retry_after_s": b.retry_after,
                "opened": b.open_count,
                "not_permitted": b.not_permitted,
            }
            for b in breaker_registry.snapshot()
        ]
        await reply_json(send, 200, document, head=_head(scope))

    return serve
