"""HTTP fault injection for chaos experiments: abort or delay a share of requests, by route.

Off unless a token is configured (``token=`` or ``$SLOKIT_FAULT_TOKEN``): without one the
admin endpoint does not exist (the application answers its path, a 404 like any unknown path)
and no fault can ever be active. With one, ``/ops/faults`` (``Authorization: Bearer <token>``)
lists (GET), adds (POST a JSON fault), and removes (DELETE, DELETE ``/ops/faults/{id}``)
faults at run time. Faults live in the process's memory: each worker has its own set, and a
restart clears them. A request while no fault is active pays one attribute check.
"""

from __future__ import annotations

import asyncio
import difflib
import hmac
import json
import logging
import os
import random
import re
import secrets
import time
import weakref
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any

from prometheus_client import REGISTRY, CollectorRegistry, Counter

from slokit.asgi._respond import Message, Receive, Scope, Send, reply_json
from slokit.asgi._routes import UNMATCHED, RouteLabels
from slokit.errors import UsageError
from slokit.spec import Route, parse_duration, parse_percent

__all__ = ["DEFAULT_PATH", "TOKEN_ENV", "FaultMiddleware", "check_token", "resolve_token"]

TOKEN_ENV = "SLOKIT_FAULT_TOKEN"
DEFAULT_PATH = "/ops/faults"
MIN_TOKEN = 16
MAX_FAULTS = 64
MAX_DELAY = 60.0
MAX_BODY = 16_384
KEYS = ("route", "abort", "delay", "share", "duration")
NEVER_FAULTED = frozenset({"/livez", "/readyz", "/startupz", "/healthz", "/metrics"})
"""Paths never faulted, besides everything under ``/ops/`` and the admin endpoint."""
EXAMPLE = {"route": "GET /api/quotes/{sku}", "abort": 503, "share": "25%", "duration": "5m"}

_CONVERTER = re.compile(r"\{([A-Za-z_]\w*):(?!path\})[^{}]*\}")  # {id:int} -> {id}
_PARAM = re.compile(r"\{[^{}]*\}")
_UNAUTHORIZED = {"error": "unauthorized", "detail": "send 'Authorization: Bearer <fault token>'"}
_CHALLENGE = [(b"www-authenticate", b'Bearer realm="slokit"')]
_clock = time.monotonic
log = logging.getLogger("slokit.asgi")
_COUNTERS: weakref.WeakKeyDictionary[CollectorRegistry, Counter] = weakref.WeakKeyDictionary()


def check_token(token: Any, source: str = "fault_token") -> str:
    """``token`` if it is hard enough to guess, else a UsageError (never showing it)."""
    if not isinstance(token, str):
        raise UsageError(f"{source} must be a string, got {type(token).__name__}")
    problem = None
    if len(token) < MIN_TOKEN:
        problem = f"is {len(token)} characters long; it needs at least {MIN_TOKEN}"
    elif not all("!" <= c <= "~" for c in token):
        problem = "must be printable ASCII without spaces"
    elif len(set(token)) < 6:
        problem = "has fewer than 6 different characters"
    if problem is not None:
        raise UsageError(
            f"{source} {problem}: whoever holds it can break this service on purpose; make "
            "one with: python -c 'import secrets; print(secrets.token_urlsafe(32))'"
        )
    return token


def resolve_token(token: str | None, source: str = "fault_token") -> str | None:
    """The configured token, checked: ``token``, else ``$SLOKIT_FAULT_TOKEN``, else None."""
    if token is not None:
        return check_token(token, source)
    env = os.environ.get(TOKEN_ENV)
    return check_token(env, TOKEN_ENV) if env else None


def _counter(registry: CollectorRegistry) -> Counter:
    counter = _COUNTERS.get(registry)
    if counter is None:
        counter = _COUNTERS[registry] = Counter(
            "slokit_faults_injected",
            "Requests a slokit fault aborted or delayed on purpose, by route template and kind.",
            ["route", "kind"],
            registry=registry,
        )
    return counter


def _shape(template: str) -> str:
    """A template with its parameters blanked: ``/items/{id:int}`` and ``/items/{x}`` agree."""
    return _PARAM.sub("{}", template)


@dataclass(slots=True, eq=False)
class _Fault:
    id: str
    route: Route | None
    shape: str
    abort: int | None
    delay: float
    share: float
    duration: float | None
    expires: float
    created: float
    injected: int = 0

    def matches(self, method: str, path: str, label: str, shape: str) -> bool:
        route = self.route
        if route is None:
            return True
        if route.method != "*" and route.method != method:
            return False
        if label == UNMATCHED:  # no router resolved it (a plain ASGI app): the template's regex
            return route.matches(method, path)
        return shape == self.shape or route.path == path

    def document(self, now: float) -> dict[str, Any]:
        return {
            "id": self.id,
            "route": None if self.route is None else str(self.route),
            "abort": self.abort,
            "delay": self.delay or None,
            "share": self.share,
            "duration": self.duration,
            "expires_in": None if self.duration is None else round(max(0.0, self.expires - now), 3),
            "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self.created)),
            "injected": self.injected,
        }


def _parse(document: Any, exempt: Callable[[str], bool]) -> _Fault | list[str]:
    """A fault from a POSTed JSON document, or what is wrong with it."""
    if not isinstance(document, dict):
        return [f"the body must be a JSON object such as {json.dumps(EXAMPLE)}"]
    problems = []
    for key in document:
        if key not in KEYS:
            close = difflib.get_close_matches(str(key), KEYS, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            problems.append(f"unknown key {key!r}{hint}; a fault has {', '.join(KEYS)}")
    given = {k: v for k, v in document.items() if k in KEYS and v is not None}
    fields: dict[str, Any] = {"route": None, "abort": None, "delay": 0.0, "share": 1.0}
    fields["duration"] = None
    if "route" in given:
        try:
            text = given["route"]
            if not isinstance(text, str):
                raise ValueError(f"got {json.dumps(text)}")
            fields["route"] = route = Route.parse(_CONVERTER.sub(r"{\1}", text))
            if exempt(route.path):
                problems.append(f"route: {route.path} is never faulted (probes, /metrics, /ops/*)")
        except ValueError as exc:
            problems.append(f"route: {exc}; write 'GET /api/quotes/{{sku}}' or '/api/orders'")
    abort = given.get("abort")
    if isinstance(abort, int) and not isinstance(abort, bool) and 400 <= abort <= 599:
        fields["abort"] = abort
    elif abort is not None:
        problems.append(f"abort must be an HTTP status from 400 to 599, got {abort!r}")
    for key in ("delay", "duration"):
        if key in given:
            try:
                fields[key] = seconds = parse_duration(given[key])
            except (ValueError, TypeError) as exc:
                problems.append(f"{key}: {exc}")
                continue
            if key == "delay" and seconds > MAX_DELAY:
                problems.append(f"delay must be at most {MAX_DELAY:g}s, got {given[key]!r}")
            elif key == "duration" and seconds <= 0:
                problems.append(f"duration must be above 0, got {given[key]!r}; or leave it out")
    if "share" in given:
        try:
            fields["share"] = parse_percent(given["share"])
        except (ValueError, TypeError) as exc:
            problems.append(f"share must be between 0 and 1 (or 0% and 100%): {exc}")
    if not (
        fields["abort"] or fields["delay"] or any(p[:5] in ("abort", "delay") for p in problems)
    ):
        problems.append("a fault needs abort (a status from 400 to 599), delay ('200ms') or both")
    if problems:
        return problems
    route, duration = fields["route"], fields["duration"]
    return _Fault(
        id=secrets.token_hex(4),
        route=route,
        shape=_shape(route.path) if route is not None else "",
        abort=fields["abort"],
        delay=fields["delay"],
        share=fields["share"],
        duration=duration,
        expires=_clock() + duration if duration is not None else float("inf"),
        created=time.time(),
    )


class FaultMiddleware:
    """Abort or delay a share of requests, switched at run time on a token-protected endpoint.

    ``app.add_middleware(FaultMiddleware, token=...)`` (or ``$SLOKIT_FAULT_TOKEN``); with no
    token it passes everything through and the admin ``path`` does not exist. ``seed`` makes
    the share draws repeatable; ``registry`` (default prometheus-client's REGISTRY; ``metrics=
    False`` for none) gets ``slokit_faults_injected_total{route,kind}``; ``exempt_paths`` are
    never faulted, besides probes, ``/metrics`` and ``/ops/*``. ``labels`` is for
    :class:`~slokit.asgi.SlokitMiddleware`, which shares its route resolution.
    """

    def __init__(
        self,
        app: Any,
        *,
        token: str | None = None,
        path: str = DEFAULT_PATH,
        seed: int | None = None,
        registry: CollectorRegistry | None = None,
        metrics: bool = True,
        exempt_paths: Iterable[str] = (),
        labels: RouteLabels | None = None,
    ) -> None:
        self.app = app
        resolved = resolve_token(token, "token")
        self.enabled = resolved is not None
        self._token = (resolved or "").encode("ascii")
        if not isinstance(path, str) or not path.startswith("/") or path.rstrip("/") == "":
            raise UsageError(f"the faults path {path!r} must be a path such as '/ops/faults'")
        self.path = path.rstrip("/")
        self._prefix = self.path + "/"
        self._exempt = NEVER_FAULTED | frozenset(exempt_paths)
        if self.path in self._exempt:
            raise UsageError(
                f"the faults path {path!r} is already a probe, /metrics or excluded path"
            )
        if seed is not None and (not isinstance(seed, int) or isinstance(seed, bool)):
            raise UsageError(f"fault_seed must be an integer, got {seed!r}")
        self._draw = random.Random(seed).random if seed is not None else random.random
        self._labels = labels if labels is not None else RouteLabels((), app)
        self._counter = _counter(registry or REGISTRY) if self.enabled and metrics else None
        self.active: tuple[_Fault, ...] = ()
        """The faults in force; replaced whole on each change, so reading it needs no lock."""
        self._next_expiry = float("inf")
        self.layer = self._layer()
        """What an enclosing middleware calls instead of the app (see :meth:`_layer`)."""
        if not self.enabled:
            log.warning(
                "fault injection stays off: no token (fault_token= or $%s) is configured",
                TOKEN_ENV,
            )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.enabled and scope["type"] == "http" and self.owns(scope["path"]):
            await self.admin(scope, receive, send)
            return
        await self.layer(scope, receive, send)

    def _layer(self) -> Callable[[Scope, Receive, Send], Awaitable[None]]:
        """A plain function returning the app's own awaitable while no fault is active: the
        request pays one attribute check, and no extra coroutine or bound-method call."""
        app, inject = self.app, self.inject

        def layer(scope: Scope, receive: Receive, send: Send) -> Awaitable[None]:
            if not self.active:
                return app(scope, receive, send)  # type: ignore[no-any-return]
            return inject(scope, receive, send)

        layer.app = app  # type: ignore[attr-defined]  # route discovery walks ``.app``
        return layer

    def owns(self, path: str) -> bool:
        """True for the admin endpoint's paths (always False while disabled)."""
        return self.enabled and (path == self.path or path.startswith(self._prefix))

    def _never(self, path: str) -> bool:
        return path in self._exempt or path.startswith(("/ops/", self._prefix)) or path == self.path

    # Injection ----------------------------------------------------------------------------

    async def inject(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve one request while faults are active: delay it and/or abort it, or pass it."""
        path = scope.get("path", "")
        if scope["type"] != "http" or self._never(path):
            await self.app(scope, receive, send)
            return
        now = _clock()
        if now >= self._next_expiry:
            self._expire(now)
        method: str = scope["method"]
        label = shape = ""
        delay = 0.0
        aborting: _Fault | None = None
        fired: list[str] = []
        for fault in self.active:
            if fault.route is not None:
                if not label:  # only a request some fault's route may match pays for this
                    label = self._labels.label(scope)
                    shape = _shape(label)
                if not fault.matches(method, path, label, shape):
                    continue
            if fault.share < 1.0 and self._draw() >= fault.share:
                continue
            fault.injected += 1
            fired.append(fault.id)
            delay += fault.delay
            if fault.abort is not None and aborting is None:
                aborting = fault
        if not fired:
            await self.app(scope, receive, send)
            return
        counter = self._counter
        if counter is not None:
            route = label or self._labels.label(scope)
            if delay:
                counter.labels(route, "delay").inc()
            if aborting is not None:
                counter.labels(route, "abort").inc()
        if delay:
            await asyncio.sleep(delay)
        if aborting is not None:
            await reply_json(
                send,
                aborting.abort or 500,
                {"detail": "fault injected by slokit", "fault": aborting.id},
                headers=[(b"x-slokit-fault", aborting.id.encode())],
                head=method == "HEAD",
            )
            return
        tag = ",".join(fired).encode()

        async def tagged(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [*message.get("headers", ()), (b"x-slokit-fault", tag)]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, tagged)

    def _expire(self, now: float) -> None:
        gone = [f.id for f in self.active if f.expires <= now]
        self._set(tuple(f for f in self.active if f.expires > now))
        if gone:
            log.warning("fault %s expired", ", ".join(gone))

    def _set(self, faults: tuple[_Fault, ...]) -> None:
        self.active = faults
        self._next_expiry = min((f.expires for f in faults), default=float("inf"))

    # Admin endpoint -----------------------------------------------------------------------

    def _authorized(self, scope: Scope) -> bool:
        given = b""
        for name, value in scope.get("headers", ()):
            if name == b"authorization":
                given = value
        scheme, _, credentials = given.strip().partition(b" ")
        # Constant time, and always run: the token must not leak through timing.
        same = hmac.compare_digest(credentials.strip(), self._token)
        return same and scheme.lower() == b"bearer"

    async def admin(self, scope: Scope, receive: Receive, send: Send) -> None:
        """``GET``/``POST``/``DELETE`` on the admin path, ``GET``/``DELETE`` on ``path/{id}``."""
        if not self._authorized(scope):
            # The same answer whatever is active: nothing is revealed without the token.
            await reply_json(send, 401, _UNAUTHORIZED, headers=_CHALLENGE)
            return
        now = _clock()
        self._expire(now)
        method, rest = scope["method"], scope["path"][len(self.path) :].strip("/")
        who = (scope.get("client") or ("?",))[0]
        found = [f for f in self.active if not rest or f.id == rest]
        if method == "POST" and not rest:
            await self._add(receive, send, who)
        elif "/" in rest or (rest and not found and method in ("GET", "DELETE")):
            detail = f"no active fault {rest!r} (it may have expired)"
            await reply_json(send, 404, {"error": "not_found", "detail": detail})
        elif method == "GET":
            body = found[0].document(now) if rest else {"faults": [f.document(now) for f in found]}
            await reply_json(send, 200, body)
        elif method == "DELETE":
            removed = [f.id for f in found]
            self._set(tuple(f for f in self.active if f not in found))
            if removed:
                log.warning("fault %s removed by %s", ", ".join(removed), who)
            await reply_json(send, 200, {"removed": removed})
        else:
            allow = b"GET, DELETE" if rest else b"GET, POST, DELETE"
            detail = f"use {allow.decode()}"
            allowed = [(b"allow", allow)]
            await reply_json(
                send, 405, {"error": "method_not_allowed", "detail": detail}, headers=allowed
            )

    async def _add(self, receive: Receive, send: Send, who: str) -> None:
        body = await _read_body(receive)
        if body is None:
            detail = f"the body is over {MAX_BODY} bytes"
            await reply_json(send, 413, {"error": "too_large", "detail": detail})
            return
        try:
            fault = _parse(json.loads(body or b"null"), self._never)
        except ValueError as exc:
            fault = [f"the body is not JSON ({exc}); send e.g. {json.dumps(EXAMPLE)}"]
        if not isinstance(fault, list) and len(self.active) >= MAX_FAULTS:
            fault = [f"at most {MAX_FAULTS} faults can be active; DELETE some first"]
        if isinstance(fault, list):
            detail = "; ".join(fault)
            await reply_json(
                send, 400, {"error": "invalid_fault", "detail": detail, "problems": fault}
            )
            return
        self._set((*self.active, fault))
        doc = fault.document(_clock())
        log.warning("fault %s added by %s: %s", fault.id, who, json.dumps(doc))
        location = f"{self.path}/{fault.id}".encode()
        await reply_json(send, 201, doc, headers=[(b"location", location)])


async def _read_body(receive: Receive) -> bytes | None:
    """The request body, or None when it is over MAX_BODY (or the client left)."""
    body = bytearray()
    more = True
    while more:
        message = await receive()
        body += message.get("body", b"")
        more = message.get("more_body", False)
        if message["type"] != "http.request" or len(body) > MAX_BODY:
            return None
    return bytes(body)
