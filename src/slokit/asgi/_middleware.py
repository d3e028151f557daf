"""The middleware: one pure-ASGI layer that measures, identifies, logs and guards each request.

Everything happens in one ``__call__`` frame with every feature resolved at start-up into an
attribute that is either a ready object or None: a request pays for the features that are on
and nothing for the ones that are off. Order per request: the middleware's own endpoints
(probes, /metrics, /ops/slo); then identity (request id, trace context); then guards (body
size, rate limits, concurrency), which answer without calling the application; then the
application; then metrics, live SLOs and the access-log line, also when the application
raised.
"""

from __future__ import annotations

import os
import time
from typing import Any

from prometheus_client import REGISTRY

from slokit.asgi._checks import HealthChecks
from slokit.asgi._concurrency import AdaptiveLimiter, ConcurrencyLimiter
from slokit.asgi._guards import ClientAddress, RateLimiter, Refusal
from slokit.asgi._lifecycle import Lifecycle
from slokit.asgi._logs import AccessLog
from slokit.asgi._metrics import Metrics, latency_buckets
from slokit.asgi._options import Options, build_options
from slokit.asgi._otel import Tracing
from slokit.asgi._probes import Endpoint, Probes, metrics_endpoint, ops_endpoint
from slokit.asgi._respond import Receive, Scope, Send, reply_json
from slokit.asgi._routes import RouteLabels
from slokit.asgi._slo import LiveSLOs
from slokit.asgi._trace import (
    RequestContext,
    install_log_context,
    new_span_id,
    new_trace_id,
    parse_traceparent,
    reset_current,
    set_current,
    valid_request_id,
)
from slokit.spec import Spec

__all__ = ["SlokitMiddleware"]

_METHODS = frozenset(
    {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "CONNECT"}
)
_clock = time.perf_counter


_SHED = Refusal(
    503,
    "concurrency",
    [(b"retry-after", b"1")],
    "the service is at its concurrency limit; retry shortly",
)


def _too_large(limit: int) -> Refusal:
    return Refusal(413, "body_too_large", [], f"the request body is over the {limit}-byte limit")


class SlokitMiddleware:
    """Wrap an ASGI app: ``app.add_middleware(SlokitMiddleware, spec="slokit.yaml")``.

    See :func:`slokit.asgi.instrument` for every option; each feature can be switched off.
    """

    def __init__(
        self, app: Any, spec: Spec | str | os.PathLike[str] | None = None, **options: Any
    ) -> None:
        self.app = app
        self.options = opts = build_options(spec, options)
        self.lifecycle = Lifecycle(drain_delay=opts.drain_delay, drain_timeout=opts.drain_timeout)
        templates = [t.route for t in opts.slos if t.route is not None]
        templates += [r.parsed()[0] for r in opts.rate_limits]
        self._labels = RouteLabels(templates, app)
        self._metrics: Metrics | None = None
        if opts.metrics:
            buckets = latency_buckets(
                [t.latency for t in opts.slos if t.latency is not None],
                opts.buckets or None or latency_buckets(()),
            )
            self._metrics = Metrics.for_registry(opts.registry or REGISTRY, buckets)
            self.lifecycle.on_shutdown(self._metrics.process_exited)
        self._log: AccessLog | None = None
        if opts.access_log is not False:
            self._log = AccessLog(
                opts.log_stream(),
                service=opts.service,
                user_header=opts.user_header,
                headers=opts.log_headers,
                mask=opts.mask,
            )
            self.lifecycle.on_shutdown(self._log.flush)
        self._live = LiveSLOs(opts.slos) if opts.slo and opts.slos else None
        self._clients = ClientAddress(opts.trusted_proxies)
        self._rates: RateLimiter | None = None
        if opts.rate_limits:
            self._rates = RateLimiter(
                opts.rate_limits,
                redis_url=opts.redis_url,
                on_store_error=opts.on_store_error,
                clients=self._clients,
                metrics=self._metrics,
            )
            self.lifecycle.on_shutdown(self._rates.aclose)
        self._limiter: ConcurrencyLimiter | None = None
        if opts.concurrency == "adaptive":
            self._limiter = AdaptiveLimiter(queue_timeout=opts.queue_timeout)
        elif isinstance(opts.concurrency, int):
            self._limiter = ConcurrencyLimiter(opts.concurrency, queue_timeout=opts.queue_timeout)
        self._max_body = opts.max_body
        self._rid_header = opts.request_id_header.encode("latin-1")
        self._user_header = self._log.user_header if self._log is not None else None
        self._exclude = opts.exclude_paths
        self.checks = HealthChecks(opts.checks, ttl=opts.check_ttl)
        self.lifecycle.on_shutdown(self.checks.aclose)
        self._endpoints = self._build_endpoints(opts)
        self._guarded = bool(self._max_body or self._rates or self._limiter)
        tracing = Tracing(opts.tracing) if opts.tracing is not False else None
        self._tracing = tracing if tracing is not None and tracing.possible else None
        if opts.log_context:
            install_log_context()

    def _build_endpoints(self, opts: Options) -> dict[str, Endpoint]:
        endpoints: dict[str, Endpoint] = {}
        if opts.probes:
            probes = Probes(self.lifecycle, self.checks, opts.service)
            endpoints[opts.livez_path] = probes.livez
            endpoints[opts.readyz_path] = probes.readyz
            endpoints[opts.startupz_path] = probes.startupz
            endpoints[opts.healthz_path] = probes.healthz
        if self._metrics is not None:
            endpoints[opts.metrics_path] = metrics_endpoint(self._metrics)
        if self._live is not None:
            endpoints[opts.ops_path] = ops_endpoint(self._live, opts.ops_token)
        return endpoints

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind != "http":
            if kind == "lifespan":
                await self.lifecycle.lifespan(self.app, scope, receive, send)
            else:
                await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        endpoint = self._endpoints.get(path)
        if endpoint is not None and scope["method"] in ("GET", "HEAD"):
            await endpoint(scope, receive, send)
            return
        if path in self._exclude:
            await self.app(scope, receive, send)
            return
        await self._serve(scope, receive, send, path)

    async def _serve(self, scope: Scope, receive: Receive, send: Send, path: str) -> None:
        started = _clock()
        lifecycle = self.lifecycle
        lifecycle.first_request()
        method: str = scope["method"]
        if method not in _METHODS:
            method = "OTHER"  # a label value the client cannot choose
        # One pass over the headers for everything this layer reads.
        rid_raw = traceparent = length = user_raw = None
        chunked = malformed = False
        rid_header, user_header = self._rid_header, self._user_header
        for name, value in scope["headers"]:
            if name == rid_header:
                rid_raw = value
            elif name == b"traceparent":
                traceparent = value
            elif name == b"content-length":
                if length is not None and value != length:
                    malformed = True
                length = value
            elif name == b"transfer-encoding":
                chunked = True
            elif name == user_header:
                user_raw = value
        request_id = valid_request_id(rid_raw) if rid_raw is not None else None
        parent = parse_traceparent(traceparent) if traceparent is not None else None
        if parent is not None:
            trace_id, parent_id, sampled = parent
        else:
            trace_id, parent_id, sampled = new_trace_id(), None, True
        span_id = new_span_id()
        span = None
        if self._tracing is not None:
            started_span = self._tracing.start(method, path, parent)
            if started_span is not None:
                span, trace_id, span_id = started_span
        if request_id is None:
            request_id = span_id + trace_id[:16]
        ctx = RequestContext(request_id, trace_id, span_id, parent_id, sampled)
        token = set_current(ctx)
        rid_bytes = request_id.encode("ascii")

        size_in = 0
        if length is not None:
            if length.isdigit() and len(length) < 19:
                size_in = int(length)
            else:
                malformed = True
        if chunked and length is not None:
            malformed = True  # both framings: a request-smuggling shape, never forwarded

        status = 0
        size_out = 0
        extra_headers: list[tuple[bytes, bytes]] = []
        refusal: Refusal | None = None
        limiter = self._limiter
        admitted = False
        # Set when this layer answered on its own mid-request (body over the limit): from then
        # on the application's messages are dropped, whatever it does about the cut-off body.
        hijacked = False
        disconnected = False
        counted = -1
        lifecycle.in_flight += 1
        metrics = self._metrics
        if metrics is not None:
            metrics.started()

        async def send_wrapper(message: Any) -> None:
            nonlocal status, size_out
            if hijacked:
                return
            if message["type"] == "http.response.start":
                status = message["status"]
                message = dict(message)
                message["headers"] = [
                    *message.get("headers", ()),
                    (b"x-request-id", rid_bytes),
                    *extra_headers,
                ]
            elif message["type"] == "http.response.body":
                size_out += len(message.get("body", b""))
            await send(message)

        async def body_receive() -> Any:
            # Only for requests with a body: notice a client that leaves mid-body, and for
            # bodies of unknown length (chunked) count them and enforce max_body.
            nonlocal counted, hijacked, disconnected
            message = await receive()
            kind = message["type"]
            if kind == "http.request" and counted >= 0 and not hijacked:
                counted += len(message.get("body", b""))
                limit = self._max_body
                if limit is not None and counted > limit:
                    refused = _too_large(limit)
                    await self._refuse(send_wrapper, refused)
                    hijacked = True
                    # The application sees the client go away, never the excess bytes.
                    return {"type": "http.disconnect"}
            elif kind == "http.disconnect":
                disconnected = True
            return message

        try:
            if malformed:
                refusal = Refusal(
                    400, "malformed", [], "malformed request framing (Content-Length)"
                )
            elif self._guarded:
                refusal = await self._guard(scope, method, path, size_in, extra_headers)
                if refusal is None and limiter is not None:
                    admitted = await limiter.acquire()
                    if not admitted:
                        refusal = _SHED
            if refusal is not None:
                await self._refuse(send_wrapper, refusal)
            else:
                app_receive = receive
                if chunked or size_in:
                    app_receive = body_receive
                    if chunked:
                        counted = 0
                try:
                    await self.app(scope, app_receive, send_wrapper)
                except Exception:
                    if hijacked:
                        pass  # answered 413 already; the app's complaint about the body is moot
                    elif disconnected and status == 0:
                        status = 499  # the client went away mid-request: nobody to answer
                    else:
                        status = status or 500  # the server answers 500 for us
                        raise
        finally:
            elapsed = _clock() - started
            lifecycle.in_flight -= 1
            if admitted:
                assert limiter is not None
                limiter.release(elapsed, dropped=status >= 500)
            if counted >= 0:
                size_in = counted
            label = self._after(
                scope, method, path, status, elapsed, size_in, size_out, ctx, user_raw
            )
            if span is not None:
                assert self._tracing is not None
                self._tracing.end(span, method, label, status)
            reset_current(token)

    def _after(
        self,
        scope: Scope,
        method: str,
        path: str,
        status: int,
        elapsed: float,
        size_in: int,
        size_out: int,
        ctx: RequestContext,
        user_raw: bytes | None,
    ) -> str:
        label = self._labels.label(scope)
        metrics = self._metrics
        if metrics is not None:
            metrics.finished()
            metrics.observe(label, method, status, elapsed, size_in, size_out)
        if self._live is not None:
            self._live.record(method, label, path, status, elapsed)
        log = self._log
        if log is not None:
            client = scope.get("client")
            log.write(
                log.line(
                    request_id=ctx.request_id,
                    trace_id=ctx.trace_id,
                    span_id=ctx.span_id,
                    method=method,
                    route=label,
                    path=path,
                    query=scope.get("query_string", b""),
                    status=status,
                    seconds=elapsed,
                    bytes_in=size_in,
                    bytes_out=size_out,
                    client=client[0] if client else None,
                    user=user_raw.decode("latin-1") if user_raw is not None else None,
                    logged_headers=log.header_values(scope["headers"]),
                )
            )
        return label

    async def _guard(
        self,
        scope: Scope,
        method: str,
        path: str,
        size_in: int,
        extra_headers: list[tuple[bytes, bytes]],
    ) -> Refusal | None:
        limit = self._max_body
        if limit is not None and size_in > limit:
            return _too_large(limit)
        if self._rates is not None:
            rules = self._rates.matching(method, path)
            if rules:
                refusal, headers = await self._rates.check(rules, scope)
                if refusal is not None:
                    return refusal
                extra_headers.extend(headers)
        return None

    async def _refuse(self, send: Send, refusal: Refusal) -> None:
        if self._metrics is not None:
            self._metrics.rejected.labels(refusal.reason).inc()
        await reply_json(
            send,
            refusal.status,
            {"error": refusal.reason, "detail": refusal.message},
            headers=[(b"connection", b"close")]
            if refusal.status in (400, 413)
            else refusal.headers,
        )
