"""What a run's verdicts add up to, in words: the one headline the terminal, summary.md and
report.html print, and each verdict's result cell (report.html and the dashboard).

A verdict is one of: passed, failed (fails the run), failed but not gated (``gate: false``),
failed but held back by ``--fail-after N`` (reported, not failing the run yet), or not judged
(an SLO a load test cannot measure). The headline never says "PASS" without saying what it
held back.
"""

from __future__ import annotations

from dataclasses import dataclass

from slokit.results import RunResults, Verdict

__all__ = ["Headline", "Judged", "headline", "held_by", "is_judged", "verdict_result"]

Judged = Verdict
"""A verdict as the pages show it: a run's, or a stored one (the same class)."""


def is_judged(v: Verdict) -> bool:
    """False for an SLO a load test cannot measure."""
    return v.judged


def held_by(v: Verdict) -> int | None:
    """N when ``--fail-after N`` held this failure back, else None."""
    return None if v.passed or v.gated else v.held_back


def verdict_result(v: Judged) -> tuple[str, str]:
    """(text, css class) of a verdict's result cell, on report.html and the dashboard."""
    if not is_judged(v):
        return "NOT JUDGED", "none"
    if v.passed:
        return "PASS", "pass"
    if v.gated:
        return "FAIL", "fail"
    if held_by(v) is not None:
        return "FAIL (held back)", "soft"
    return "FAIL (not gated)", "soft"


@dataclass(frozen=True)
class Headline:
    """``PASS``/``FAIL``/``PARTIAL``, its css class, and the rest of the line."""

    word: str
    cls: str
    held: str
    """`` (1 failed gate held by --fail-after 3: p95(GET /x) < 5ms)`` or empty."""
    text: str
    """What follows ``word + held + ": "``."""

    @property
    def line(self) -> str:
        return f"{self.word}{self.held}: {self.text}"


def _plural(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


def headline(results: RunResults) -> Headline:
    """The run's result in one line, e.g. ``PASS (1 failed gate held by --fail-after 3:
    p95(GET /slow) < 5ms): the other 2 gate(s) passed``."""
    verdicts: list[Verdict] = results.verdicts
    failed = [v for v in verdicts if v.blocking]
    gated = [v for v in verdicts if v.gated]
    held = [v for v in verdicts if held_by(v) is not None]
    soft = sum(1 for v in verdicts if v.soft_failure)  # gate: false, not --fail-after
    unjudged_gates = sum(1 for v in verdicts if not is_judged(v) and v.kind == "gate")
    unjudged = sum(1 for v in verdicts if not is_judged(v)) - unjudged_gates
    notes = []
    if soft:
        notes.append(f"{soft} not-gated verdict(s) failed")
    if unjudged:
        notes.append(_plural(unjudged, "SLO not judged", "SLOs not judged"))
    if unjudged_gates:
        notes.append(_plural(unjudged_gates, "gate not judged", "gates not judged"))
    saturated = [sc.name for sc in results.scenarios if sc.generator_saturated]
    if saturated:
        # A verdict about the target that the generator's own limit produced is no verdict
        # about the target: it is said on the result line, not only in a warning above it.
        notes.append(f"measured on a saturated load generator: {', '.join(saturated)}")
    note = f" ({'; '.join(notes)})" if notes else ""
    held_text = ""
    if held:
        n = max(held_by(v) or 0 for v in held)
        names = ", ".join(v.name for v in held)
        what = _plural(len(held), "failed gate", "failed gates")
        held_text = f" ({what} held by --fail-after {n}: {names})"
    if results.partial:
        stopped = [sc.stopped_by_gate for sc in results.scenarios if sc.partial]
        if stopped and all(stopped):
            text = (
                f"gate {', '.join(dict.fromkeys(g for g in stopped if g))} failed while the "
                "load ran and abort_on_fail stopped the run (results are partial)"
            )
            return Headline("FAIL", "fail", "", text)
        return Headline("PARTIAL", "soft", "", "the run was aborted; results are incomplete")
    if failed:
        names = ", ".join(v.name for v in failed)
        text = f"{len(failed)} of {len(gated)} gate(s) failed: {names}{note}"
        return Headline("FAIL", "fail", held_text, text)
    if held:
        text = f"the other {len(gated)} gate(s) passed" if gated else "no other gate to judge"
        return Headline("PASS", "soft", held_text, text + note)
    if gated:
        return Headline("PASS", "pass", "", f"all {len(gated)} gate(s) passed{note}")
    return Headline("PASS", "pass", "", f"no gated SLOs or gates to judge{note}")
