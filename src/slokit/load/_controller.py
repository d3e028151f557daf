"""The controller: starts workers, merges their per-second snapshots, decides how a run ends.

A run ends normally when every worker reports done. It ends early, with partial results
kept and marked, when the user presses Ctrl-C (or sends SIGTERM), when a worker process
dies, or when the target stops accepting connections for ``TARGET_DEAD_SECONDS`` seconds.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import math
import os
import queue as queue_mod
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from slokit.errors import RunError, UsageError
from slokit.load._backend import Backend, LocalBackend
from slokit.load._capacity import run_capacity
from slokit.load._flow import compile_flow
from slokit.load._http import HttpClient
from slokit.load._preflight import planned_requests
from slokit.load._resources import Sampling, check_resources
from slokit.load._script import load_journey
from slokit.load._signals import interrupts_ignored
from slokit.load._worker import WorkerArgs
from slokit.results import (
    Aggregator,
    RequestStats,
    ScenarioResults,
    Snapshot,
    Spike,
    WorkerStats,
    drift_of,
    evaluate,
    health_of,
    judge_gate,
    measure_spike,
    price_scenario,
    spike_shape,
)
from slokit.spec import (
    Capacity,
    ConstantArrivalRate,
    PerVUIterations,
    RampingArrivalRate,
    RampingVUs,
    Scenario,
    Spec,
)

__all__ = ["LiveTick", "Progress", "RunOptions", "run_one", "run_scenario"]

log = logging.getLogger("slokit.load")

TARGET_DEAD_SECONDS = 3
"""Consecutive seconds in which every request failed to connect before a run is aborted."""

STOP_WAIT = 3.0
"""Seconds the workers get to ship their last second after a stop (Ctrl-C, SIGTERM) before
they are terminated: they cancel in-flight requests after ``STOP_GRACE`` (0.5 s)."""


@dataclass(frozen=True)
class RunOptions:
    workers: int | None = None
    """Worker processes; None means one per core."""
    duration: float | None = None
    """Override every scenario's duration (ramps are scaled)."""
    target: str | None = None
    """Override the base URL of every scenario."""
    on_start: Callable[[float], None] | None = None
    """Called with the wall-clock time (``time.time()``) of each scenario's second 0, so a
    caller can line its own timeline up with the run's (chaos experiments do)."""
    should_stop: Callable[[], str | None] | None = None
    """Polled a few times a second; a returned reason ends the scenario early as aborted."""
    insecure: bool = False
    """Do not verify TLS certificates (self-signed staging): ``--insecure-skip-tls-verify``."""
    http_debug: int = 0
    """Print this many requests and responses per worker to stderr: ``--http-debug``."""
    parallel: bool = False
    """Run the chosen scenarios side by side, as if each set ``start_time`` (``--parallel``)."""
    backend: Callable[[int], Backend] | None = None
    """Where the workers run, given their number: local processes when None; ``--ray``
    gives a Ray cluster's (see ``_ray.py``)."""
    fail_on_worker_loss: bool = False
    """On a cluster, end the run (partial, exit 3) when a worker is lost, rather than go on."""
    start_at: Callable[[], float | None] | None = None
    """Called once a scenario's workers are ready; returns the wall-clock time its second 0
    is due (None: now). Scenarios side by side line their starts up on one timeline so."""


@dataclass(frozen=True)
class LiveTick:
    """What the live progress display is told once per second."""

    scenario: str
    second: int
    duration: float
    warmup: bool
    requests: int
    failures: int
    dropped: int
    vus: int
    p95_ms: float | None
    nodes: tuple[tuple[str, int], ...] = ()
    """Requests of the second by node, when the workers run on more than one (``--ray``)."""


Progress = Callable[[LiveTick], None]


def _max_concurrency(sc: Scenario) -> int:
    if isinstance(sc, ConstantArrivalRate | RampingArrivalRate):
        return sc.max_vus
    if isinstance(sc, RampingVUs):
        return max([sc.start_vus, *(s.to for s in sc.stages)])
    return int(getattr(sc, "vus", 1))


def resolve_target(spec: Spec, sc: Scenario, options: RunOptions) -> str | None:
    return options.target or sc.target or spec.target


def _check_target(target: str) -> None:
    parts = urlsplit(target)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UsageError(f"target {target!r} is not an http:// or https:// URL")
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        with socket.create_connection((parts.hostname, port), timeout=3.0):
            pass
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise RunError(
            f"target {target} is not reachable ({parts.hostname}:{port}: {reason}); "
            "is the service running? Set the URL with --target or `target:` in the spec"
        ) from None


def _validate_scenario(spec: Spec, sc: Scenario, target: str | None) -> None:
    """Fail before any process starts: bad scripts and relative paths without target."""
    if sc.flow is not None:
        compile_flow(sc.flow, client=HttpClient(), target=target, headers=sc.headers, routes=[])
    elif sc.script is not None:
        load_journey(sc.script, spec.base_dir)


@dataclass
class _State:
    per_second: dict[int, RequestStats] = field(default_factory=dict)
    vus: dict[int, int] = field(default_factory=dict)
    by_node: dict[int, dict[str, int]] = field(default_factory=dict)
    latest: dict[int, int] = field(default_factory=dict)
    shown: int = -1
    dead_streak: int = 0
    judged: int = -1


def run_scenario(
    spec: Spec,
    name: str,
    options: RunOptions = RunOptions(),
    progress: Progress | None = None,
) -> ScenarioResults:
    """Run one scenario across worker processes and return its merged, judged results."""
    sc = spec.scenario(name)
    if options.duration is not None:
        sc = sc.with_duration(options.duration)
    if isinstance(sc, Capacity):
        results = run_capacity(spec, name, sc, options, progress, run_step=run_one)
        _price(spec, sc, resolve_target(spec, sc, options), results)
        results.verdicts = evaluate(spec, results, gated=sc.gate, scenario=sc)
        results.gated = sc.gate
        return results
    return run_one(spec, name, sc, options, progress)


def run_one(
    spec: Spec,
    name: str,
    sc: Scenario,
    options: RunOptions = RunOptions(),
    progress: Progress | None = None,
) -> ScenarioResults:
    """Run ``sc`` (any executor but capacity) as scenario ``name`` and judge it."""
    target = resolve_target(spec, sc, options)
    wanted = options.workers if options.workers is not None else (os.cpu_count() or 1)
    if wanted < 1:
        raise UsageError("--workers must be at least 1")
    workers = max(1, min(wanted, _max_concurrency(sc)))
    warmup, notes = _warmup_of(spec, sc)
    warmup_seconds = math.ceil(warmup) if warmup > 0 else 0
    aggregator = Aggregator(name, sc.executor, float(warmup_seconds), workers)
    try:
        _validate_scenario(spec, sc, target)
        if target is not None:
            _check_target(target)
        check_resources(spec, sc)
    except KeyboardInterrupt:
        results = aggregator.finish(0.0, partial=True, abort_reason="interrupted (Ctrl-C)")
    else:
        run = _Run(spec, sc, name, workers, target, warmup_seconds, aggregator, progress, options)
        with Sampling(spec, sc) as sampling:
            results = run.execute()
        sampling.attach(results)
        notes += _judge_whole_run_if_warmup_ate_it(results, warmup, run.warmup_requests)
    results.drift = drift_of(results.seconds, results.warmup_s)
    results.spike = _spike(spec, sc, results)
    results.notes.extend(notes)
    flow = planned_requests(spec, sc)
    _price(spec, sc, target, results)
    results.verdicts = evaluate(spec, results, gated=sc.gate, scenario=sc, flow=flow)
    results.gated = sc.gate
    judged = {v.name for v in results.verdicts if v.kind == "slo"}
    results.not_exercised = [n for n in spec.slos if n not in judged]
    return results


def _price(spec: Spec, sc: Scenario, target: str | None, results: ScenarioResults) -> None:
    prices = spec.cost_for(sc, target)
    results.cost = None if prices is None else price_scenario(prices, results)


def _lost_note(lost: dict[int, float], workers: int, backend: Backend) -> str:
    which = ", ".join(f"worker {w} on {backend.node(w)} at +{at:.1f}s" for w, at in lost.items())
    return (
        f"{len(lost)} of {workers} workers lost ({which}): what they measured before is kept; "
        "their share of the load was not sent after that"
    )


def _spike(spec: Spec, sc: Scenario, results: ScenarioResults) -> Spike | None:
    """A ramping scenario that rose and fell back: how bad it got, how fast it recovered."""
    if isinstance(sc, RampingVUs):
        shape = spike_shape(sc.start_vus, [(s.to, s.over) for s in sc.stages])
        unit = "VUs"
    elif isinstance(sc, RampingArrivalRate):
        shape = spike_shape(sc.start_rate, [(s.to, s.over) for s in sc.stages])
        unit = "/s"
    else:
        return None
    if shape is None or results.partial:
        return None
    return measure_spike(
        shape,
        unit,
        results.seconds,
        warmup_s=results.warmup_s,
        health=health_of(spec, sc),
        hold_s=sc.recovery_hold,
    )


def _warmup_of(spec: Spec, sc: Scenario) -> tuple[float, list[str]]:
    """The warm-up this scenario gets, and a note when the spec's default is not applied.

    A per-vu-iterations scenario is bounded by its count, not by time: a spec-wide warm-up
    would cut an arbitrary share of the iterations the user asked for out of the verdicts,
    so only a warm-up set on the scenario itself applies to it.
    """
    if sc.warmup is not None:
        return sc.warmup, []
    if isinstance(sc, PerVUIterations) and spec.warmup > 0:
        return 0.0, [
            f"the spec's warm-up ({spec.warmup:g}s) is not applied to a per-vu-iterations "
            "scenario: every iteration is judged (set `warmup:` on the scenario to have one)"
        ]
    return spec.warmup, []


def _judge_whole_run_if_warmup_ate_it(
    results: ScenarioResults, warmup: float, warm: dict[str, RequestStats]
) -> list[str]:
    """When the warm-up would leave nothing to judge, judge everything and say so.

    A scenario that ends before its warm-up does (a short per-vu-iterations run, an early
    abort) would otherwise report that no request ran, and gates such as ``requests >= N``
    would fail on requests that were sent and answered.
    """
    measured = sum(s.count for s in results.requests.values())
    if not warm or not results.warmup_s:
        return []
    if measured and results.duration_s > results.warmup_s:
        return []
    for name, stats in warm.items():
        mine = results.requests.get(name)
        if mine is None:
            results.requests[name] = stats.copy()
        else:
            mine.merge(stats)
    results.timeline = [dataclasses.replace(p, warmup=False) for p in results.timeline]
    results.warmup_s = 0.0
    note = (
        f"warm-up ({warmup:g}s) not applied: the scenario ended after "
        f"{results.duration_s:.2f}s, before its warm-up did, so every request is judged"
    )
    log.warning("scenario %s: %s", results.name, note)
    return [note]


class _Run:
    def __init__(
        self,
        spec: Spec,
        sc: Scenario,
        name: str,
        workers: int,
        target: str | None,
        warmup_seconds: int,
        aggregator: Aggregator,
        progress: Progress | None,
        options: RunOptions = RunOptions(),
    ) -> None:
        self.options = options
        self.spec, self.sc, self.name, self.workers = spec, sc, name, workers
        self.target, self.warmup_seconds = target, warmup_seconds
        self.aggregator, self.progress = aggregator, progress
        self.backend: Backend = (
            options.backend(workers) if options.backend is not None else LocalBackend()
        )
        self.queue: Any = self.backend.queue
        self.go = self.backend.go
        self.stop = self.backend.stop
        self.start_wall: Any = self.backend.start_wall
        self.lost: dict[int, float] = {}
        """Workers lost mid-run (a dead actor or node) and when, in seconds since second 0."""
        self.requests_by_worker: dict[int, int] = {}
        self.abort_reason: str | None = None
        # k6's abortOnFail: these gates are judged every second while the load runs.
        self.abort_gates = [g for g in [*spec.gates, *sc.gates] if g.abort_on_fail]
        self.stopped_by_gate: str | None = None
        self._next_gate_check = 0.0
        self.ended: float | None = None
        self.busy: dict[int, float] = {}
        self.late = [0, 0]
        self.runner: str | None = None
        self.state = _State()
        self.exceptions_seen: set[str] = set()
        self.warmup_requests: dict[str, RequestStats] = {}
        """Warm-up requests by name, which the aggregator leaves out: kept in case the
        warm-up turns out to cover the whole run (see _judge_whole_run_if_warmup_ate_it)."""

    def _add(self, snap: Snapshot) -> None:
        self.aggregator.add(snap)
        if not snap.warmup:
            return
        for name, stats in snap.requests.items():
            mine = self.warmup_requests.get(name)
            if mine is None:
                self.warmup_requests[name] = stats.copy()
            else:
                mine.merge(stats)

    def _spawn(self, procs: list[Any]) -> None:
        """Start the workers into ``procs`` one by one, so an interrupt mid-way reaps those
        already started."""
        for w in range(self.workers):
            args = WorkerArgs(
                spec=self.spec,
                scenario=self.sc,
                name=self.name,
                worker=w,
                workers=self.workers,
                target=self.target,
                warmup_seconds=self.warmup_seconds,
                insecure=self.options.insecure,
                http_debug=self.options.http_debug,
            )
            procs.append(self.backend.spawn(args))

    def execute(self) -> ScenarioResults:
        procs: list[Any] = []
        done: set[int] = set()
        started = datetime.now(UTC)
        try:
            self._spawn(procs)
            self._await_ready(procs, done)
            self.start_wall.value = self._second_zero()
            self.go.set()
            if self.options.on_start is not None:
                self.options.on_start(self.start_wall.value)
            started = datetime.now(UTC)
            self._collect(procs, done)
        except KeyboardInterrupt as exc:
            # Ctrl-C, or SIGTERM turned into one by the CLI: at any moment, spawning
            # included, the run ends within seconds and keeps what was measured.
            self._abort(f"interrupted ({str(exc) or 'Ctrl-C'})")
            with interrupts_ignored(), contextlib.suppress(KeyboardInterrupt):
                self._collect(procs, done, bounded=True)
        finally:
            self.stop.set()
            self.go.set()
            with interrupts_ignored():
                self._reap(procs)
        # The measured window ends at the scenario's duration; draining in-flight requests
        # afterwards is not part of it, but an early end (abort, iterations done) is.
        ended = self.ended or time.time()
        elapsed = max(0.0, ended - self.start_wall.value) if self.start_wall.value else 0.0
        if self.abort_reason is None:
            elapsed = min(elapsed, self.sc.duration)
        for text in sorted(self.exceptions_seen):
            log.warning("scenario %s: a journey raised %s", self.name, text)
        results = self.aggregator.finish(
            duration_s=elapsed,
            partial=self.abort_reason is not None,
            abort_reason=self.abort_reason,
        )
        results.stopped_by_gate = self.stopped_by_gate
        results.worker_stats = [
            WorkerStats(
                worker=w,
                node=self.backend.node(w),
                requests=self.requests_by_worker.get(w, 0),
                busy=self.busy.get(w),
                lost_at=self.lost.get(w),
            )
            for w in range(self.workers)
        ]
        if self.lost:
            results.notes.append(_lost_note(self.lost, self.workers, self.backend))
        results.started = datetime.fromtimestamp(self.start_wall.value or started.timestamp(), UTC)
        results.generator_busy = max(self.busy.values()) if self.busy else None
        if self.late[1]:
            results.generator_late = self.late[0] / self.late[1]
        results.runner = self.runner
        return results

    def _second_zero(self) -> float:
        soonest = time.time() + 0.25
        due = self.options.start_at
        wanted = due() if due is not None and self.abort_reason is None else None
        return soonest if wanted is None else max(soonest, wanted)

    def _abort(self, reason: str) -> None:
        if self.abort_reason is None:
            self.abort_reason = reason
            self.ended = time.time()
        self.stop.set()

    def _await_ready(self, procs: list[Any], done: set[int]) -> None:
        ready: set[int] = set()
        limit = time.monotonic() + 60.0
        while len(ready) < self.workers:
            try:
                msg = self.queue.get(timeout=0.2)
            except queue_mod.Empty:
                dead = [p for p in procs if p.exitcode is not None]
                if dead and self.abort_reason is not None:
                    return  # stopping anyway (a worker may have caught the Ctrl-C itself)
                if dead:
                    raise RunError(
                        f"worker process exited with code {dead[0].exitcode} before start"
                    ) from None
                if time.monotonic() > limit:
                    raise RunError("workers did not start within 60 s") from None
                continue
            if msg[0] == "ready":
                ready.add(msg[1])
            elif msg[0] == "error":
                raise UsageError(msg[2].strip())
            elif msg[0] == "done":
                done.add(msg[1])

    def _collect(self, procs: list[Any], done: set[int], bounded: bool = False) -> None:
        limit = self.start_wall.value + self.sc.duration + min(self.sc.timeout, 30.0) + 15.0
        if bounded:
            limit = time.time() + STOP_WAIT
        should_stop = self.options.should_stop
        while len(done) < self.workers:
            if time.time() > limit:
                self._abort("workers did not finish in time")
                return
            if should_stop is not None and self.abort_reason is None:
                reason = should_stop()
                if reason is not None:
                    self._abort(reason)
            try:
                msg = self.queue.get(timeout=0.2)
            except queue_mod.Empty:
                for w, p in enumerate(procs):
                    if w not in done and p.exitcode is not None:
                        done.add(w)
                        if p.exitcode != 0:  # 0: finished; its "done" is still on its way
                            self._lose(w, p.exitcode)
                continue
            self._handle(msg, done)
            if self.abort_gates and self.abort_reason is None:
                self._judge_live()

    def _lose(self, worker: int, code: int) -> None:
        """A worker ended without saying done. Locally that is a crash and ends the run; on
        a cluster (a dead actor or node) the others go on, and the results say who was lost."""
        if worker in self.lost:
            return  # said "orphaned", then its actor ended too
        node = self.backend.node(worker)
        if not self.backend.survives_loss or self.options.fail_on_worker_loss:
            where = f" on {node}" if self.backend.survives_loss else ""
            self._abort(f"worker {worker}{where} died (exit code {code})")
            return
        at = max(0.0, time.time() - self.start_wall.value) if self.start_wall.value else 0.0
        self.lost[worker] = at
        log.warning("scenario %s: worker %d on %s lost at +%.1fs", self.name, worker, node, at)
        if len(self.lost) == self.workers:
            self._abort("every worker was lost")

    def _judge_live(self) -> None:
        """Stop the run when an ``abort_on_fail`` gate fails on what was measured so far
        (after warm-up and its ``delay_abort_eval``). A gate with nothing to measure yet,
        a request not sent so far, is left for later, never a reason to stop."""
        now = time.time()
        if now < self._next_gate_check or not self.start_wall.value:
            return
        self._next_gate_check = now + 1.0
        elapsed = now - self.start_wall.value
        live: ScenarioResults | None = None
        for gate in self.abort_gates:
            if elapsed < self.warmup_seconds + gate.delay_abort_eval:
                continue
            if live is None:  # built once per check, and only when a gate is due
                live = self.aggregator.finish(duration_s=elapsed)
            verdict = judge_gate(gate, live, own=gate in self.sc.gates)
            if verdict.judged and verdict.observed is not None and not verdict.passed:
                self.stopped_by_gate = gate.text
                self._abort(
                    f"gate {gate.text!r} failed while the load ran ({verdict.detail}); "
                    "abort_on_fail stopped the run"
                )
                return

    def _handle(self, msg: tuple[Any, ...], done: set[int]) -> None:
        kind, worker = msg[0], msg[1]
        if kind == "snapshot":
            snap = Snapshot.from_dict(msg[2])
            self._add(snap)
            self._count(worker, snap)
            self._observe(worker, snap)
        elif kind == "pace":
            self.busy[worker] = float(msg[2])
            self.late[0] += int(msg[3])
            self.late[1] += int(msg[4])
            if len(msg) > 5:
                self.runner = str(msg[5])
        elif kind == "orphaned":
            self._lose(worker, -1)
        elif kind == "done":
            done.add(worker)
            if len(done) == self.workers and self.ended is None:
                self.ended = time.time()
        elif kind == "error":
            self._abort(f"worker {worker} failed: {msg[2].strip().splitlines()[-1]}")
        elif (
            kind == "exception"
            and msg[2] not in self.exceptions_seen
            and len(self.exceptions_seen) < 5
        ):
            self.exceptions_seen.add(msg[2])

    def _count(self, worker: int, snap: Snapshot) -> None:
        if not snap.warmup:
            sent = sum(stats.count for stats in snap.requests.values())
            self.requests_by_worker[worker] = self.requests_by_worker.get(worker, 0) + sent

    def _observe(self, worker: int, snap: Snapshot) -> None:
        st = self.state
        total = st.per_second.get(snap.second)
        if total is None:
            total = st.per_second[snap.second] = RequestStats("total", "-", "-")
        for stats in snap.requests.values():
            total.merge(stats)
        st.vus[snap.second] = st.vus.get(snap.second, 0) + snap.vus
        if self.backend.survives_loss:  # a cluster: say which machine sent what, live
            nodes = st.by_node.setdefault(snap.second, {})
            node = self.backend.node(worker)
            nodes[node] = nodes.get(node, 0) + sum(s.count for s in snap.requests.values())
        st.latest[worker] = max(st.latest.get(worker, -1), snap.second)
        if len(st.latest) < self.workers:
            return
        complete = min(st.latest.values())
        self._judge_target(complete)
        if complete > st.shown and self.progress is not None:
            st.shown = complete
            point = st.per_second.get(complete, None)
            if point is not None:
                self.progress(
                    LiveTick(
                        scenario=self.name,
                        second=complete,
                        duration=self.sc.duration,
                        warmup=complete < self.warmup_seconds,
                        requests=point.count,
                        failures=sum(point.failures.values()),
                        dropped=point.dropped,
                        vus=st.vus.get(complete, 0),
                        p95_ms=point.latency.percentile(95) / 1000 if point.latency.count else None,
                        nodes=tuple(sorted(st.by_node.get(complete, {}).items())),
                    )
                )

    def _judge_target(self, complete: int) -> None:
        st = self.state
        while st.judged < complete:
            st.judged += 1
            point = st.per_second.get(st.judged)
            unreachable = 0
            if point is not None:
                unreachable = point.failures.get("connect", 0) + point.failures.get("protocol", 0)
            if point is not None and point.count > 0 and unreachable == point.count:
                st.dead_streak += 1
            else:
                st.dead_streak = 0
            if st.dead_streak >= TARGET_DEAD_SECONDS:
                self._abort(
                    "target unreachable: every request failed to connect "
                    f"for {TARGET_DEAD_SECONDS} s"
                )

    def _reap(self, procs: list[Any]) -> None:
        # A worker that has not said done by now after a stop is stuck: do not wait long.
        patience = 5.0 if self.abort_reason is None else 1.0
        limit = time.monotonic() + patience
        for p in procs:
            p.join(timeout=max(0.0, limit - time.monotonic()))
        for p in procs:
            if p.is_alive():
                p.terminate()
                p.join(timeout=2.0)
            if p.is_alive():
                p.kill()
                p.join(timeout=2.0)
        # Drain what is left so the queue's feeder thread can exit.
        with contextlib.suppress(Exception):
            while True:
                msg = self.queue.get_nowait()
                if msg[0] in ("snapshot", "exception", "pace"):
                    self._handle(msg, set())
        self.backend.close()
