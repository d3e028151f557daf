"""The drill file: timed steps, what healthy means, the RPO writer, gates.

Validated like the spec and the chaos experiment (every problem at once, with its line). The
models live here rather than in ``slokit.spec`` because a step can carry a chaos fault, whose
model lives in ``slokit.chaos``, and the spec sits below chaos in the dependency order.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Literal

from pydantic import Field

from slokit.chaos._experiment import FaultAction, ProxySection
from slokit.spec import parse_duration
from slokit.spec._base import Issue, SpecModel, Text, describe, issue
from slokit.spec._gates import _OPS
from slokit.spec._loader import parse_document, read_document
from slokit.spec._units import Percent, PositiveDuration

__all__ = [
    "DRILL_METRICS",
    "Condition",
    "Drill",
    "DrillGate",
    "HealthSection",
    "HttpCall",
    "ProcessAction",
    "SqlCheck",
    "Step",
    "WaitUntil",
    "WriterSection",
    "load_drill",
    "parse_drill",
]

DEFAULT_STEP_TIMEOUT = 120.0
"""Seconds a step may take unless it says otherwise; a step past its deadline is killed."""


class SqlCheck(SpecModel):
    """A query against PostgreSQL; passes when the first column of the first row equals
    ``expect`` (compared as text, so ``expect: true`` and ``expect: 't'`` both work)."""

    dsn: Text
    query: Text = "select 1"
    expect: Any = None
    """Without it, any row passes."""


class HttpCall(SpecModel):
    """An HTTP request with checks: the status, and optionally a text the body contains."""

    url: Text
    """A full URL, or a path on the drill's ``target``."""
    method: Literal["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"] = "GET"
    status: int = Field(default=200, ge=100, le=599)
    contains: str | None = None
    json_body: Any = Field(default=None, alias="json")
    headers: dict[str, str] = Field(default_factory=dict)
    timeout: PositiveDuration = 5.0


_CONDITIONS = ("http", "sql", "tcp", "command")


class Condition(SpecModel):
    """Exactly one of: ``http`` (a URL answers its status), ``sql`` (a query returns a value),
    ``tcp`` (host:port accepts a connection), ``command`` (a shell command exits 0)."""

    http: HttpCall | None = None
    sql: SqlCheck | None = None
    tcp: Text | None = None
    command: Text | None = None

    @classmethod
    def _from_scalar(cls, data: Any) -> Any:
        # `http: /readyz` is the common case: a path or URL that must answer 200.
        if isinstance(data, dict) and isinstance(data.get("http"), str):
            return {**data, "http": {"url": data["http"]}}
        return data

    @classmethod
    def _prepare(cls, data: dict[Any, Any]) -> tuple[dict[Any, Any], list[Issue]]:
        given = [k for k in _CONDITIONS if data.get(k) is not None]
        if len(given) != 1:
            got = " and ".join(given) if given else "none"
            return data, [issue((), f"a condition needs exactly one of {', '.join(_CONDITIONS)}; "
                                    f"got {got}")]  # fmt: skip
        tcp = data.get("tcp")
        if isinstance(tcp, str) and not re.fullmatch(r"[\w.\-\[\]:]+:\d{1,5}", tcp):
            return data, [issue(("tcp",), f"expected host:port, got {describe(tcp)}", tcp)]
        return data, []

    @property
    def label(self) -> str:
        if self.http is not None:
            return f"{self.http.method} {self.http.url} answers {self.http.status}"
        if self.sql is not None:
            want = "a row" if self.sql.expect is None else repr(self.sql.expect)
            return f"{self.sql.query!r} returns {want}"
        if self.tcp is not None:
            return f"{self.tcp} accepts connections"
        return f"{self.command!r} exits 0"


class WaitUntil(Condition):
    """Poll a condition until it holds; the step's ``timeout`` is the deadline."""

    interval: PositiveDuration = 0.25


class HealthSection(Condition):
    """What healthy means for the service: polled all through the drill. The first failed
    probe after the failure step is T_detect; healthy again for ``sustain`` is T_restored."""

    interval: PositiveDuration = 0.25
    timeout: PositiveDuration = 1.0
    """A probe slower than this has failed."""
    sustain: PositiveDuration = 3.0
    """Restored means every probe (and every write, with a writer) succeeds for this long."""
    deadline: PositiveDuration = 120.0
    """After the last step, how long to wait for the service to be restored before giving up."""


class HttpWrites(SpecModel):
    """Writes through the service: ``POST url`` with ``{"run": ..., "seq": n}`` (2xx is the
    acknowledgement); ``GET read`` (``{run}`` filled in) answers the seqs the service holds."""

    url: Text
    read: Text


class WriterSection(SpecModel):
    """The RPO probe: sequence-numbered, timestamped writes all through the drill; after it,
    the ones that survived are read back. Exactly one of ``postgres`` (rows in a table, read
    back from where the writer points last, or ``verify``) and ``http`` (the service's own
    write and read endpoints)."""

    postgres: Text | None = None
    """The DSN the writer starts on; a step ``writer: {postgres: ...}`` repoints it."""
    http: HttpWrites | None = None
    table: str = Field(default="slokit_drill_writes", pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")
    interval: PositiveDuration = 0.02
    verify: Text | None = None
    """Where to read the surviving rows from (default: where the writer points at the end)."""
    keep_rows: bool = False
    """Leave this drill's rows in the table (by default they are deleted after the check)."""

    @classmethod
    def _prepare(cls, data: dict[Any, Any]) -> tuple[dict[Any, Any], list[Issue]]:
        given = [k for k in ("postgres", "http") if data.get(k) is not None]
        if len(given) != 1:
            got = " and ".join(given) if given else "none"
            return data, [issue((), f"a writer needs exactly one of postgres, http; got {got}")]
        return data, []


class LoadSection(SpecModel):
    """Load from one of the spec's scenarios all through the drill: each second with more
    failures than ``max_error_rate`` is a failed observation (T_detect, T_restored)."""

    spec: Text = "slokit.yaml"
    """The service's spec, relative to the drill file."""
    scenario: str
    workers: int = Field(default=1, ge=1)
    max_error_rate: Percent | None = None
    """A second whose error rate is above this has failed. Default: what the spec's tightest
    availability SLO allows (``1 - objective``), or any failure when it has none."""


class WriterRepoint(SpecModel):
    postgres: Text


class ProcessAction(SpecModel):
    """Signal processes found by ``pidfile`` (its first line), ``pid`` or ``match`` (a regular
    expression over the command line), or ``start`` a command in the background."""

    signal: Literal["KILL", "TERM", "INT", "HUP", "STOP", "CONT", "QUIT"] = "KILL"
    pidfile: Text | None = None
    pid: int | None = Field(default=None, ge=1)
    match: str | None = None
    start: Text | None = None

    @classmethod
    def _prepare(cls, data: dict[Any, Any]) -> tuple[dict[Any, Any], list[Issue]]:
        given = [k for k in ("pidfile", "pid", "match", "start") if data.get(k) is not None]
        if len(given) != 1:
            got = " and ".join(given) if given else "none"
            return data, [issue((), f"a process action needs exactly one of pidfile, pid, match, "
                                    f"start; got {got}")]  # fmt: skip
        match = data.get("match")
        if isinstance(match, str):
            try:
                re.compile(match)
            except re.error as exc:
                return data, [issue(("match",), f"not a regular expression: {exc}", match)]
        return data, []

    @property
    def label(self) -> str:
        if self.start is not None:
            return f"start {self.start!r}"
        which = (
            f"pidfile {self.pidfile}"
            if self.pidfile is not None
            else f"pid {self.pid}"
            if self.pid is not None
            else f"processes matching {self.match!r}"
        )
        return f"SIG{self.signal} {which}"


class AlembicCheck(SpecModel):
    """The failover check of seed 004's ``db_restore_check.py``: the database's
    ``alembic_version`` must be exactly the project's ``alembic heads``."""

    config: Text = "alembic.ini"
    """The project's alembic.ini, relative to the drill file."""
    dsn: Text


class FaultStep(FaultAction):
    """A chaos fault (a toxic, a proxy down, an HTTP fault, a command) applied by a step; it is
    removed after ``for``, or by the rollbacks at the end."""


_ACTIONS = ("shell", "http", "wait", "process", "fault", "writer", "alembic", "sleep")


class Action(SpecModel):
    """Exactly one thing to do."""

    shell: Text | None = None
    expect_exit: int = 0
    http: HttpCall | None = None
    wait: WaitUntil | None = None
    process: ProcessAction | None = None
    fault: FaultStep | None = None
    writer: WriterRepoint | None = None
    alembic: AlembicCheck | None = None
    sleep: PositiveDuration | None = None

    @classmethod
    def _prepare(cls, data: dict[Any, Any]) -> tuple[dict[Any, Any], list[Issue]]:
        given = [k for k in _ACTIONS if data.get(k) is not None]
        if len(given) != 1:
            got = " and ".join(given) if given else "none"
            message = f"a step needs exactly one of {', '.join(_ACTIONS)}; got {got}"
            return data, [issue((), message)]
        if "expect_exit" in data and given[0] != "shell":
            return data, [issue(("expect_exit",), "expect_exit is for shell steps only")]
        return data, []

    @property
    def kind(self) -> str:
        return next(k for k in _ACTIONS if getattr(self, k) is not None)

    def describe(self) -> str:
        kind = self.kind
        if self.shell is not None:
            return f"shell: {self.shell}"
        if self.http is not None:
            return f"{self.http.method} {self.http.url}"
        if self.wait is not None:
            return f"wait until {self.wait.label}"
        if self.process is not None:
            return self.process.label
        if self.fault is not None:
            return f"fault: {self.fault.label}"
        if self.writer is not None:
            return "writer -> " + _redact(self.writer.postgres)
        if self.alembic is not None:
            return f"alembic heads == alembic_version ({self.alembic.config})"
        return f"{kind}: {self.sleep:g}s"


class Step(Action):
    """One timed step of the drill."""

    name: str | None = None
    owner: str | None = None
    """Who does this in the real runbook (default: the drill's owner)."""
    timeout: PositiveDuration | None = None
    """The step's deadline (default 120 s; a wait's default is its own deadline)."""
    failure: bool = False
    """This step causes the failure: T_fail is when it starts."""
    keep_going: bool = False
    """Go on with the next step even when this one fails."""
    rollback: Action | None = None
    """Run at the end (also on failure and Ctrl-C) when this step ran."""

    @property
    def label(self) -> str:
        return self.name or self.describe()

    @property
    def deadline(self) -> float:
        return self.timeout if self.timeout is not None else DEFAULT_STEP_TIMEOUT


DRILL_METRICS: dict[str, str] = {
    "rto": "duration",
    "rpo": "duration",
    "ttd": "duration",
    "lost_writes": "count",
    "failed_steps": "count",
}
"""What a drill gate can be on, and how its value is read."""

_GATE = re.compile(r"^\s*([a-z_]+)\s*(<=|>=|==|<|>)\s*(\S+)\s*$")


class DrillGate(SpecModel):
    """``rto < 60s``, ``rpo <= 5m``, ``ttd < 10s``, ``lost_writes == 0``, ``failed_steps == 0``."""

    text: str
    metric: str
    op: str
    threshold: float

    @classmethod
    def _from_scalar(cls, data: Any) -> Any:
        if not isinstance(data, str):
            return data
        found = _GATE.match(data)
        if found is None:
            raise ValueError(
                f"cannot read gate {data!r}; write '<metric> <op> <value>' such as 'rto < 60s' "
                f"(metrics: {', '.join(DRILL_METRICS)})"
            )
        metric, op, value = found.groups()
        kind = DRILL_METRICS.get(metric)
        if kind is None:
            raise ValueError(
                f"unknown drill metric {metric!r}; expected one of {', '.join(DRILL_METRICS)}"
            )
        if kind == "duration":
            threshold = parse_duration(value)
        else:
            if not re.fullmatch(r"\d+", value):
                raise ValueError(f"{metric} is a count; expected a whole number, got {value!r}")
            threshold = float(value)
        return {"text": data.strip(), "metric": metric, "op": op, "threshold": threshold}

    def passes(self, value: float) -> bool:
        return _OPS[self.op](value, self.threshold)


class Drill(SpecModel):
    """A disaster-recovery drill (``slokit drill DRILL.yaml``)."""

    version: Literal[1] = 1
    title: str
    name: str | None = Field(default=None, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,99}$")
    """The drill's name in the store and the dashboard (default: from the title)."""
    description: str | None = None
    owner: str | None = None
    target: Text | None = None
    """Base URL for HTTP paths in steps and health."""
    health: HealthSection | None = None
    writer: WriterSection | None = None
    load: LoadSection | None = None
    proxy: ProxySection | None = None
    """For fault steps on proxies: a running ``slokit proxy`` or Toxiproxy."""
    fault_token: str | None = None
    """For HTTP fault steps (default: the SLOKIT_FAULT_TOKEN environment variable)."""
    steps: list[Step] = Field(min_length=1)
    rollbacks: list[Action] = Field(default_factory=list)
    """Run at the end whatever happened, after the steps' own rollbacks (newest first)."""
    gates: list[DrillGate] = Field(default_factory=list)
    base_dir: str = "."

    _hidden_keys = frozenset({"base_dir"})

    @classmethod
    def _prepare(cls, data: dict[Any, Any]) -> tuple[dict[Any, Any], list[Issue]]:
        problems: list[Issue] = []
        steps = data.get("steps")
        if isinstance(steps, list):
            marked = [n for n, s in enumerate(steps) if isinstance(s, dict) and s.get("failure")]
            if len(marked) > 1:
                problems.append(
                    issue(
                        ("steps", marked[1], "failure"), "only one step can be the failure (T_fail)"
                    )
                )
            for n, step in enumerate(steps):
                if not isinstance(step, dict):
                    continue
                writer = data.get("writer")
                if (
                    step.get("writer") is not None
                    and isinstance(writer, dict)
                    and writer.get("http") is not None
                ):
                    problems.append(
                        issue(
                            ("steps", n, "writer"), "repoints a postgres writer; this one is http"
                        )
                    )
                if step.get("writer") is not None and data.get("writer") is None:
                    problems.append(
                        issue(
                            ("steps", n, "writer"),
                            "repoints the writer, but the drill has no writer:",
                        )
                    )
                fault = step.get("fault")
                proxied = isinstance(fault, dict) and (fault.get("toxic") or fault.get("down"))
                if proxied and data.get("proxy") is None:
                    problems.append(
                        issue(
                            ("steps", n, "fault"),
                            "a toxic or down fault needs a proxy: section",
                        )
                    )
        gates = data.get("gates")
        if isinstance(gates, list):
            needs = {"rpo": "writer", "lost_writes": "writer"}
            for n, gate in enumerate(gates):
                metric = gate.split()[0] if isinstance(gate, str) and gate.split() else None
                section = needs.get(metric or "")
                if section is not None and data.get(section) is None:
                    problems.append(
                        issue(
                            ("gates", n),
                            f"{metric} is measured by a writer: "
                            "section, which the drill does not have",
                            gate,
                        )
                    )
                if metric in ("rto", "ttd") and not isinstance(steps, list):
                    continue
                if metric in ("rto", "ttd") and not any(
                    isinstance(s, dict) and s.get("failure") for s in steps or []
                ):
                    problems.append(
                        issue(
                            ("gates", n),
                            f"{metric} is measured from the failure "
                            "step; mark one step 'failure: true'",
                            gate,
                        )
                    )
        return data, problems

    @property
    def slug(self) -> str:
        if self.name:
            return self.name
        return re.sub(r"[^a-z0-9]+", "-", self.title.lower()).strip("-")[:100] or "drill"

    def resolve(self, path: str) -> Path:
        """A path written in the drill file, relative to the file."""
        found = Path(path)
        return found if found.is_absolute() else Path(self.base_dir) / found

    def url(self, url: str) -> str:
        if url.startswith(("http://", "https://")) or self.target is None:
            return url
        return self.target.rstrip("/") + "/" + url.lstrip("/")


def _redact(dsn: str) -> str:
    """A DSN without its password, for journals and reports."""
    return re.sub(r"(://[^:/@]+):[^@]*@", r"\1:***@", dsn)


def parse_drill(text: str, source: str = "<string>") -> Drill:
    """Validate drill ``text``; raise :class:`~slokit.errors.SpecError` on any problem."""
    return parse_document(text, Drill, source, what="drill", example="title: <what>")


def load_drill(path: str | os.PathLike[str]) -> Drill:
    """Read and validate a drill file; relative paths in it are relative to the file."""
    source = os.fspath(path)
    drill = parse_drill(read_document(source, "drill"), source)
    return drill.model_copy(update={"base_dir": str(Path(source).absolute().parent)})
