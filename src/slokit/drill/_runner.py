"""``slokit drill``: run a drill's steps on time, watch the service, measure RTO and RPO.

Steps run in this thread, one after another, each killed at its deadline, so Ctrl-C lands in
the step that is running (its process group goes down with it). The health probe and the RPO
writer run in threads of their own all through the drill. Whatever happens, the rollbacks run
(the steps' own, newest first, then the drill's), shielded from a second Ctrl-C; then the
writer's rows are read back and the gates judged.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import Any

from slokit.drill._conditions import check, http_call
from slokit.drill._journal import DrillJournal, GateResult, StepRecord
from slokit.drill._load import LoadAlongside
from slokit.drill._model import Action, AlembicCheck, Drill, FaultStep, Step, _redact
from slokit.drill._process import run_shell, signal_processes, start_background
from slokit.drill._timings import HealthMonitor, Observation, detect, restored
from slokit.drill._writer import HttpWriter, Writer, ranges
from slokit.errors import SlokitError, UsageError

__all__ = ["DrillOptions", "run_drill"]

_PREFLIGHT = 15.0
"""Seconds the service has to be healthy before the drill starts (else it is refused)."""
_FAULT_HOLD = 3600.0
"""An HTTP fault with no ``for`` expires after this, in case the rollbacks never run."""


@dataclass(frozen=True)
class DrillOptions:
    out_dir: Path | None = None
    """Where background processes' logs go (default: beside the drill file)."""
    on_event: Callable[[float, str], None] | None = None
    """Told what happens as it happens: ``(drill seconds, text)``."""


class _Interrupted(Exception):
    pass


@dataclass
class _Context:
    drill: Drill
    options: DrillOptions
    journal: DrillJournal
    clock: Callable[[], float]
    writer: Writer | None = None
    load: LoadAlongside | None = None
    loop: asyncio.AbstractEventLoop | None = None
    actuator: Any = None
    faults: list[tuple[FaultStep, str]] = field(default_factory=list)

    def event(self, text: str, t: float | None = None) -> None:
        when = self.clock() if t is None else t
        self.journal.events.append({"t": round(when, 4), "text": text})
        if self.options.on_event is not None:
            self.options.on_event(when, text)


def run_drill(drill: Drill, options: DrillOptions = DrillOptions()) -> DrillJournal:
    """Run ``drill``; rollbacks always run. Raises SlokitError for a drill that cannot start
    (a writer that cannot write, a service unhealthy before the failure)."""
    t0 = time.monotonic()

    def clock() -> float:
        return time.monotonic() - t0

    journal = DrillJournal(
        title=drill.title, name=drill.slug, source=drill.base_dir, started=datetime.now(UTC)
    )
    ctx = _Context(drill, options, journal, clock)
    monitor = _monitor(ctx)
    load = LoadAlongside(drill.load, drill, clock) if drill.load is not None else None
    ctx.load = load
    if drill.writer is not None:
        ctx.writer = _writer(drill, clock, ctx.event)
        try:
            ctx.writer.prepare()
        except Exception as exc:  # psycopg's errors, or the read URL's: told as what to fix
            first = str(exc).strip().splitlines()
            where = drill.writer.postgres or (drill.writer.http.url if drill.writer.http else "")
            raise UsageError(
                f"the writer cannot write to {_redact(where)}: "
                f"{first[0] if first else type(exc).__name__}; check the writer: section"
            ) from None
    ran: list[Step] = []
    try:
        healthy = _preflight(ctx)
        if monitor is not None:
            if healthy is not None:
                monitor.seed(healthy)
            monitor.start()
        if ctx.writer is not None:
            ctx.writer.start()
        if load is not None:
            load.start()
            load.wait_running()
        with _interruptible():
            _steps(ctx, ran)
            _await_recovery(ctx, monitor)
    except _Interrupted:
        journal.status = "aborted"
        journal.reasons.append("interrupted (Ctrl-C); the rollbacks ran")
        ctx.event("interrupted")
    finally:
        with _rollback_shield(ctx):
            # The measurement ends with the steps (and the wait for recovery): what the
            # rollbacks do to the service is not part of the outage.
            if monitor is not None:
                monitor.stop()
            if ctx.writer is not None:
                ctx.writer.stop()
            if load is not None:
                load.stop()
            # Faults off first, so the writes can be read back from a reachable service;
            # read them before the rollbacks change anything (a rollback may stop what
            # holds them); then the rollbacks.
            if ctx.loop is not None:
                _remove_faults(ctx)
            _check_writes(ctx)
            _rollbacks(ctx, ran)
            if ctx.loop is not None:
                _close_loop(ctx)
    _measure(ctx, monitor)
    _judge(ctx)
    journal.ended = datetime.now(UTC)
    return journal


def _writer(drill: Drill, clock: Callable[[], float], on_event: Callable[[str], None]) -> Writer:
    section = drill.writer
    assert section is not None
    if section.http is not None:
        write, read = drill.url(section.http.url), drill.url(section.http.read)
        return HttpWriter(write, read, section.interval, clock, on_event=on_event)
    assert section.postgres is not None
    return Writer(section.postgres, section.table, section.interval, clock, on_event=on_event)


# --- watching -------------------------------------------------------------------------


def _monitor(ctx: _Context) -> HealthMonitor | None:
    health = ctx.drill.health
    if health is None:
        return None

    def changed(seen: Observation) -> None:
        state = "healthy" if seen.ok else "unhealthy"
        ctx.journal.health.append({"t": seen.t, "ok": seen.ok, "detail": seen.detail})
        ctx.event(f"health: {state} ({seen.detail})", seen.t)

    return HealthMonitor(
        lambda: check(health, ctx.drill, health.timeout), health.interval, ctx.clock, changed
    )


def _preflight(ctx: _Context) -> Observation | None:
    health = ctx.drill.health
    if health is None:
        return None
    deadline = time.monotonic() + _PREFLIGHT
    while True:
        began = ctx.clock()
        ok, detail = check(health, ctx.drill, health.timeout)
        if ok:
            return Observation(round(began, 4), ok, detail)
        if time.monotonic() >= deadline:
            raise UsageError(
                f"the service is not healthy before the drill ({detail}); a drill measures "
                "recovery from a failure, so it starts from a healthy service"
            )
        time.sleep(health.interval)


def _signals(ctx: _Context, monitor: HealthMonitor | None) -> dict[str, list[Observation]]:
    signals: dict[str, list[Observation]] = {}
    if monitor is not None:
        signals["health"] = list(monitor.observations)
    if ctx.writer is not None:
        signals["writer"] = [
            Observation(w.t, w.acked, w.error or "") for w in list(ctx.writer.writes)
        ]
    if ctx.load is not None:
        signals["load"] = list(ctx.load.observations)
    return signals


def _await_recovery(ctx: _Context, monitor: HealthMonitor | None) -> None:
    """After the last step, wait until the service is seen restored (or the deadline)."""
    t_fail = ctx.journal.t_fail
    if t_fail is None or not _signals(ctx, monitor):
        return
    health = ctx.drill.health
    sustain = health.sustain if health is not None else 3.0
    deadline = ctx.clock() + (health.deadline if health is not None else 120.0)
    step = health.interval if health is not None else 0.25
    while ctx.clock() < deadline:
        if restored(_signals(ctx, monitor), t_fail, sustain) is not None:
            return
        time.sleep(step)
    ctx.event(f"not restored {deadline - t_fail:.0f}s after the failure; giving up")


def _measure(ctx: _Context, monitor: HealthMonitor | None) -> None:
    journal, drill = ctx.journal, ctx.drill
    signals = _signals(ctx, monitor)
    sustain = drill.health.sustain if drill.health is not None else 3.0
    journal.sustain_s = sustain
    if journal.t_fail is not None and signals:
        found = detect(signals, journal.t_fail)
        if found is not None:
            journal.t_detect, journal.detected_by = round(found[0], 4), found[1]
        back = restored(signals, journal.t_fail, sustain)
        journal.t_restored = None if back is None else round(back, 4)
    if ctx.load is not None:
        seconds = ctx.load.observations
        journal.load = {
            **(ctx.load.summary or {}),
            "seconds": len(seconds),
            "failed_seconds": [o.t for o in seconds if not o.ok],
            "max_error_rate": ctx.load.max_error_rate,
            "error": ctx.load.error,
        }


def _check_writes(ctx: _Context) -> None:
    """Read the writer's writes back and count what was lost (RPO)."""
    journal, drill = ctx.journal, ctx.drill
    if ctx.writer is None or drill.writer is None:
        return
    writes = list(ctx.writer.writes)
    verify = drill.writer.verify
    result = ctx.writer.verify(verify, journal.t_fail, drill.writer.keep_rows)
    journal.rpo = {
        "rpo_s": result.rpo_s,
        "lost": result.lost,
        "lost_writes": len(result.lost),
        "acknowledged": result.acknowledged,
        "survived": result.survived,
        "in_doubt": result.in_doubt,
        "in_doubt_survived": result.in_doubt_survived,
        "data_currency_t": result.data_currency_t,
        "data_currency": _iso(journal, result.data_currency_t),
        "oldest_lost_t": result.oldest_lost_t,
        "newest_lost_t": result.newest_lost_t,
        "read_from": _redact(result.read_from),
        "error": result.error,
    }
    failed = [w for w in writes if not w.acked]
    journal.writes = {
        "run": ctx.writer.run_id,
        "table": drill.writer.table,
        "interval_s": drill.writer.interval,
        "attempted": len(writes),
        "acknowledged_seqs": ranges(w.seq for w in writes if w.acked),
        "in_doubt_seqs": ranges(w.seq for w in writes if w.error == "in doubt"),
        "failed": len(failed),
        "first_failed_t": failed[0].t if failed else None,
        "last_failed_t": failed[-1].t if failed else None,
        "targets": sorted({_redact(w.dsn) for w in writes}),
    }
    if result.error:
        ctx.event(f"writer check: {result.error}")


def _iso(journal: DrillJournal, t: float | None) -> str | None:
    when = journal.at(t)
    return None if when is None else when.isoformat()


# --- steps ----------------------------------------------------------------------------


def _steps(ctx: _Context, ran: list[Step]) -> None:
    steps = ctx.drill.steps
    for n, step in enumerate(steps):
        record = _record(ctx, step, "step")
        record.failure = step.failure
        ctx.journal.steps.append(record)
        ran.append(step)
        if step.failure:
            ctx.journal.t_fail = round(ctx.clock(), 4)
            ctx.event(f"T_fail: {step.label}")
        _execute(ctx, step, record)
        if record.status != "ok" and not step.keep_going:
            for later in steps[n + 1 :]:
                skipped = _record(ctx, later, "step")
                skipped.detail = f"skipped: step {step.label!r} {record.status}"
                ctx.journal.steps.append(skipped)
            return


def _record(ctx: _Context, action: Action, phase: str) -> StepRecord:
    step = action if isinstance(action, Step) else None
    owner = (step.owner if step is not None else None) or ctx.drill.owner
    return StepRecord(
        name=step.label if step is not None else action.describe(),
        kind=action.kind,
        what=_redact(action.describe()),
        owner=owner,
        phase=phase,
        deadline_s=_deadline(action),
    )


def _deadline(action: Action) -> float:
    if isinstance(action, Step) and action.timeout is not None:
        return action.timeout
    if action.wait is not None:
        return 60.0
    if action.sleep is not None:
        return action.sleep + 5.0
    if action.fault is not None and action.fault.for_ is not None:
        return action.fault.for_ + 30.0
    return Step.model_fields["timeout"].default or 120.0


def _execute(ctx: _Context, action: Action, record: StepRecord) -> None:
    record.started = round(ctx.clock(), 4)
    ctx.event(f"{record.phase} {record.name!r} started")
    try:
        _do(ctx, action, record, _deadline(action))
    except _Interrupted:
        record.status = "interrupted"
        record.ended = round(ctx.clock(), 4)
        raise
    except KeyboardInterrupt:
        record.status = "interrupted"
        record.ended = round(ctx.clock(), 4)
        raise _Interrupted() from None
    except SlokitError as exc:
        record.status, record.detail = "failed", str(exc)
    except Exception as exc:
        record.status, record.detail = "failed", f"{type(exc).__name__}: {exc}"
    record.ended = round(ctx.clock(), 4)
    took = record.duration_s or 0.0
    if record.status == "ok" and took > _deadline(action):
        record.status = "timed out"
        record.detail += f" (took {took:g}s, deadline {_deadline(action):g}s)"
    ctx.event(
        f"{record.phase} {record.name!r} {record.status} in {took:.2f}s"
        + (f": {record.detail}" if record.status != "ok" and record.detail else "")
    )


def _do(ctx: _Context, action: Action, record: StepRecord, deadline: float) -> None:
    drill = ctx.drill
    record.status = "ok"
    if action.shell is not None:
        done = run_shell(action.shell, deadline, drill.base_dir)
        record.output, record.exit_code = done.output, done.code
        if done.code is None:
            record.status = "timed out"
            record.detail = f"killed at its deadline of {deadline:g}s"
        elif done.code != action.expect_exit:
            record.status = "failed"
            tail = done.output.strip().splitlines()[-1:] or [""]
            record.detail = f"exited {done.code}, expected {action.expect_exit}: {tail[0]}"[:400]
        return
    if action.http is not None:
        ok, seen = http_call(action.http, drill, deadline)
        record.status, record.detail = ("ok" if ok else "failed"), seen
        return
    if action.wait is not None:
        _wait(ctx, action, record, deadline)
        return
    if action.process is not None:
        process = action.process
        if process.start is not None:
            out = ctx.options.out_dir or Path(drill.base_dir)
            log = out / f"{drill.slug}-process-{len(ctx.journal.events)}.log"
            pid = start_background(process.start, drill.base_dir, log)
            record.detail = f"started pid {pid} (output in {log})"
            return
        pids = signal_processes(process, Path(drill.base_dir))
        record.detail = f"SIG{process.signal} sent to pid {', '.join(map(str, pids))}"
        return
    if action.writer is not None:
        assert ctx.writer is not None
        ctx.writer.repoint(action.writer.postgres)
        record.detail = f"the writer now writes to {_redact(action.writer.postgres)}"
        return
    if action.alembic is not None:
        record.detail = _alembic(drill, action.alembic, deadline)
        return
    if action.fault is not None:
        _fault(ctx, action.fault, record)
        return
    assert action.sleep is not None
    time.sleep(action.sleep)


def _wait(ctx: _Context, action: Action, record: StepRecord, deadline: float) -> None:
    wait = action.wait
    assert wait is not None
    ends = time.monotonic() + deadline
    tries = 0
    while True:
        tries += 1
        left = max(ends - time.monotonic(), 0.05)
        ok, seen = check(wait, ctx.drill, min(left, 10.0))
        if ok:
            record.detail = f"{seen} (after {tries} tries)"
            return
        if time.monotonic() >= ends:
            record.status = "timed out"
            record.detail = f"not true within {deadline:g}s ({tries} tries); last: {seen}"
            return
        time.sleep(min(wait.interval, max(ends - time.monotonic(), 0.0)))


def _alembic(drill: Drill, check_: AlembicCheck, deadline: float) -> str:
    try:
        from alembic.config import Config
        from alembic.script import ScriptDirectory
    except ImportError:
        raise UsageError("the alembic step needs alembic: pip install 'slokit[drill]'") from None
    ini = drill.resolve(check_.config)
    if not ini.is_file():
        raise UsageError(f"no alembic config at {ini}")
    config = Config(str(ini))
    location = config.get_main_option("script_location")
    # alembic reads a relative script_location from the current directory; the drill means
    # the ini file's.
    if location and not Path(location).is_absolute() and "%(" not in location:
        config.set_main_option("script_location", str(ini.parent / location))
    try:
        heads = set(ScriptDirectory.from_config(config).get_heads())
    except Exception as exc:
        raise UsageError(f"alembic cannot read {ini}: {exc}") from None
    import psycopg

    try:
        import psycopg.rows

        with psycopg.connect(check_.dsn, connect_timeout=max(1, round(min(deadline, 10)))) as conn:
            rows = conn.execute("select version_num from alembic_version").fetchall()
    except psycopg.Error as exc:
        first = str(exc).strip().splitlines()
        raise UsageError(f"cannot read alembic_version from {_redact(check_.dsn)}: "
                         f"{first[0] if first else exc}") from None  # fmt: skip
    versions = {str(r[0]) for r in rows}
    if versions != heads:
        raise UsageError(
            f"the database is at {', '.join(sorted(versions)) or 'no revision'}, alembic heads "
            f"are {', '.join(sorted(heads)) or 'none'}: the schema does not match the code"
        )
    return f"alembic_version {', '.join(sorted(versions))} == alembic heads"


# --- chaos faults ---------------------------------------------------------------------


def _actuator(ctx: _Context) -> Any:
    if ctx.actuator is not None:
        return ctx.actuator
    from slokit.chaos._actions import Actuator
    from slokit.chaos._experiment import Experiment, FaultsSection

    faults = [s.fault for s in ctx.drill.steps if s.fault is not None]
    # The actuator reads only the experiment's proxy, faults and method: a drill's fault
    # steps are those, so they are handed over as an experiment without a load.
    experiment = Experiment.model_construct(
        title=ctx.drill.title,
        proxy=ctx.drill.proxy,
        faults=FaultsSection.model_construct(url="/ops/faults", token=ctx.drill.fault_token),
        method=faults,
    )
    target = ctx.drill.target or "http://127.0.0.1"
    ctx.loop = asyncio.new_event_loop()
    ctx.actuator = Actuator(experiment, target)
    ctx.loop.run_until_complete(ctx.actuator.prepare())
    return ctx.actuator


def _fault(ctx: _Context, fault: FaultStep, record: StepRecord) -> None:
    actuator = _actuator(ctx)
    assert ctx.loop is not None
    hold = fault.for_ if fault.for_ is not None else _FAULT_HOLD
    handle = ctx.loop.run_until_complete(actuator.apply(len(ctx.faults), fault, hold))
    if fault.for_ is None:
        ctx.faults.append((fault, handle))
        record.detail = f"{fault.label} applied; removed by the rollbacks"
        return
    try:
        time.sleep(fault.for_)
    finally:
        ctx.loop.run_until_complete(actuator.undo(fault, handle))
    record.detail = f"{fault.label} for {fault.for_:g}s, then removed"


def _remove_faults(ctx: _Context) -> None:
    """Undo the faults still applied (fault steps without ``for``), newest first."""
    loop = ctx.loop
    assert loop is not None
    for fault, handle in reversed(ctx.faults):
        record = StepRecord(
            name=f"remove {fault.label}",
            kind="fault",
            what=fault.label,
            owner=None,
            phase="rollback",
            status="ok",
        )
        record.started = round(ctx.clock(), 4)
        try:
            loop.run_until_complete(ctx.actuator.undo(fault, handle))
        except Exception as exc:  # recorded; the other removals still run
            record.status, record.detail = "failed", str(exc)
        record.ended = round(ctx.clock(), 4)
        ctx.journal.rollbacks.append(record)
    ctx.faults.clear()


def _close_loop(ctx: _Context) -> None:
    assert ctx.loop is not None
    loop = ctx.loop
    try:
        with contextlib.suppress(Exception):
            loop.run_until_complete(ctx.actuator.teardown())
        loop.run_until_complete(ctx.actuator.aclose())
    finally:
        loop.close()
        ctx.loop = None


# --- rollbacks and judging ------------------------------------------------------------


def _rollbacks(ctx: _Context, ran: list[Step]) -> None:
    todo: list[Action] = [s.rollback for s in reversed(ran) if s.rollback is not None]
    todo.extend(ctx.drill.rollbacks)
    for action in todo:
        record = _record(ctx, action, "rollback")
        ctx.journal.rollbacks.append(record)
        with contextlib.suppress(_Interrupted):
            _execute(ctx, action, record)


@contextlib.contextmanager
def _interruptible() -> Iterator[None]:
    try:
        yield
    except KeyboardInterrupt:
        raise _Interrupted() from None


@contextlib.contextmanager
def _rollback_shield(ctx: _Context) -> Iterator[None]:
    """A Ctrl-C while rolling back is noted, not obeyed: leaving a failure behind is worse."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def note(_signum: int, _frame: FrameType | None) -> None:
        ctx.event("rolling back; the drill stops when that is done")

    previous = signal.signal(signal.SIGINT, note)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _judge(ctx: _Context) -> None:
    journal, drill = ctx.journal, ctx.drill
    for gate in drill.gates:
        value = journal.figure(gate.metric)
        if value is None:
            why = {
                "rto": "the service was not seen restored"
                if journal.t_fail is not None
                else "no failure step ran",
                "ttd": "the failure was never seen by the health probe or the writer",
                "rpo": (journal.rpo or {}).get("error") or "the writes could not be checked",
                "lost_writes": (journal.rpo or {}).get("error") or "the writes were not checked",
            }.get(gate.metric, "not measured")
            journal.gates.append(GateResult(gate.text, False, None, f"not measured: {why}"))
            continue
        passed = gate.passes(value)
        shown = f"{value:g}s" if gate.metric in ("rto", "rpo", "ttd") else f"{value:g}"
        journal.gates.append(GateResult(gate.text, passed, value, f"measured {shown}"))
    if journal.status == "aborted":
        return
    reasons = journal.reasons
    for record in journal.steps:
        if record.status in ("failed", "timed out"):
            reasons.append(f"step {record.name!r} {record.status}: {record.detail}")
    for record in journal.rollbacks:
        if record.status != "ok":
            reasons.append(f"rollback {record.name!r} {record.status}: {record.detail}")
    for result in journal.gates:
        if not result.passed:
            reasons.append(f"gate {result.gate} failed: {result.detail}")
    if (
        journal.t_fail is not None
        and journal.t_restored is None
        and (drill.health is not None or drill.writer is not None or drill.load is not None)
    ):
        reasons.append("the service was not seen restored after the failure")
    journal.status = "failed" if reasons else "passed"
