"""The experiment file: what to break, while which load runs, judged by which SLOs.

Validated like the spec (every problem at once, with its line). Offsets and durations are the
spec's units (``10s``, ``1m``); toxic attributes are Toxiproxy's (milliseconds, KB/s, bytes),
and also accept durations and sizes (``400ms``, ``1MiB``), converted to Toxiproxy's units.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

from pydantic import Field

from slokit.spec import Route, parse_duration, parse_size
from slokit.spec._base import Issue, SpecModel, Text, describe, issue
from slokit.spec._loader import parse_document, read_document
from slokit.spec._units import Duration, Objective, Percent, PositiveDuration

__all__ = [
    "TOXIC_ATTRIBUTES",
    "AbortCondition",
    "Experiment",
    "FaultAction",
    "HttpFault",
    "Hypothesis",
    "HypothesisSLO",
    "ProxyDefinition",
    "Rollback",
    "ToxicSpec",
    "load_experiment",
    "parse_experiment",
]

TOXIC_ATTRIBUTES: dict[str, dict[str, str]] = {
    "latency": {"latency": "ms", "jitter": "ms"},
    "bandwidth": {"rate": "KB/s"},
    "slow_close": {"delay": "ms"},
    "timeout": {"timeout": "ms"},
    "reset_peer": {"timeout": "ms"},
    "slicer": {"average_size": "bytes", "size_variation": "bytes", "delay": "us"},
    "limit_data": {"bytes": "bytes"},
}
"""Toxiproxy's toxics, their attributes and the unit each is given in."""

_SCALE = {"ms": 1000.0, "us": 1_000_000.0}


def _attribute(unit: str, value: Any) -> int:
    """A Toxiproxy attribute as the integer it expects; text is read in the spec's units."""
    if isinstance(value, bool):
        raise ValueError(f"expected a number, got {describe(value)}")
    if isinstance(value, str):
        if unit in _SCALE:
            return round(parse_duration(value) * _SCALE[unit])
        if unit == "bytes":
            return parse_size(value)
        value = value.strip()
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"expected a number ({unit}), got {describe(value)}") from None
    if number < 0 or number != int(number):
        raise ValueError(f"expected a whole number >= 0 ({unit}), got {describe(value)}")
    return int(number)


class ToxicSpec(SpecModel):
    """A Toxiproxy toxic: ``{type: latency, attributes: {latency: 400ms, jitter: 50ms}}``."""

    type: Literal[
        "latency", "bandwidth", "slow_close", "timeout", "reset_peer", "slicer", "limit_data"
    ]
    attributes: dict[str, int] = Field(default_factory=dict)
    stream: Literal["upstream", "downstream"] = "downstream"
    """downstream: server to client (Toxiproxy's default); upstream: client to server."""
    toxicity: Percent = 1.0
    """Share of connections the toxic applies to."""
    name: str | None = None

    @classmethod
    def _prepare(cls, data: dict[Any, Any]) -> tuple[dict[Any, Any], list[Issue]]:
        known = TOXIC_ATTRIBUTES.get(data.get("type"))  # type: ignore[arg-type]
        attributes = data.get("attributes")
        if known is None or not isinstance(attributes, dict):
            return data, []
        problems: list[Issue] = []
        converted: dict[Any, Any] = {}
        for key, value in attributes.items():
            unit = known.get(key)
            if unit is None:
                expected = ", ".join(known)
                message = f"a {data['type']} toxic has no attribute {key!r}; expected {expected}"
                problems.append(issue(("attributes", key), message, value))
                continue
            try:
                converted[key] = _attribute(unit, value)
            except ValueError as exc:
                problems.append(issue(("attributes", key), str(exc), value))
        return {**data, "attributes": converted}, problems


class HttpFault(SpecModel):
    """A fault for the service's fault middleware (``slokit.asgi`` with ``faults=True``)."""

    route: Route | None = None
    abort: int | None = Field(default=None, ge=400, le=599)
    delay: Duration | None = None
    share: Percent = 1.0

    @classmethod
    def _prepare(cls, data: dict[Any, Any]) -> tuple[dict[Any, Any], list[Issue]]:
        if data.get("abort") is None and data.get("delay") is None:
            return data, [issue((), "an http fault needs abort (a status) or delay (or both)")]
        return data, []

    def payload(self) -> dict[str, Any]:
        """The JSON body the fault admin endpoint takes."""
        body: dict[str, Any] = {"share": self.share}
        if self.route is not None:
            method = "" if self.route.method == "*" else f"{self.route.method} "
            body["route"] = f"{method}{self.route.path}"
        if self.abort is not None:
            body["abort"] = self.abort
        if self.delay is not None:
            body["delay"] = self.delay
        return body


_KINDS = ("toxic", "down", "http", "command")


class FaultAction(SpecModel):
    """One fault on the timeline: from ``at`` (after the load starts) for ``for``.

    Exactly one of: ``toxic`` on ``proxy``; ``down: true`` (the proxy refuses connections);
    ``http`` (the service's fault middleware); ``command`` (a shell command, with ``undo``).
    """

    name: str | None = None
    at: Duration = 0.0
    for_: PositiveDuration | None = Field(default=None, alias="for")
    """How long the fault lasts; without it, until the load ends."""
    proxy: str | None = None
    toxic: ToxicSpec | None = None
    down: bool = False
    http: HttpFault | None = None
    command: Text | None = None
    undo: Text | None = None
    """For ``command``: the shell command that ends the fault (run at ``at + for``)."""

    @classmethod
    def _prepare(cls, data: dict[Any, Any]) -> tuple[dict[Any, Any], list[Issue]]:
        given = [k for k in _KINDS if data.get(k) not in (None, False)]
        if len(given) != 1:
            got = " and ".join(given) if given else "none"
            message = f"a fault needs exactly one of {', '.join(_KINDS)}; got {got}"
            return data, [issue((), message)]
        problems = []
        if given[0] in ("toxic", "down") and not data.get("proxy"):
            problems.append(issue(("proxy",), f"a {given[0]} fault needs proxy: <proxy name>"))
        if data.get("undo") is not None and given[0] != "command":
            problems.append(issue(("undo",), "undo is for command faults only"))
        return data, problems

    @property
    def kind(self) -> str:
        return next(k for k in _KINDS if getattr(self, k) not in (None, False))

    @property
    def label(self) -> str:
        """The action's name, or a description of it for the journal."""
        if self.name:
            return self.name
        if self.toxic is not None:
            return f"{self.toxic.type} on {self.proxy}"
        if self.down:
            return f"{self.proxy} down"
        if self.http is not None:
            what = f"abort {self.http.abort}" if self.http.abort else "delay"
            return f"http {what} on {self.http.route or 'every route'}"
        return f"command {self.command}"

    def end(self, load_seconds: float) -> float:
        return load_seconds if self.for_ is None else self.at + self.for_


class Rollback(SpecModel):
    """Run at the end whatever happened (also on abort and Ctrl-C), in order."""

    name: str | None = None
    reset_proxies: bool = False
    """POST /reset: every proxy enabled, every toxic removed."""
    clear_http_faults: bool = False
    command: Text | None = None

    @classmethod
    def _prepare(cls, data: dict[Any, Any]) -> tuple[dict[Any, Any], list[Issue]]:
        given = [k for k in ("reset_proxies", "clear_http_faults", "command") if data.get(k)]
        if len(given) != 1:
            message = "a rollback needs exactly one of reset_proxies, clear_http_faults, command"
            return data, [issue((), message)]
        return data, []

    @property
    def label(self) -> str:
        if self.name:
            return self.name
        if self.command:
            return f"command {self.command}"
        return "reset proxies" if self.reset_proxies else "clear http faults"


class HypothesisSLO(SpecModel):
    """An SLO of the spec, optionally with a stricter or looser objective for the experiment."""

    objective: Objective | None = None
    expect: Literal["hold", "breach"] = "hold"
    """``hold``: the SLO stays within its objective (a service that fails open, degrades
    gracefully). ``breach``: the service is meant to fail closed, so the SLO must fall under
    its objective while the faults run and recover after them; holding is the deviation."""


class Hypothesis(SpecModel):
    slos: dict[str, HypothesisSLO] | None = None
    """Which of the spec's SLOs must hold (default: all). A list of names works too."""
    window: PositiveDuration = 10.0
    """Each SLO is judged over every rolling window of this length while the faults run
    and after; one window under its objective and the hypothesis deviated."""
    sustain: PositiveDuration = 5.0
    """Recovered: every second of this long meets the objectives, with no breaker open."""

    @classmethod
    def _prepare(cls, data: dict[Any, Any]) -> tuple[dict[Any, Any], list[Issue]]:
        slos = data.get("slos")
        if isinstance(slos, list) and all(isinstance(s, str) for s in slos):
            data = {**data, "slos": {s: {} for s in slos}}
        elif isinstance(slos, dict):
            data = {**data, "slos": {k: {} if v is None else v for k, v in slos.items()}}
        return data, []


class AbortCondition(SpecModel):
    """Stop the experiment early: ``{slo: availability, below: 90%, for: 5s}`` or
    ``{budget: 0.01%}`` (more of an SLO window's error budget burned than this)."""

    slo: str | None = None
    below: Objective | None = None
    for_: Duration = Field(default=0.0, alias="for")
    budget: Percent | None = None

    @classmethod
    def _prepare(cls, data: dict[Any, Any]) -> tuple[dict[Any, Any], list[Issue]]:
        sli = data.get("slo") is not None or data.get("below") is not None
        budget = data.get("budget") is not None
        if sli == budget:
            message = "an abort condition is either {slo, below, for} or {budget}"
            return data, [issue((), message)]
        if sli and (data.get("slo") is None or data.get("below") is None):
            return data, [issue((), "an SLO abort condition needs both slo and below")]
        return data, []

    @property
    def label(self) -> str:
        if self.budget is not None:
            return f"error budget burned beyond {self.budget:.4%}"
        return f"{self.slo} below {self.below:.2%} for {self.for_:g}s"


class ProxyDefinition(SpecModel):
    name: str
    listen: str
    upstream: str


class ProxySection(SpecModel):
    api: Text = "http://127.0.0.1:8474"
    """A running ``slokit proxy`` or Toxiproxy."""
    proxies: list[ProxyDefinition] = Field(default_factory=list)
    """Created (replacing any of the same name) before the load, deleted at the end."""


class FaultsSection(SpecModel):
    url: Text = "/ops/faults"
    """The fault admin endpoint: a path on the target, or a full URL."""
    token: str | None = None
    """Defaults to the SLOKIT_FAULT_TOKEN environment variable (also when empty, so
    ``${SLOKIT_FAULT_TOKEN:-}`` works)."""


class LoadSection(SpecModel):
    scenario: str
    duration: PositiveDuration | None = None
    """Overrides the scenario's duration; leave room after the last fault to see recovery."""
    workers: int | None = Field(default=None, ge=1)


class ObserveSection(SpecModel):
    metrics: Text = "/metrics"
    """The service's Prometheus endpoint: a path on the target, or a full URL."""
    interval: PositiveDuration = 1.0


class Experiment(SpecModel):
    """A chaos experiment (``slokit chaos EXPERIMENT.yaml``)."""

    version: Literal[1] = 1
    title: str
    description: str | None = None
    spec: Text = "slokit.yaml"
    """The service's spec, relative to this file: its SLOs and scenarios."""
    target: Text | None = None
    hypothesis: Hypothesis = Field(default_factory=Hypothesis)
    load: LoadSection
    observe: ObserveSection = Field(default_factory=ObserveSection)
    proxy: ProxySection | None = None
    faults: FaultsSection | None = None
    method: list[FaultAction] = Field(min_length=1)
    abort: list[AbortCondition] = Field(default_factory=list)
    rollbacks: list[Rollback] = Field(default_factory=list)
    base_dir: str = "."

    _hidden_keys = frozenset({"base_dir"})

    @classmethod
    def _prepare(cls, data: dict[Any, Any]) -> tuple[dict[Any, Any], list[Issue]]:
        method = data.get("method")
        problems: list[Issue] = []
        if isinstance(method, list):
            for n, action in enumerate(method):
                if not isinstance(action, dict):
                    continue
                proxied = action.get("toxic") is not None or action.get("down")
                if proxied and data.get("proxy") is None:
                    message = "a toxic or down fault needs a proxy: section (api, proxies)"
                    problems.append(issue(("method", n), message))
        return data, problems

    def spec_path(self) -> Path:
        path = Path(self.spec)
        return path if path.is_absolute() else Path(self.base_dir) / path

    @property
    def faults_end(self) -> float:
        """Seconds after the load starts when the last timed fault ends."""
        return max(a.at + (a.for_ or 0.0) for a in self.method)


def parse_experiment(text: str, source: str = "<string>") -> Experiment:
    """Validate experiment ``text``; raise :class:`~slokit.errors.SpecError` on any problem."""
    return parse_document(text, Experiment, source, what="experiment", example="title: <what>")


def load_experiment(path: str | os.PathLike[str]) -> Experiment:
    """Read and validate an experiment file; its ``spec`` is found relative to it."""
    source = os.fspath(path)
    experiment = parse_experiment(read_document(source, "experiment"), source)
    base = str(Path(source).absolute().parent)
    return experiment.model_copy(update={"base_dir": base})
