"""Where the load came from, when it came from more than one machine or a worker was lost."""

from __future__ import annotations

from slokit.results import ScenarioResults

__all__ = ["worker_lines"]


def worker_lines(sc: ScenarioResults) -> list[str]:
    """One line per node: its workers, their requests, and the ones lost; nothing for a run
    on one machine that lost none (the table above says it all)."""
    stats = sc.worker_stats
    nodes = list(dict.fromkeys(w.node for w in stats))
    if len(nodes) < 2 and not sc.lost_workers:
        return []
    lines = []
    for node in nodes:
        mine = [w for w in stats if w.node == node]
        requests = sum(w.requests for w in mine)
        text = f"{node}: {len(mine)} worker{'s' if len(mine) != 1 else ''}, {requests:,} requests"
        lost = [w for w in mine if w.lost_at is not None]
        if lost:
            when = ", ".join(f"+{w.lost_at:.1f}s" for w in lost if w.lost_at is not None)
            text += f"; {len(lost)} lost at {when}"
        lines.append(text)
    return lines
