"""The object a Python journey receives: ``async def checkout(s: Session) -> None``."""

from __future__ import annotations

import asyncio
import json as _json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from slokit.errors import UsageError
from slokit.load._flow import join_url
from slokit.load._http import PreparedRequest, Response
from slokit.load._naming import NameFolder
from slokit.load._sse import SSEEvent
from slokit.load._stream import WSMessage
from slokit.load._streaming import DEFAULT_IDLE, StreamPlan, hold_sse, hold_ws
from slokit.load._vu import VU

__all__ = ["Session", "StreamResult"]

_UNSET: Any = object()
KEEP = 1000
"""Events or messages a journey's stream call returns at most (the last ones)."""


@dataclass
class StreamResult:
    """What a journey's :meth:`Session.sse` / :meth:`Session.ws` received (the last
    ``KEEP``; ``count`` is all of them)."""

    received: list[Any] = field(default_factory=list)
    count: int = 0

    @property
    def last(self) -> Any:
        return self.received[-1] if self.received else None

    def add(self, item: Any) -> None:
        self.count += 1
        self.received.append(item)
        if len(self.received) > KEEP:
            del self.received[0]


def _ends(hold: float | None, events: int | None, until: object) -> None:
    if hold is None and events is None and until is None:
        raise UsageError(
            "a stream needs hold= (seconds), events= (how many) or until= (a function of "
            "each event) to know when it is done"
        )
    if hold is not None and not hold > 0:
        raise UsageError(f"hold must be a positive number of seconds, got {hold!r}")
    if events is not None and events < 1:
        raise UsageError(f"events must be at least 1, got {events!r}")


class Session:
    """Requests made through a session are measured and named like flow steps.

    A request that fails below HTTP (refused, reset, timeout) ends the iteration: it has
    already been counted, and the journey has nothing to work with. A response with an
    unexpected status is returned, counted as a failure, and the journey goes on.
    """

    def __init__(
        self,
        vu: VU,
        *,
        target: str | None,
        headers: Mapping[str, str],
        folder: NameFolder,
    ) -> None:
        self._vu = vu
        self._target = target
        self._headers = dict(headers)
        self._folder = folder
        self._last_name = "checks"

    @property
    def vu(self) -> int:
        """This virtual user's number, unique across workers."""
        return self._vu.id

    @property
    def iteration(self) -> int:
        """How many iterations this VU has started before this one."""
        return self._vu.iteration

    @property
    def data(self) -> Mapping[str, str]:
        """The data row for this iteration (empty without a ``data:`` file)."""
        return self._vu.row

    async def request(
        self,
        method: str,
        path: str,
        *,
        name: str | None = None,
        headers: Mapping[str, str] | None = None,
        json: Any = _UNSET,
        body: bytes | str | None = None,
        expect: int | set[int] | list[int] | None = None,
        timeout: float | None = None,
    ) -> Response:
        method = method.upper()
        merged = {**self._headers, **(headers or {})}
        payload: bytes | None
        if json is not _UNSET:
            payload = _json.dumps(json, separators=(",", ":")).encode()
            if not any(k.lower() == "content-type" for k in merged):
                merged["Content-Type"] = "application/json"
        else:
            payload = body.encode() if isinstance(body, str) else body
        bare = path.split("?", 1)[0]
        request_name = name or self._folder.name(method, bare)
        ok = frozenset([expect] if isinstance(expect, int) else expect) if expect else None
        prepared = self._vu.client.prepare(method, join_url(self._target, path), merged, payload)
        response, latency = await self._vu.exchange(
            request_name, method, bare, prepared, ok, timeout
        )
        self._vu.record(request_name, method, bare, response, latency, ok)
        self._last_name = request_name
        return response

    async def get(self, path: str, **kw: Any) -> Response:
        return await self.request("GET", path, **kw)

    async def post(self, path: str, **kw: Any) -> Response:
        return await self.request("POST", path, **kw)

    async def put(self, path: str, **kw: Any) -> Response:
        return await self.request("PUT", path, **kw)

    async def patch(self, path: str, **kw: Any) -> Response:
        return await self.request("PATCH", path, **kw)

    async def delete(self, path: str, **kw: Any) -> Response:
        return await self.request("DELETE", path, **kw)

    async def head(self, path: str, **kw: Any) -> Response:
        return await self.request("HEAD", path, **kw)

    async def sse(
        self,
        path: str,
        *,
        name: str | None = None,
        hold: float | None = None,
        events: int | None = None,
        until: Callable[[SSEEvent], object] | None = None,
        method: str = "GET",
        headers: Mapping[str, str] | None = None,
        json: Any = _UNSET,
        reconnect: bool = True,
        retry: float | None = None,
        idle_timeout: float | None = None,
        expect: int | set[int] | list[int] | None = None,
    ) -> StreamResult:
        """Hold a Server-Sent Events stream, measured as an ``sse:`` step: until ``hold``
        seconds passed, ``events`` arrived or ``until(event)`` is true, reconnecting with
        ``Last-Event-ID`` when it drops. Returns the events (:class:`SSEEvent`)."""
        _ends(hold, events, until)
        bare = path.split("?", 1)[0]
        stream_name = name or self._folder.name("SSE", bare)
        merged = {**self._headers, **(headers or {})}
        payload = None
        if json is not _UNSET:
            payload = _json.dumps(json, separators=(",", ":")).encode()
            merged.setdefault("Content-Type", "application/json")
        url = join_url(self._target, path)
        client = self._vu.client
        verb = method.upper()

        def request(extra: Mapping[str, str]) -> PreparedRequest:
            return client.prepare(verb, url, {**merged, **extra}, payload)

        result = StreamResult()

        def seen(event: SSEEvent) -> bool:
            result.add(event)
            return until is not None and bool(until(event))

        plan = self._plan("sse", stream_name, bare, hold, events, reconnect, retry)
        plan = _with(plan, idle_timeout, expect, {200})
        await hold_sse(plan, self._vu, request, seen)
        self._last_name = stream_name
        return result

    async def ws(
        self,
        path: str,
        *,
        name: str | None = None,
        send: Sequence[str | bytes] = (),
        hold: float | None = None,
        events: int | None = None,
        until: Callable[[WSMessage], object] | None = None,
        reply: Callable[[WSMessage], str | bytes | None] | None = None,
        headers: Mapping[str, str] | None = None,
        reconnect: bool = True,
        retry: float | None = None,
        idle_timeout: float | None = None,
    ) -> StreamResult:
        """Hold a WebSocket, measured as a ``ws:`` step: ``send`` once connected, then
        receive until ``hold``/``events``/``until``; ``reply(message)`` may answer each one.
        Returns the messages (:class:`WSMessage`: ``.data`` is str or bytes)."""
        if not send:
            _ends(hold, events, until)
        bare = path.split("?", 1)[0]
        stream_name = name or self._folder.name("WS", bare)
        merged = {**self._headers, **(headers or {})}
        result = StreamResult()

        def seen(message: WSMessage) -> tuple[bool, str | bytes | None]:
            result.add(message)
            done = until is not None and bool(until(message))
            return done, reply(message) if reply is not None else None

        plan = self._plan("ws", stream_name, bare, hold, events, reconnect, retry)
        plan = _with(plan, idle_timeout, None, {101}, tuple(send))
        await hold_ws(plan, self._vu, join_url(self._target, path), merged, seen)
        self._last_name = stream_name
        return result

    @staticmethod
    def _plan(
        kind: str,
        name: str,
        path: str,
        hold: float | None,
        events: int | None,
        reconnect: bool,
        retry: float | None,
    ) -> StreamPlan:
        return StreamPlan(
            kind=kind,
            name=name,
            path=path,
            hold=hold,
            events=events,
            until=None,
            checks=(),
            reconnect=reconnect,
            retry=retry,
            idle=DEFAULT_IDLE,
            ok_status=frozenset(),
        )

    def check(self, condition: object, name: str | None = None) -> bool:
        """Count a check against the last request (or ``name``); returns ``bool(condition)``.

        Checks feed the ``checks`` gate metric; they do not change the request's status. A
        ``name`` no request has is a named check of its own in the results, not a request.
        """
        ok = bool(condition)
        stats = self._vu.recorder.stats(name or self._last_name, "-", "-")
        if ok:
            stats.checks_passed += 1
        else:
            stats.checks_failed += 1
        return ok

    async def sleep(self, seconds: float) -> None:
        """Think time inside a journey."""
        await asyncio.sleep(seconds)


def _with(
    plan: StreamPlan,
    idle: float | None,
    expect: int | set[int] | list[int] | None,
    default: set[int],
    send: tuple[str | bytes, ...] | None = None,
) -> StreamPlan:
    ok = frozenset([expect] if isinstance(expect, int) else expect) if expect else None
    return replace(
        plan,
        idle=idle or plan.idle,
        ok_status=ok or plan.ok_status or frozenset(default),
        send=plan.send if send is None else send,
    )
