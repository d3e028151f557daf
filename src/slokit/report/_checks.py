"""Which checks failed, per request: the lines the terminal, summary.md and report.html show."""

from __future__ import annotations

from slokit.results import ScenarioResults, format_count

__all__ = ["failed_check_lines"]


def failed_check_lines(sc: ScenarioResults) -> list[str]:
    """``GET /x: ✗ $.price exists: 3 of 120 responses``, one per failed check, as k6 marks
    a failed check. Every response is checked, whatever its status."""
    lines = []
    for stats in sc.requests.values():
        if not stats.check_failures:
            continue
        checked = stats.latency.count  # every response has a latency, and its checks ran
        for label, n in sorted(stats.check_failures.items()):
            lines.append(
                f"{stats.name}: ✗ {label}: {format_count(n)} of {format_count(checked)} responses"
            )
    return lines
