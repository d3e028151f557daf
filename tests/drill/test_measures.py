"""The definitions behind the figures, on made-up series: T_detect, T_restored, RPO, gates,
and the journal's JSON round trip."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from slokit.drill import (
    DrillJournal,
    Observation,
    StepRecord,
    Write,
    detect,
    parse_drill,
    restored,
    rpo_of,
)
from slokit.errors import SpecError


def _series(*points: tuple[float, bool]) -> list[Observation]:
    return [Observation(t, ok) for t, ok in points]


def test_detection_is_the_first_failure_after_t_fail_of_any_signal() -> None:
    health = _series((0, True), (1, False), (2, False), (3, True))
    writer = _series((0.5, False), (1.5, False), (2.5, True))
    # The writer's failure at 0.5 s came before the failure step: it does not count.
    assert detect({"health": health, "writer": writer}, 0.8) == (1, "health")
    assert detect({"health": health, "writer": writer}, 1.2) == (1.5, "writer")
    assert detect({"health": _series((0, True), (5, True))}, 1) is None


def test_restoration_needs_every_signal_healthy_for_the_whole_window() -> None:
    health = _series(*[(t / 2, not 2 <= t / 2 < 4) for t in range(0, 20)])  # down 2 s..4 s
    writer = _series(*[(t / 2, not 2 <= t / 2 < 5) for t in range(0, 20)])  # down 2 s..5 s
    # Healthy again from 4 s by the probe, but writes fail until 5 s: restored at 5 s.
    assert restored({"health": health, "writer": writer}, 2, 2) == 5
    assert restored({"health": health}, 2, 2) == 4
    # A window not seen to its end is not restoration.
    assert restored({"health": health}, 2, 10) is None
    # A blip inside the window starts it again.
    blip = _series((0, True), (1, False), (2, True), (3, True), (3.5, False), (4, True),
                   (5, True), (6, True))  # fmt: skip
    assert restored({"health": blip}, 1, 2) == 4


def test_restoration_needs_each_signal_seen_in_the_window() -> None:
    health = _series((0, True), (1, False), *[(2 + t / 10, True) for t in range(40)])
    writer = _series((0, True), (1, False))  # the writer never wrote again
    assert restored({"health": health, "writer": writer}, 1, 2) is None


def _writes(seq_t_ok: list[tuple[int, float, bool]]) -> list[Write]:
    return [Write(s, t, ok, None if ok else "in doubt") for s, t, ok in seq_t_ok]


def test_rpo_is_the_span_of_acknowledged_data_lost() -> None:
    writes = _writes(
        [
            (1, 0.0, True),
            (2, 1.0, True),
            (3, 2.0, True),
            (4, 3.0, True),
            (5, 3.5, False),
            (6, 6.0, True),
        ]
    )
    # 3 and 4 were acknowledged by the old primary and are gone; 2 is the newest kept.
    result = rpo_of(writes, present={1, 2, 6}, t_fail=3.2)
    assert result.lost == [3, 4]
    assert result.acknowledged == 5
    assert result.survived == 3
    assert result.in_doubt == 1
    assert result.in_doubt_survived == 0
    assert result.data_currency_t == 1.0
    assert result.rpo_s == pytest.approx(2.2)  # from the last kept write to the failure
    none_lost = rpo_of(writes, present={1, 2, 3, 4, 5, 6}, t_fail=3.2)
    assert none_lost.lost == []
    assert none_lost.rpo_s == 0
    assert none_lost.in_doubt_survived == 1
    assert none_lost.data_currency_t == 3.0


def test_drill_gates_read_durations_and_counts() -> None:
    drill = parse_drill(
        "title: t\nwriter: {postgres: 'postgresql://x@127.0.0.1/x'}\n"
        "steps: [{failure: true, shell: 'true'}]\n"
        "gates: ['rto < 1m', 'rpo <= 500ms', 'lost_writes == 0', 'ttd < 10s']\n"
    )
    rto, rpo, lost, ttd = drill.gates
    assert (rto.metric, rto.op, rto.threshold) == ("rto", "<", 60.0)
    assert rpo.threshold == 0.5
    assert lost.passes(0)
    assert not lost.passes(1)
    assert ttd.passes(9.9)
    with pytest.raises(SpecError, match="lost_writes is a count"):
        parse_drill("title: t\nwriter: {postgres: x}\nsteps: [{shell: 'true'}]\n"
                    "gates: ['lost_writes == 1s']\n")  # fmt: skip
    with pytest.raises(SpecError, match="mark one step 'failure: true'"):
        parse_drill("title: t\nsteps: [{shell: 'true'}]\ngates: ['rto < 1m']\n")


def test_the_journal_round_trips() -> None:
    journal = DrillJournal(
        title="t", name="n", source="s", started=datetime(2026, 12, 7, 12, tzinfo=UTC)
    )
    journal.ended = datetime(2026, 12, 7, 12, 1, tzinfo=UTC)
    journal.status = "passed"
    journal.t_fail, journal.t_detect, journal.t_restored = 1.0, 1.25, 4.5
    journal.detected_by = "health"
    journal.steps = [StepRecord("kill", "process", "SIGKILL pid 1", "dba", status="ok",
                                started=1.0, ended=1.01, failure=True)]  # fmt: skip
    journal.rpo = {"rpo_s": 0.0, "lost": [], "lost_writes": 0}
    data = journal.to_dict()
    assert data["timings"]["rto_s"] == 3.5
    assert data["timings"]["ttd_s"] == 0.25
    assert data["timings"]["failover_start"] == "2026-12-07T12:00:01+00:00"
    again = DrillJournal.from_dict(data)
    assert again.to_dict() == data
    assert again.lost_writes == 0
    with pytest.raises(ValueError, match="not a slokit drill journal"):
        DrillJournal.from_dict({"kind": "chaos"})


def test_the_load_alongside_allows_what_the_tightest_availability_slo_allows() -> None:
    from slokit.drill._load import _allowed
    from slokit.drill._model import LoadSection
    from slokit.spec import parse_spec

    spec = parse_spec(
        "service: s\nslos:\n  a: {objective: 99%}\n  b: {objective: 99.5%}\n"
        "  fast: {objective: 99.99%, latency: 100ms}\n"
    )
    assert _allowed(spec, LoadSection(scenario="x")) == 0.005  # the latency SLO does not count
    assert _allowed(spec, LoadSection(scenario="x", max_error_rate=0.2)) == 0.2
    assert _allowed(parse_spec("service: s\n"), LoadSection(scenario="x")) == 0.0
