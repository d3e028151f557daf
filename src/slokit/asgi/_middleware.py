"""The middleware: one pure-ASGI layer that measures, identifies, logs and guards each request.

Everything happens in one ``__call__`` frame with every feature resolved at start-up into an
attribute that is either a ready object or None: a request pays for the features that are on
and nothing for the ones that are off. Order per request: the middleware's own endpoints
(probes, /metrics, /ops/slo, /ops/faults); then identity (request id, trace context); then
guards (body size, rate limits, reading the body ahead, concurrency), which answer without
calling the application; then injected faults, if any; then the application; then metrics,
live SLOs and the access-log line, also when the application raised.
"""

from __future__ import annotations

import os
import time
from collections.abc import Awaitable
from typing import Any

from prometheus_client import REGISTRY

from slokit.asgi._checks import HealthChecks
from slokit.asgi._concurrency import AdaptiveLimiter, ConcurrencyLimiter
from slokit.asgi._faults import FaultMiddleware
from slokit.asgi._guards import HTTP_METHODS, ClientAddress, RateLimiter, Refusal
from slokit.asgi._lifecycle import Lifecycle
from slokit.asgi._logs import AccessLog
from slokit.asgi._metrics import DEFAULT_BUCKETS, Metrics, latency_buckets
from slokit.asgi._options import Options, build_options
from slokit.asgi._otel import Tracing
from slokit.asgi._preread import GONE, PREREAD_LIMIT, Replay, preread, too_large
from slokit.asgi._probes import Endpoint, Probes, metrics_endpoint, ops_endpoint
from slokit.asgi._respond import Receive, Scope, Send, reply_circuit_open, reply_json
from slokit.asgi._routes import RouteLabels
from slokit.asgi._sink import FULL, RequestSink
from slokit.asgi._slo import LiveSLOs
from slokit.asgi._trace import (
    POOL,
    Fields,
    Holder,
    current_var,
    install_log_context,
    parse_traceparent,
    valid_request_id,
)
from slokit.errors import CircuitOpenError
from slokit.resilience import deadline_from_headers, enter_deadline, exit_deadline
from slokit.resilience import install_metrics as install_breaker_metrics
from slokit.spec import Spec

__all__ = ["SlokitMiddleware"]

set_var = current_var.set
_clock = time.perf_counter
_wall = time.time


_EXPIRED = Refusal(
    504, "deadline", [], "the caller's deadline (x-request-deadline) passed before this started"
)
_SHED = Refusal(
    503,
    "concurrency",
    [(b"retry-after", b"1")],
    "the service is at its concurrency limit; retry shortly",
)


_HTTP1 = frozenset({"1.0", "1.1"})


def _latency_target(opts: Options) -> tuple[float | None, float]:
    """What the adaptive limit defends: the option, else the tightest latency SLO."""
    latency = [s for s in opts.slos if s.latency is not None]
    if opts.latency_target is not None:
        # With an explicit target the share is the tightest latency SLO's, or 99 %.
        return opts.latency_target, max((s.objective for s in latency), default=0.99)
    if not latency:
        return None, 0.99  # no latency SLO: Gradient2 on its own
    tightest = min(latency, key=lambda s: (s.latency, -s.objective))
    return tightest.latency, tightest.objective


# What a request header is to this layer (see __call__).
_RID, _TRACEPARENT, _LENGTH, _CHUNKED, _USER, _DEADLINE = range(6)


async def _nothing() -> None:
    pass


class _Exchange(Holder):
    """One request's state between this layer and the application.

    An object with slots rather than closures over local variables: a closure needs a cell
    object per captured variable and a function object, a dozen small allocations per request
    that keep the garbage collector busy on a loaded server.
    """

    __slots__ = (
        "counted",
        "disconnected",
        "extra",
        "hijacked",
        "limit",
        "receive_",
        "refuse",
        "request_id",
        "send_",
        "size_out",
        "status",
    )
    # Set only for requests with a body (see __init__).
    disconnected: bool
    hijacked: bool
    """This layer answered on its own mid-request (body over the limit): from then on the
    application's messages are dropped, whatever it does about the body."""
    limit: int | None
    receive_: Receive | None
    refuse: Any

    def __init__(self, send: Send, request_id: bytes, fields: Fields) -> None:
        self.fields = fields
        self.send_: Send | None = send
        self.request_id = request_id
        self.status = 0
        self.size_out = 0
        self.extra: list[tuple[bytes, bytes]] | None = None
        self.counted = -1
        """Bytes of a chunked body so far; -1 when the body has a declared length."""
        # disconnected, hijacked, limit, receive_ and refuse are set only for requests with a
        # body: the common request pays for no store it does not read.

    def __call__(self, message: Any) -> Awaitable[None]:
        """The ``send`` the application gets: the object itself, so no bound method is made
        per request. A plain function returning the server's awaitable, not a coroutine of
        our own, which would be one more object per message."""
        send = self.send_
        if send is None:  # answered by this layer, or the request is over: nothing goes out
            return _nothing()
        kind = message["type"]
        if kind == "http.response.body":
            self.size_out += len(message.get("body", b""))
        elif kind == "http.response.start":
            self.status = message["status"]
            message = dict(message)
            headers = [*message.get("headers", ()), (b"x-request-id", self.request_id)]
            if self.extra:
                headers.extend(self.extra)
            message["headers"] = headers
        return send(message)

    async def receive(self) -> Any:
        """For requests with a body: notice a client that leaves mid-body, and for bodies of
        unknown length (chunked) count them and enforce max_body."""
        assert self.receive_ is not None
        message = await self.receive_()
        kind = message["type"]
        if kind == "http.request" and self.counted >= 0 and not self.hijacked:
            self.counted += len(message.get("body", b""))
            limit = self.limit
            if limit is not None and self.counted > limit:
                await self.refuse(self, too_large(limit))
                self.hijacked = True
                self.send_ = None
                # The application sees the client go away, never the excess bytes.
                return {"type": "http.disconnect"}
        elif kind == "http.disconnect":
            self.disconnected = True
        return message


class SlokitMiddleware:
    """Wrap an ASGI app: ``app.add_middleware(SlokitMiddleware, spec="slokit.yaml")``.

    See :func:`slokit.asgi.instrument` for every option; each feature can be switched off.
    """

    def __init__(
        self, app: Any, spec: Spec | str | os.PathLike[str] | None = None, **options: Any
    ) -> None:
        self.app = app
        self.options = opts = build_options(spec, options)
        self.lifecycle = Lifecycle(
            drain_delay=opts.drain_delay, drain_timeout=opts.drain_timeout, warmup=opts.warmup
        )
        templates = [t.route for t in opts.slos if t.route is not None]
        templates += [r.parsed()[0] for r in opts.rate_limits]
        self._labels = RouteLabels(templates, app)
        self._label_cache = self._labels.cache
        # Per-route counts serve both /metrics and the live SLOs; kept when either is on.
        self._metrics: Metrics | None = None
        live = opts.slo and bool(opts.slos)
        if opts.metrics or live:
            buckets = latency_buckets(
                [t.latency for t in opts.slos if t.latency is not None]
                + list(opts.alert_latencies),
                opts.buckets or DEFAULT_BUCKETS,
            )
            if opts.metrics:
                self._metrics = Metrics.for_registry(opts.registry or REGISTRY, buckets)
                # The process's circuit breakers show on the same /metrics.
                install_breaker_metrics(opts.registry or REGISTRY)
                self._metrics.count_in_flight(lambda: self.lifecycle.in_flight)
            else:
                self._metrics = Metrics(None, buckets)
        self._log: AccessLog | None = None
        if opts.access_log is not False:
            self._log = AccessLog(
                opts.log_stream(),
                service=opts.service,
                user_header=opts.user_header,
                headers=opts.log_headers,
                mask=opts.mask,
            )
        self._live = LiveSLOs(opts.slos, self._metrics) if live and self._metrics else None
        self._sink: RequestSink | None = None
        if self._metrics is not None or self._live is not None or self._log is not None:
            self._sink = RequestSink(self._metrics, self._live, self._log, self._poll_tracing)
            # The first shutdown hook: the last batch reaches metrics and logs.
            self.lifecycle.on_shutdown(self._sink.flush)
        if self._metrics is not None:
            self.lifecycle.on_shutdown(self._metrics.process_exited)
        self._clients = ClientAddress(opts.trusted_proxies)
        self._rates: RateLimiter | None = None
        if opts.rate_limits:
            self._rates = RateLimiter(
                opts.rate_limits,
                redis_url=opts.redis_url,
                on_store_error=opts.on_store_error,
                clients=self._clients,
                metrics=self._metrics,
                service=opts.service,
                prefix=opts.rate_limit_prefix,
            )
            self.lifecycle.on_started(self._rates.started)  # the multi-worker warning
            self.lifecycle.on_shutdown(self._rates.aclose)
        self._rate_methods = self._rates.methods if self._rates is not None else frozenset()
        self._limiter: ConcurrencyLimiter | None = None
        if opts.concurrency == "adaptive":
            target, share = _latency_target(opts)
            self._limiter = AdaptiveLimiter(
                queue_timeout=opts.queue_timeout, target=target, target_share=share
            )
        elif isinstance(opts.concurrency, int):
            self._limiter = ConcurrencyLimiter(opts.concurrency, queue_timeout=opts.queue_timeout)
        self._max_body = opts.max_body
        self._body_timeout = opts.body_timeout
        self._preread_bound = opts.max_body or PREREAD_LIMIT
        wanted = {
            b"traceparent": _TRACEPARENT,
            b"content-length": _LENGTH,
            b"transfer-encoding": _CHUNKED,
            b"x-request-deadline": _DEADLINE,
            opts.request_id_header.lower().encode("latin-1"): _RID,
        }
        if self._log is not None and self._log.user_header is not None:
            wanted.setdefault(self._log.user_header, _USER)
        self._wanted = wanted.get
        # Set only when the access log records request headers: one test per request.
        self._header_log = self._log if self._log is not None and self._log.headers else None
        self._shared_metrics = (
            self._metrics if self._metrics is not None and self._metrics.multiprocess else None
        )
        self._exclude = opts.exclude_paths
        self.checks = HealthChecks(opts.checks, ttl=opts.check_ttl)
        self.lifecycle.on_shutdown(self.checks.aclose)
        self._endpoints = self._build_endpoints(opts)
        self._special = frozenset(self._endpoints) | self._exclude
        self._faults: FaultMiddleware | None = None
        if opts.faults:
            faults = FaultMiddleware(
                app,
                token=opts.fault_token,
                path=opts.faults_path,
                seed=opts.fault_seed,
                registry=opts.registry or REGISTRY,
                metrics=opts.metrics,
                exempt_paths=[*self._endpoints, *self._exclude],
                labels=self._labels,
            )
            if faults.enabled:
                self._faults = faults
                # The admin endpoint is answered in __call__, before the guards, so faults can
                # be switched off even while rate limits or load shedding refuse everything.
                # Injection sits between the guards and the application (self.app is called
                # only for admitted requests): a fault stands in for the application or its
                # dependencies failing, so everything here reacts as to a real failure. The
                # 503s and delays are counted in http_requests_total, the latency histograms,
                # the live SLOs and the access log (that is the point: SLOs must see them); a
                # delay holds a concurrency slot and feeds the adaptive limit, an injected 5xx
                # counts as a dropped request; a request a guard refuses is never faulted.
                self.app = faults.layer
        self._guarded = bool(self._max_body or self._rates or self._limiter)
        self._tracing = Tracing(opts.tracing) if opts.tracing is not False else None
        self._poll_tracing()
        self.lifecycle.on_started(self._poll_tracing)
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
            for check in opts.checks:
                endpoints[f"{opts.healthz_path.rstrip('/')}/{check.name}"] = probes.one(check.name)
        if self._metrics is not None and opts.metrics:
            endpoints[opts.metrics_path] = metrics_endpoint(self._metrics, self._flush)
        if self._live is not None:
            endpoints[opts.ops_path] = ops_endpoint(self._live, opts.ops_token, self._flush)
        return endpoints

    def _poll_tracing(self) -> None:
        if self._tracing is not None:
            self._tracing.poll()

    def _flush(self) -> None:
        if self._sink is not None:
            self._sink.flush()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind != "http":
            if kind == "lifespan":
                await self.lifecycle.lifespan(self.app, scope, receive, send)
            else:
                await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        if path in self._special:  # one test for the probes, /metrics, /ops/slo, excluded paths
            endpoint = self._endpoints.get(path)
            if endpoint is not None and scope["method"] in ("GET", "HEAD"):
                await endpoint(scope, receive, send)
                return
            if path in self._exclude:
                await self.app(scope, receive, send)
                return
        faults = self._faults
        if faults is not None and path.startswith(faults.path) and faults.owns(path):
            await faults.admin(scope, receive, send)
            return
        # From here on one frame serves the request: an extra coroutine call per request is a
        # measurable share of this layer's cost.
        started = _clock()
        lifecycle = self.lifecycle
        if not lifecycle.started:
            lifecycle.first_request()
        method: str = scope["method"]
        if method not in HTTP_METHODS:
            method = "OTHER"  # a label value the client cannot choose
        # One pass over the headers for everything this layer reads: one dict lookup per
        # header, where a chain of comparisons would cost six for each header we ignore.
        rid_raw = traceparent = length = user_raw = deadline_raw = None
        chunked = malformed = False
        wanted = self._wanted
        for name, value in scope["headers"]:
            slot = wanted(name)
            if slot is None:
                continue
            if slot == _RID:
                rid_raw = value
            elif slot == _TRACEPARENT:
                traceparent = value
            elif slot == _LENGTH:
                if length is not None and value != length:
                    malformed = True
                length = value
            elif slot == _CHUNKED:
                chunked = True
            elif slot == _USER:
                user_raw = value
            else:
                deadline_raw = value
        # Ids from the pool (see _trace.POOL), already cut and encoded.
        trace_id, span_id, request_id, rid_bytes = next(POOL.ids, None) or POOL.refill()
        parent_id: str | None = None
        sampled = True
        parent = None if traceparent is None else parse_traceparent(traceparent)
        if parent is not None:
            trace_id, parent_id, sampled = parent
        span = None
        tracing = self._tracing
        if tracing is not None and tracing.ready:
            started_span = tracing.start(method, path, parent)
            if started_span is not None:
                span, trace_id, span_id = started_span
        if parent is not None or span is not None:
            request_id = span_id + trace_id[:16]
            rid_bytes = request_id.encode("ascii")
        if rid_raw is not None:
            valid = valid_request_id(rid_raw)
            if valid is not None:
                request_id, rid_bytes = valid, rid_raw

        size_in = 0
        if length is not None:
            if length.isdigit() and len(length) < 19:
                size_in = int(length)
            else:
                malformed = True
        if chunked and length is not None:
            malformed = True  # both framings: a request-smuggling shape, never forwarded
        # HTTP/2 and HTTP/3 frame a body without either header, HTTP/1 requests cannot have
        # one without them: only there is a body of unknown length counted as it streams.
        unknown = chunked or (length is None and scope.get("http_version", "1.1") not in _HTTP1)

        refusal: Refusal | None = None
        limiter = self._limiter
        admitted = False
        lifecycle.in_flight += 1
        shared = self._shared_metrics
        if shared is not None:
            shared.started()
        ex = _Exchange(send, rid_bytes, (request_id, trace_id, span_id, parent_id, sampled))
        # set_current and reset_current, inlined: two calls fewer per request.
        set_var(ex)
        # The caller's deadline (x-request-deadline) bounds what this request may spend:
        # slokit.resilience's timeouts and outgoing calls see it. Passed already: 504.
        expired = False
        deadline_token = None
        if deadline_raw is not None:
            remaining = deadline_from_headers(((b"x-request-deadline", deadline_raw),))
            if remaining is not None:
                if remaining <= 0:
                    expired = True
                else:
                    deadline_token = enter_deadline(remaining)
        try:
            if malformed:
                refusal = Refusal(
                    400, "malformed", [], "malformed request framing (Content-Length)"
                )
            elif expired:
                refusal = _EXPIRED
            elif self._guarded:
                max_body = self._max_body
                if max_body is not None and size_in > max_body:
                    refusal = too_large(max_body)
                elif self._rates is not None and method in self._rate_methods:
                    rules = self._rates.matching(method, path)
                    if rules:
                        refusal, ex.extra = await self._rates.check(rules, scope)
                if refusal is None and limiter is not None:
                    if (unknown or size_in) and size_in <= self._preread_bound:
                        # Read the body before taking a slot: a slow sender holds none.
                        read = await preread(
                            receive,
                            bound=self._preread_bound,
                            max_body=max_body,
                            timeout=self._body_timeout,
                        )
                        if isinstance(read, Refusal):
                            refusal = read
                        else:
                            receive = Replay(read, receive)
                    if refusal is None:
                        admitted = limiter.try_enter() or await limiter.acquire()
                        if not admitted:
                            refusal = _SHED
            if refusal is GONE:
                ex.status = 499  # nobody left to answer
            elif refusal is not None:
                await self._refuse(ex, refusal)
            elif unknown or size_in:
                ex.receive_ = receive
                ex.refuse = self._refuse
                ex.limit = self._max_body
                ex.disconnected = ex.hijacked = False
                if unknown:
                    ex.counted = 0
                try:
                    await self.app(scope, ex.receive, ex)
                except Exception as exc:
                    if ex.hijacked:
                        pass  # answered 413 already; the app's complaint about the body is moot
                    elif ex.disconnected and ex.status == 0:
                        ex.status = 499  # the client went away mid-request: nobody to answer
                    elif ex.status == 0 and isinstance(exc, CircuitOpenError):
                        await reply_circuit_open(ex, exc)  # 503 + Retry-After, not a 500
                    else:
                        ex.status = ex.status or 500  # the server answers 500 for us
                        raise
                finally:
                    # ex outlives the request in the context: no reference to the server's
                    # receive (and through it the task) may stay in it.
                    ex.receive_ = ex.refuse = None
            else:
                try:
                    await self.app(scope, receive, ex)
                except Exception as exc:
                    if ex.status == 0 and isinstance(exc, CircuitOpenError):
                        # An open breaker the app did not handle: the service is unavailable
                        # for a known time, so 503 + Retry-After (counted as such), not a 500.
                        await reply_circuit_open(ex, exc)
                    else:
                        ex.status = ex.status or 500  # the server answers 500 for us
                        raise
        finally:
            elapsed = _clock() - started
            status = ex.status
            lifecycle.in_flight -= 1
            if admitted:
                assert limiter is not None
                limiter.release(elapsed, status >= 500)
            if ex.counted >= 0:
                size_in = ex.counted
            route = scope.get("route")
            label = self._label_cache.get(id(route)) if route is not None else None
            if label is None:
                label = self._labels.label(scope)
            if shared is not None:
                shared.finished()
            sink = self._sink
            if sink is not None:
                client = scope.get("client")
                log = self._header_log
                # RequestSink.push, inlined: one call fewer per request.
                pending = sink.pending
                pending.extend(
                    (
                        _wall(),
                        request_id,
                        trace_id,
                        span_id,
                        method,
                        label,
                        path,
                        scope.get("query_string", b""),
                        status,
                        elapsed,
                        size_in,
                        ex.size_out,
                        client[0] if client else None,
                        None if user_raw is None else user_raw.decode("latin-1"),
                        None if log is None else log.header_values(scope["headers"]),
                    )
                )
                if not sink.armed or len(pending) >= FULL:
                    sink.arm()
            if span is not None:
                assert tracing is not None
                tracing.end(span, method, label, status)
            ex.fields = None
            if deadline_token is not None:
                exit_deadline(deadline_token)
            # The context still holds ex, and ex would hold the server's send (and through it
            # the task): drop it so no reference cycle outlives the request.
            ex.send_ = None

    async def _refuse(self, send: Send, refusal: Refusal) -> None:
        if self._metrics is not None:
            self._metrics.reject(refusal.reason)
        await reply_json(
            send,
            refusal.status,
            {"error": refusal.reason, "detail": refusal.message},
            headers=[(b"connection", b"close")]
            if refusal.status in (400, 408, 413)
            else refusal.headers,
        )
