"""A journal for people: the verdict, the four timings, the SLOs and the three phases."""

from __future__ import annotations

from slokit.chaos._journal import Journal

__all__ = ["summarize"]


def _s(value: float | None, none: str = "-") -> str:
    return none if value is None else f"{value:.1f}s"


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def summarize(journal: Journal) -> list[str]:
    """Plain text lines, widest about 100 characters."""
    verdict = {
        "held": "HYPOTHESIS HELD",
        "deviated": "HYPOTHESIS DEVIATED",
        "aborted": "EXPERIMENT ABORTED",
    }[journal.status]
    lines = [f"{journal.title}: {verdict}"]
    lines += [f"  - {reason}" for reason in journal.reasons]
    t = journal.timings
    detect = _s(t.t_detect, "not detected")
    if t.detected_by:
        detect += f" ({t.detected_by})"
    lines += [
        "",
        f"  T_inject   {_s(t.t_inject, 'no fault applied')} after the load started",
        f"  T_detect   {detect}" + (" after T_inject" if t.t_detect is not None else ""),
        f"  T_remove   {_s(t.t_remove, 'at the end')}",
        f"  T_recover  {_s(t.t_recover, 'not within the run')}"
        + (" after T_remove" if t.t_recover is not None else ""),
        "",
        f"  {'SLO':<24} {'objective':>9} {'held':>5} {'worst':>8} {'requests':>9} "
        f"{'budget burned':>14}",
    ]
    for slo in journal.slos:
        worst = "-" if slo.worst_ratio is None else f"{slo.worst_ratio:.2%}"
        # A fail-closed hypothesis expects the fall: say so next to it.
        expected = (
            ""
            if slo.expected == "hold"
            else (
                "  (expected to fall: fails closed)" if slo.as_expected else "  (expected to fall)"
            )
        )
        lines.append(
            f"  {slo.name:<24} {slo.objective:>9.2%} {'yes' if slo.held else 'NO':>5} "
            f"{worst:>8} {slo.total:>9,} {slo.budget_burned:>13.4%}{expected}"
        )
    if journal.phases:
        lines += [
            "",
            f"  {'phase':<8} {'seconds':>11} {'req/s':>8} {'errors':>7} {'p50 ms':>8} "
            f"{'p95 ms':>8} {'p99 ms':>8}",
        ]
        for p in journal.phases:
            span = f"{p.start:g}-{p.end:g}"
            lines.append(
                f"  {p.name:<8} {span:>11} {p.rps:>8.1f} {p.error_rate:>7.2%} "
                f"{_ms(p.p50_ms):>8} {_ms(p.p95_ms):>8} {_ms(p.p99_ms):>8}"
            )
    failed = [a for a in journal.actions if a.status == "failed"]
    for action in failed:
        lines.append(f"  ! {action.phase} {action.name!r} failed: {action.error}")
    return lines
