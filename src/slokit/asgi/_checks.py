"""Dependency checks behind ``/readyz`` and ``/healthz``: postgres, redis, http, tcp, alembic
(migration drift: the database behind the scripts' heads), custom.

Every check opens a fresh connection and closes it again instead of borrowing from a
pool: a readiness probe has to prove that a *new* connection can be made right now, and a
warm pooled connection would keep answering after the server stopped accepting new ones.
So :class:`HealthChecks` holds no clients between runs; what it holds is the cached
results and the one run in flight.

Custom checks are plain callables, sync or async. The rule for their outcome is:
**raising or returning ``False`` fails; anything else (``None``, ``True``, any other
value) passes.** Sync callables run in a thread (:func:`asyncio.to_thread`) so a blocking
driver call cannot stall the event loop; a thread cannot be killed, so a sync check that
overruns its timeout keeps its thread until it returns, and is not started again until then.

Outputs never carry a password: ``user:password@`` in any URL becomes ``user:***@``.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import errno
import inspect
import math
import os
import re
import socket
import ssl
import time
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal, NamedTuple, get_args
from urllib.parse import SplitResult, quote, unquote, urlsplit

from slokit.errors import UsageError

if TYPE_CHECKING:
    from slokit.spec import Dependency

__all__ = [
    "CheckResult",
    "CheckSpec",
    "HealthChecks",
    "Status",
    "checks_from_spec",
    "health_document",
    "merge_checks",
    "overall_status",
    "postgres_connection",
]

Status = Literal["pass", "warn", "fail"]
_Kind = Literal["postgres", "redis", "http", "tcp", "alembic", "custom"]

_KINDS: tuple[str, ...] = get_args(_Kind)
_SEVERITY: dict[Status, int] = {"pass": 0, "warn": 1, "fail": 2}
_COMPONENT_TYPES = {
    "postgres": "datastore",
    "redis": "datastore",
    "alembic": "datastore",
    "http": "component",
    "tcp": "component",
    "custom": "component",
}
_MAX_OUTPUT = 300
# `scheme://user:password@`: the password runs to the last `@` of the authority, so an
# unescaped `@` inside it is hidden too.
_USERINFO = re.compile(r"(?P<head>[A-Za-z][A-Za-z0-9+.-]*://[^:/?#@\s]*):[^/?#\s]*@")
# Characters a request target may carry as they are; anything else is percent-encoded.
_TARGET_SAFE = "!#$%&'()*+,/:;=?@[]~-._"


@dataclass(frozen=True, slots=True, repr=False)
class CheckSpec:
    """One dependency to check: what it is, where it is, how long to wait for it."""

    name: str
    kind: _Kind
    target: str | Callable[[], object]
    """URL (postgres, redis, http), ``host:port`` or ``tcp://host:port``, or a callable."""
    timeout: float = 1.0
    """Seconds the whole check may take, connecting and closing included."""
    critical: bool = True
    """False: a failing check reports "warn" and leaves the service ready."""
    config: str | None = None
    """``alembic``: the project's alembic.ini, whose script heads the database must be at."""

    def __post_init__(self) -> None:
        if self.kind not in _KINDS:
            raise UsageError(
                f"check {self.name!r}: unknown kind {self.kind!r}; expected one of "
                + ", ".join(_KINDS)
            )
        if not (isinstance(self.timeout, int | float) and math.isfinite(self.timeout)) or (
            self.timeout <= 0
        ):
            raise UsageError(
                f"check {self.name!r}: timeout must be a positive number of seconds, "
                f"got {self.timeout!r}"
            )
        _validate_target(self.name, self.kind, self.target)
        if self.kind == "alembic" and not self.config:
            raise UsageError(
                f"check {self.name!r}: an alembic check needs config=, the project's alembic.ini"
            )

    def __repr__(self) -> str:
        # Specs end up in logs and tracebacks: never show the password in the target.
        target = _redact(self.target) if isinstance(self.target, str) else self.target
        return (
            f"CheckSpec(name={self.name!r}, kind={self.kind!r}, target={target!r}, "
            f"timeout={self.timeout!r}, critical={self.critical!r})"
        )


@dataclass(frozen=True, slots=True)
class CheckResult:
    """What one check found, in the terms of the health+json ``checks`` entries."""

    name: str
    kind: str
    status: Status
    """``pass``; ``fail`` when a critical check failed; ``warn`` when a non-critical one did."""
    critical: bool
    observed_ms: float
    """How long the check took, in milliseconds."""
    time: str
    """When it started, ISO 8601 UTC with milliseconds: ``2026-11-23T08:00:00.123Z``."""
    output: str
    """Empty on pass; otherwise why it failed, naming the target (passwords hidden)."""


def checks_from_spec(
    dependencies: Mapping[str, Dependency], base_dir: str = "."
) -> list[CheckSpec]:
    """One :class:`CheckSpec` per ``dependencies:`` entry of a spec, in spec order; an alembic
    config path is the spec's directory's (``base_dir``) when relative."""
    return [
        CheckSpec(
            name=name,
            kind=dep.kind,
            target=dep.url,
            timeout=dep.timeout,
            critical=dep.critical,
            config=None if dep.config is None else os.path.join(base_dir, dep.config),
        )
        for name, dep in dependencies.items()
        if dep.probe
    ]


def merge_checks(
    from_spec: Sequence[CheckSpec], given: Sequence[CheckSpec]
) -> tuple[CheckSpec, ...]:
    """The spec's dependencies followed by the ``checks=`` given in code, every name once.

    ``checks=`` adds to the spec rather than replacing it: a service that passes one custom
    check must not silently lose its database and cache checks. A name in both is an error
    rather than a silent winner, because either choice would hide a check someone wrote.
    """
    seen = {spec.name for spec in from_spec}
    merged = list(from_spec)
    for spec in given:
        if spec.name in seen:
            where = (
                "is a dependency in the spec and also given in checks="
                if any(s.name == spec.name for s in from_spec)
                else "is given twice in checks="
            )
            raise UsageError(
                f"check {spec.name!r} {where}; checks= adds to the spec's dependencies, so "
                "rename one of them, or remove it from the spec or from checks="
            )
        seen.add(spec.name)
        merged.append(spec)
    return tuple(merged)


class HealthChecks:
    """Runs a set of checks concurrently, caching the results for ``ttl`` seconds.

    Probes arrive from every load balancer and orchestrator at once; callers that arrive
    while a run is in flight share it (single-flight), so a dependency sees at most one
    check per ``ttl`` however many probes hit the service.
    """

    def __init__(
        self,
        checks: Sequence[CheckSpec],
        *,
        ttl: float = 2.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not math.isfinite(ttl) or ttl < 0:
            raise UsageError(f"ttl must be zero or a positive number of seconds, got {ttl!r}")
        self._checks = tuple(checks)
        self._ttl = ttl
        self._clock = clock
        self._results: tuple[CheckResult, ...] | None = None
        self._fresh_until = -math.inf
        self._inflight: asyncio.Task[tuple[CheckResult, ...]] | None = None
        # Sync custom checks whose thread is still running, by position in `checks`.
        self._threads: dict[int, asyncio.Task[object]] = {}
        self._closed = False

    async def run(self) -> list[CheckResult]:
        """Results of every check, from the cache when it is younger than ``ttl``."""
        if self._closed:
            raise RuntimeError("HealthChecks.run() after aclose(): create a new HealthChecks")
        if self._results is not None and self._clock() < self._fresh_until:
            return list(self._results)
        task = self._inflight
        if task is None or task.done():
            task = self._inflight = asyncio.create_task(self._refresh())
        # Shielded: a probe whose client hung up must not cancel the run others wait on.
        return list(await asyncio.shield(task))

    async def aclose(self) -> None:
        """Stop the run in flight, if any; later :meth:`run` calls raise RuntimeError."""
        self._closed = True
        task, self._inflight = self._inflight, None
        if task is not None and not task.done():
            task.cancel()
            # wait() rather than `await task`: the task's CancelledError is not ours to raise.
            await asyncio.wait([task])

    async def _refresh(self) -> tuple[CheckResult, ...]:
        results = tuple(
            await asyncio.gather(
                *(self._run_one(index, spec) for index, spec in enumerate(self._checks))
            )
        )
        self._results = results
        self._fresh_until = self._clock() + self._ttl
        return results

    async def _run_one(self, index: int, spec: CheckSpec) -> CheckResult:
        when = _utc_now()
        started = time.perf_counter()
        output = await self._outcome(index, spec)
        elapsed_ms = (time.perf_counter() - started) * 1000.0
        status: Status = "pass" if not output else "fail" if spec.critical else "warn"
        return CheckResult(
            name=spec.name,
            kind=spec.kind,
            status=status,
            critical=spec.critical,
            observed_ms=round(elapsed_ms, 3),
            time=when,
            output=output,
        )

    async def _outcome(self, index: int, spec: CheckSpec) -> str:
        """Empty when the check passed, else a one-line reason naming the target."""
        scope = asyncio.timeout(spec.timeout)
        try:
            async with scope:
                await self._probe(index, spec)
        except TimeoutError as exc:
            phrase = (
                f"timed out after {spec.timeout:g}s"
                if scope.expired()
                else f"failed: {_reason(spec, exc)}"
            )
        except _Failure as exc:
            phrase = str(exc)
        except asyncio.CancelledError:
            if _being_cancelled():
                raise
            # The check itself raised it (say, an awaited future someone else cancelled):
            # a broken check, not a reason to abandon the whole run.
            phrase = "failed: the check was cancelled from inside"
        except Exception as exc:  # a broken check must become a result, never crash a probe
            phrase = f"failed: {_reason(spec, exc)}"
        else:
            return ""
        return _one_line(f"{_label(spec)} {phrase}")

    async def _probe(self, index: int, spec: CheckSpec) -> None:
        target = spec.target
        if callable(target):
            await self._call_custom(index, target)
        elif spec.kind == "postgres":
            await _check_postgres(target, spec.timeout)
        elif spec.kind == "redis":
            await _check_redis(target, spec.timeout)
        elif spec.kind == "http":
            await _check_http(target)
        elif spec.kind == "alembic":
            await _check_alembic(target, spec.config or "alembic.ini", spec.timeout)
        else:
            await _check_tcp(target)

    async def _call_custom(self, index: int, check: Callable[[], object]) -> None:
        result = check() if _is_async(check) else await self._in_thread(index, check)
        if inspect.isawaitable(result):  # e.g. `lambda: ping()` handing back a coroutine
            result = await result
        if result is False:
            raise _Failure("returned False")

    async def _in_thread(self, index: int, check: Callable[[], object]) -> object:
        if index in self._threads:
            raise _Failure(
                "failed: still running in its thread since an earlier run (threads cannot "
                "be interrupted); make it return within its timeout"
            )
        # A task of its own, shielded: when the timeout cancels us, the thread still runs,
        # and the task stays registered until it returns so the check is not piled up.
        task = asyncio.create_task(asyncio.to_thread(check))
        self._threads[index] = task
        task.add_done_callback(lambda done: self._thread_done(index, done))
        return await asyncio.shield(task)

    def _thread_done(self, index: int, task: asyncio.Task[object]) -> None:
        if self._threads.get(index) is task:
            del self._threads[index]
        if not task.cancelled():
            task.exception()  # retrieved: a timed-out check's late error is not news


def overall_status(results: Sequence[CheckResult]) -> Status:
    """``fail`` if a critical check failed, ``warn`` if a non-critical one did, else ``pass``."""
    return _worst(result.status for result in results)


def health_document(
    results: Sequence[CheckResult],
    *,
    service: str,
    version: str | None = None,
    extra_status: Status | None = None,
    notes: Sequence[str] = (),
) -> tuple[int, dict[str, object]]:
    """HTTP status and ``application/health+json`` body (draft-inadarei-api-health-check).

    ``extra_status`` is folded in with the checks' status, worst wins: pass ``"fail"``
    while starting up or draining. The code is 503 for "fail", 200 for "pass" and "warn".
    ``version`` and ``notes`` appear only when given; a check's ``output`` only when it
    did not pass, as the draft asks.
    """
    status = _worst([overall_status(results), extra_status or "pass"])
    body: dict[str, object] = {"status": status, "serviceId": service}
    if version is not None:
        body["version"] = version
    if notes:
        body["notes"] = list(notes)
    checks: dict[str, list[dict[str, object]]] = {}
    for result in results:
        checks.setdefault(f"{result.name}:{result.kind}", []).append(_check_entry(result))
    body["checks"] = checks
    return (503 if status == "fail" else 200), body


def _check_entry(result: CheckResult) -> dict[str, object]:
    entry: dict[str, object] = {
        "componentId": result.name,
        "componentType": _COMPONENT_TYPES.get(result.kind, "component"),
        "status": result.status,
        "observedValue": result.observed_ms,
        "observedUnit": "ms",
        "time": result.time,
    }
    if result.output:
        entry["output"] = result.output
    return entry


def _worst(statuses: Iterable[Status]) -> Status:
    return max(statuses, key=_SEVERITY.__getitem__, default="pass")


class _Failure(Exception):
    """A check failed for a reason already worded for the user: "answered 503"."""


# --- the checks ------------------------------------------------------------------------


@contextlib.asynccontextmanager
async def postgres_connection(url: str, timeout: float) -> AsyncIterator[Any]:
    """A fresh asyncpg connection for one probe: dropped at once when the probe fails or is
    cancelled, closed politely otherwise. UsageError without asyncpg."""
    try:
        import asyncpg
    except ImportError:
        raise UsageError("asyncpg is not installed; run: pip install 'slokit[postgres]'") from None
    # asyncpg's own timeouts as well as ours: its connect cleans up better when it times
    # itself out than when it is cancelled halfway through the startup exchange.
    conn = await asyncpg.connect(url, timeout=timeout, command_timeout=timeout)
    try:
        yield conn
    except BaseException:
        conn.terminate()  # timed out or cancelled: drop it now, a polite close could hang
        raise
    await conn.close(timeout=timeout)  # polite, so the server does not log an abrupt EOF


async def _check_postgres(url: str, timeout: float) -> None:
    try:
        async with postgres_connection(url, timeout) as conn:
            await conn.fetchval("SELECT 1")
    except UsageError as exc:
        raise _Failure(f"failed: {exc}") from None


async def _check_redis(url: str, timeout: float) -> None:
    try:
        from redis.asyncio import Redis
        from redis.asyncio.retry import Retry
        from redis.backoff import NoBackoff
    except ImportError:
        raise _Failure("failed: redis is not installed; run: pip install 'slokit[redis]'") from None
    # No retries: a probe must report what it saw, not hide a flapping server.
    client = Redis.from_url(
        url, socket_connect_timeout=timeout, socket_timeout=timeout, retry=Retry(NoBackoff(), 0)
    )
    try:
        await client.ping()
    finally:
        await client.aclose()


async def _check_alembic(url: str, config: str, timeout: float) -> None:
    from slokit.asgi._migrations import migration_state

    try:
        state = await migration_state(url, config, timeout)
    except UsageError as exc:
        raise _Failure(f"failed: {exc}") from None
    if not state.current:
        raise _Failure(state.detail)


async def _check_tcp(target: str) -> None:
    host, port = _host_port(target)
    async with _connection(host, port, tls=False):
        pass


async def _check_http(url: str) -> None:
    request = _parse_http(url)
    async with _connection(request.host, request.port, tls=request.tls) as (reader, writer):
        writer.write(request.payload())
        await writer.drain()
        line = await reader.readline()
    code = _status_code(line)
    if not 200 <= code < 400:
        raise _Failure(f"answered {code}")


@contextlib.asynccontextmanager
async def _connection(
    host: str, port: int, *, tls: bool
) -> AsyncIterator[tuple[asyncio.StreamReader, asyncio.StreamWriter]]:
    context = ssl.create_default_context() if tls else None
    reader, writer = await asyncio.open_connection(
        host, port, ssl=context, server_hostname=host if tls else None
    )
    try:
        yield reader, writer
    except BaseException:
        writer.transport.abort()  # timed out or cancelled: do not wait on a TLS goodbye
        raise
    writer.close()
    with contextlib.suppress(OSError):  # a reset after the answer does not change it
        await writer.wait_closed()


def _status_code(line: bytes) -> int:
    parts = line.split(None, 2)
    if len(parts) >= 2 and parts[0].startswith(b"HTTP/") and re.fullmatch(rb"\d{3}", parts[1]):
        return int(parts[1])
    if not line:
        raise _Failure("failed: the server closed the connection without answering")
    raise _Failure(f"failed: the answer is not HTTP: {line[:60]!r}")


class _HttpRequest(NamedTuple):
    tls: bool
    host: str
    port: int
    host_header: str
    target: str
    authorization: str | None

    def payload(self) -> bytes:
        lines = [
            f"GET {self.target} HTTP/1.1",
            f"Host: {self.host_header}",
            "User-Agent: slokit-healthcheck",
            "Accept: */*",
            "Connection: close",
        ]
        if self.authorization is not None:
            lines.append(f"Authorization: {self.authorization}")
        return ("\r\n".join(lines) + "\r\n\r\n").encode("ascii")


def _parse_http(url: str) -> _HttpRequest:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UsageError(
            f"invalid URL {_redact(url)!r} for an http check; expected http://host[:port]/path "
            "or https://..."
        )
    default_port = 443 if parts.scheme == "https" else 80
    port = _url_port(parts, url) or default_port
    host = parts.hostname.encode("idna").decode("ascii")
    host_header = f"[{host}]" if ":" in host else host
    if port != default_port:
        host_header += f":{port}"
    target = parts.path or "/"
    if parts.query:
        target += f"?{parts.query}"
    return _HttpRequest(
        tls=parts.scheme == "https",
        host=host,
        port=port,
        host_header=host_header,
        target=quote(target, safe=_TARGET_SAFE),
        authorization=_basic_auth(parts.username, parts.password),
    )


def _basic_auth(username: str | None, password: str | None) -> str | None:
    if username is None:
        return None
    pair = f"{unquote(username)}:{unquote(password or '')}".encode()
    return "Basic " + base64.b64encode(pair).decode("ascii")


def _host_port(target: str) -> tuple[str, int]:
    parts = urlsplit("//" + target.removeprefix("tcp://"))
    port = _url_port(parts, target)
    if not parts.hostname or port is None or parts.path or parts.query or parts.username:
        raise UsageError(
            f"invalid tcp target {_redact(target)!r}; expected host:port or tcp://host:port, "
            "such as db.internal:5432"
        )
    return parts.hostname, port


def _url_port(parts: SplitResult, url: str) -> int | None:
    try:
        return parts.port
    except ValueError:  # not a number, or out of range
        raise UsageError(
            f"invalid port in {_redact(url)!r}; expected a number from 1 to 65535"
        ) from None


def _validate_target(name: str, kind: str, target: object) -> None:
    if kind == "custom":
        if not callable(target):
            raise UsageError(
                f"check {name!r}: a custom check needs a callable target (sync or async, "
                f"no arguments), got {type(target).__name__}"
            )
        return
    if not isinstance(target, str) or not target.strip():
        raise UsageError(f"check {name!r}: a {kind} check needs a URL string as its target")
    try:
        if kind == "http":
            _parse_http(target)
        elif kind == "tcp":
            _host_port(target)
    except UsageError as exc:
        raise UsageError(f"check {name!r}: {exc}") from None


# --- wording ---------------------------------------------------------------------------


def _label(spec: CheckSpec) -> str:
    """The subject of the output sentence: what was checked, passwords hidden."""
    target = spec.target
    if callable(target):
        # The function's own name says where to look; a lambda's says nothing, so the
        # check's name stands in for it.
        name = getattr(target, "__name__", None) or type(target).__name__
        return f"custom check {name if name.isidentifier() else spec.name}"
    if spec.kind == "http":
        return f"GET {_redact(target)}"
    if spec.kind == "tcp":
        return f"connect to {target.removeprefix('tcp://')}"
    if spec.kind == "alembic":
        return f"migrations of {_redact(target)}:"
    return _redact(target)


def _reason(spec: CheckSpec, exc: BaseException) -> str:
    if spec.kind == "custom":
        return _exception_text(exc)
    for cause in _chain(exc):
        if isinstance(cause, ConnectionRefusedError) or (
            isinstance(cause, OSError) and f"[Errno {errno.ECONNREFUSED}]" in str(cause)
        ):
            return "connection refused; is the server running and listening on that port?"
        if isinstance(cause, socket.gaierror):
            return f"cannot resolve the host name ({cause.strerror}); check the spelling and DNS"
        if isinstance(cause, ssl.SSLCertVerificationError):
            return f"TLS certificate not trusted ({cause.verify_message}); check the host name"
        if isinstance(cause, ssl.SSLError):
            return f"TLS failed ({cause.reason or cause}); is the server speaking TLS?"
        if isinstance(cause, TimeoutError):
            return "timed out"
    text = _exception_text(exc)
    return _hide(text, spec.target) if isinstance(spec.target, str) else text


def _exception_text(exc: BaseException) -> str:
    message = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {message}" if message else type(exc).__name__


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def _hide(text: str, url: str) -> str:
    """``text`` without the password of ``url``, should a library quote it outside a URL."""
    try:
        password = urlsplit(url).password
    except ValueError:  # a URL urlsplit cannot read has already failed the check
        return text
    if password:
        for secret in {password, unquote(password)}:
            text = text.replace(secret, "***")
    return text


def _redact(text: str) -> str:
    return _USERINFO.sub(r"\g<head>:***@", text)


def _one_line(text: str) -> str:
    text = _redact(" ".join(text.split()))
    return text if len(text) <= _MAX_OUTPUT else text[: _MAX_OUTPUT - 3] + "..."


def _being_cancelled() -> bool:
    task = asyncio.current_task()
    return task is None or task.cancelling() > 0


def _is_async(check: Callable[[], object]) -> bool:
    call = getattr(check, "__call__", None)  # noqa: B004 - objects with an async __call__
    return inspect.iscoroutinefunction(check) or inspect.iscoroutinefunction(call)


def _utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
