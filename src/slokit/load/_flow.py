"""YAML ``flow`` steps compiled once per worker into ready-to-send requests and checks."""

from __future__ import annotations

import asyncio
import json
import random
from bisect import bisect_right
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from slokit.errors import TransportError, UsageError
from slokit.load._http import HttpClient, PreparedRequest, Response
from slokit.load._jsonpath import JsonCheck
from slokit.load._naming import request_name
from slokit.load._streaming import DEFAULT_IDLE, EventCheck, StreamPlan, hold_sse, hold_ws
from slokit.load._template import has_placeholders, render, render_value
from slokit.load._vu import VU, IterationAborted
from slokit.spec import Check, Pick, Route, Step

__all__ = ["CompiledCheck", "CompiledStep", "Picker", "compile_flow", "join_url", "run_flow"]


def join_url(target: str | None, path: str) -> str:
    if path.startswith(("http://", "https://", "ws://", "wss://")):
        return path
    if not target:
        raise UsageError(
            f"step path {path!r} is relative but no target is set: "
            "give `target:` in the spec or the scenario, or --target URL"
        )
    return target.rstrip("/") + (path if path.startswith("/") else "/" + path)


@dataclass(frozen=True, slots=True)
class CompiledCheck:
    statuses: frozenset[int] | None = None
    contains: bytes | None = None
    json: JsonCheck | None = None
    label: str = ""
    """What it checks, as the results name a failed one: ``status 200``, ``$.id exists``."""

    @classmethod
    def from_spec(cls, check: Check) -> CompiledCheck:
        label = check.describe()
        if check.status is not None:
            return cls(statuses=frozenset(check.status), label=label)
        if check.body_contains is not None:
            return cls(contains=check.body_contains.encode(), label=label)
        return cls(json=JsonCheck.from_spec(check), label=label)

    def passes(self, response: Response) -> bool:
        if self.statuses is not None:
            return response.status in self.statuses
        if self.contains is not None:
            return self.contains in response.body
        assert self.json is not None
        return self.json.passes(response.body)


@dataclass(slots=True)
class CompiledStep:
    name: str
    method: str
    path: str
    ok_status: frozenset[int] | None
    checks: tuple[CompiledCheck, ...]
    think: float
    prepared: PreparedRequest | None
    """Built once when the step has no placeholders; else rendered per iteration."""
    url: str
    headers: dict[str, str]
    body: Any
    is_json: bool
    stream: StreamPlan | None = None
    open_method: str = "GET"
    pick: Picker | None = None
    special: bool = field(init=False)
    """A stream or a pick: the hot loop asks this one question of every step."""

    def __post_init__(self) -> None:
        self.special = self.stream is not None or self.pick is not None

    @classmethod
    def of_pick(cls, picker: Picker) -> CompiledStep:
        return cls(
            name="pick",
            method="-",
            path="-",
            ok_status=None,
            checks=(),
            think=0.0,
            prepared=None,
            url="",
            headers={},
            body=None,
            is_json=False,
            pick=picker,
        )

    def request_for(
        self, client: HttpClient, row: Mapping[str, str]
    ) -> tuple[PreparedRequest, str]:
        if self.prepared is not None:
            return self.prepared, self.path
        url = render(self.url, row)
        headers = {k: render(v, row) for k, v in self.headers.items()}
        return client.prepare(self.method, url, headers, _encode(self.body, row, self.is_json)), (
            render(self.path, row)
        )


@dataclass(frozen=True, slots=True)
class Picker:
    """A ``pick`` step: one of its compiled sub-flows per iteration, at random by weight."""

    flows: tuple[tuple[CompiledStep, ...], ...]
    cumulative: tuple[float, ...]

    @classmethod
    def of(cls, weights: Sequence[float], flows: Sequence[Sequence[CompiledStep]]) -> Picker:
        running, cumulative = 0.0, []
        for weight in weights:
            running += weight
            cumulative.append(running)
        return cls(tuple(tuple(f) for f in flows), tuple(cumulative))

    def choose(self, draw: float | None = None) -> tuple[CompiledStep, ...]:
        """The sub-flow for ``draw`` in [0, 1) (default: a random one)."""
        at = (random.random() if draw is None else draw) * self.cumulative[-1]
        return self.flows[min(bisect_right(self.cumulative, at), len(self.flows) - 1)]


def _encode(body: Any, row: Mapping[str, str], is_json: bool) -> bytes | None:
    if body is None:
        return None
    if is_json:
        return json.dumps(render_value(body, row), separators=(",", ":")).encode()
    return render(str(body), row).encode()


def _event_check(check: Check) -> EventCheck:
    if check.event is not None:
        return EventCheck(event=check.event)
    if check.body_contains is not None:
        return EventCheck(contains=check.body_contains)
    return EventCheck(json=JsonCheck.from_spec(check))


def _plan(step: Step, name: str, path: str) -> StreamPlan:
    kind = step.stream
    assert kind is not None
    ok = frozenset(step.status) if step.status else frozenset({200} if kind == "sse" else {101})
    sends: list[str | bytes] = [
        m if isinstance(m, str) else json.dumps(m, separators=(",", ":")) for m in step.send
    ]
    return StreamPlan(
        kind=kind,
        name=name,
        path=path,
        hold=step.hold,
        events=step.events,
        until=_event_check(step.until) if step.until is not None else None,
        checks=tuple(_event_check(c) for c in step.checks),
        reconnect=step.reconnect,
        retry=step.retry,
        idle=step.idle_timeout or DEFAULT_IDLE,
        ok_status=ok,
        send=tuple(sends),
    )


def compile_flow(
    steps: Sequence[Step | Pick],
    *,
    client: HttpClient,
    target: str | None,
    headers: Mapping[str, str],
    routes: Sequence[Route],
) -> list[CompiledStep]:
    compiled = []
    for item in steps:
        if isinstance(item, Pick):
            flows = [
                compile_flow(c.flow, client=client, target=target, headers=headers, routes=routes)
                for c in item.pick
            ]
            compiled.append(CompiledStep.of_pick(Picker.of(item.weights, flows)))
            continue
        step = item
        step_headers = {**headers, **step.headers}
        is_json = step.json_body is not None
        body: Any = step.json_body if is_json else step.body
        if is_json and not any(k.lower() == "content-type" for k in step_headers):
            step_headers["Content-Type"] = "application/json"
        url = join_url(target, step.path)
        method = step.open_method if step.stream == "sse" else step.method
        dynamic = (
            has_placeholders(step.path)
            or has_placeholders(step_headers)
            or (has_placeholders(body))
        )
        prepared = None
        if not dynamic and step.stream != "ws":
            prepared = client.prepare(method, url, step_headers, _encode(body, {}, is_json))
        path = step.path.split("?", 1)[0]
        name = request_name(step.name, step.method, path, routes)
        compiled.append(
            CompiledStep(
                name=name,
                method=step.method,
                path=path,
                ok_status=frozenset(step.status) if step.status is not None else None,
                # A stream step's checks are about its events: in its StreamPlan.
                checks=()
                if step.stream is not None
                else tuple(CompiledCheck.from_spec(c) for c in step.checks),
                think=step.think or 0.0,
                prepared=prepared,
                url=url,
                headers=step_headers,
                body=body,
                is_json=is_json,
                stream=_plan(step, name, path) if step.stream is not None else None,
                open_method=method,
            )
        )
    return compiled


async def _hold(step: CompiledStep, vu: VU) -> None:
    plan = step.stream
    assert plan is not None
    client, row = vu.client, vu.row
    if plan.kind == "ws":
        url = render(step.url, row)
        headers = {k: render(v, row) for k, v in step.headers.items()}
        await hold_ws(plan, vu, url, headers)
        return
    first = step.prepared

    def request(extra: Mapping[str, str]) -> PreparedRequest:
        if first is not None and not extra:
            return first
        url = render(step.url, row)
        headers = {**{k: render(v, row) for k, v in step.headers.items()}, **extra}
        body = _encode(step.body, row, step.is_json)
        return client.prepare(step.open_method, url, headers, body)

    await hold_sse(plan, vu, request)


async def run_flow(steps: Sequence[CompiledStep], vu: VU) -> None:
    """One iteration of a flow. A failure below HTTP ends it (raises IterationAborted).

    This is the engine's hot loop, so :meth:`VU.exchange` and :meth:`VU.record` are inlined:
    every coroutine frame between the executor and the socket is paid on every response.
    """
    client = vu.client
    recorder = vu.recorder
    timeout = vu.timeout
    for step in steps:
        if step.special:
            if step.pick is not None:
                await run_flow(step.pick.choose(), vu)
                continue
            await _hold(step, vu)
            if step.think > 0:
                await asyncio.sleep(step.think)
            continue
        prepared = step.prepared
        if prepared is None:
            prepared, path = step.request_for(client, vu.row)
        else:
            path = step.path
        intended = vu.intended
        vu.intended = None
        try:
            response = await client.send(prepared, timeout=timeout)
        except TransportError as exc:
            recorder.error(step.name, step.method, path, exc.kind)
            raise IterationAborted from exc
        if intended is None:
            start = response.started
        else:
            start = intended
            recorder.sent_late(intended, response.started)
        checks = step.checks
        failed: tuple[str, ...] = ()
        if checks:
            for check in checks:
                if not check.passes(response):
                    failed += (check.label,)
        recorder.response(
            step.name,
            step.method,
            path,
            response.finished - start,
            response.status,
            step.ok_status,
            response.bytes_sent,
            response.bytes_received,
            len(failed),
            len(checks) - len(failed),
            failed,
        )
        if step.think > 0:
            await asyncio.sleep(step.think)
