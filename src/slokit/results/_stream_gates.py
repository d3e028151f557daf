"""Gates on streams: ``p99(reconnect SSE /x) < 1s``, ``stream_uptime > 99.5%``,
``stream_errors(WS /ws) == 0``.

``p95(handshake SSE /x)`` is the opening request's latency, judged as any request gate;
the rest read the scenario's :class:`~slokit.results.StreamStats`, selected by name or by a
route (``SSE /events/{topic}``) as requests are.
"""

from __future__ import annotations

from collections.abc import Iterable

from slokit.results._format import format_count, format_ms, format_percent
from slokit.results._model import ScenarioResults, Verdict
from slokit.results._streams import StreamStats
from slokit.spec import Gate, Route

__all__ = ["is_stream_gate", "judge_stream_gate"]

_PERCENTILES = {"p50": 50.0, "p90": 90.0, "p95": 95.0, "p99": 99.0, "p99_9": 99.9}
_WHAT = {
    "first_event": "time to first event",
    "gap": "gap between events",
    "reconnect": "reconnect time",
    "lifetime": "connection lifetime",
}


def is_stream_gate(gate: Gate) -> bool:
    """True when the gate reads stream stats (a handshake gate reads the open request)."""
    return gate.metric in ("stream_uptime", "stream_errors") or (
        gate.measure is not None and gate.measure != "handshake"
    )


def _selected(request: str | None, streams: dict[str, StreamStats]) -> list[StreamStats]:
    if request is None:
        return list(streams.values())
    exact = streams.get(request)
    if exact is not None:
        return [exact]
    try:
        route = Route.parse(request)
    except ValueError:
        return []
    return [s for s in streams.values() if route.matches(s.kind.upper(), s.path)]


def _merged(items: Iterable[StreamStats]) -> StreamStats:
    total = StreamStats("total")
    for stats in items:
        total.merge(stats)
    return total


def _observe(gate: Gate, stats: StreamStats, opens: int) -> tuple[float | None, str]:
    if gate.metric == "stream_uptime":
        uptime = stats.uptime
        if uptime is None:
            return None, "no stream was held"
        return uptime, (
            f"{format_percent(uptime)} of {stats.held_us / 1e6:,.1f} s held had a live stream"
        )
    if gate.metric == "stream_errors":
        errors = stats.failed
        kinds = ", ".join(f"{k} {format_count(n)}" for k, n in sorted(stats.errors.items()))
        why = f" ({kinds})" if kinds else ""
        if gate.threshold_is_ratio:
            if opens == 0:
                return None, "no stream was opened"
            ratio = errors / opens
            return ratio, f"{format_percent(ratio)}: {format_count(errors)} errors in " + (
                f"{format_count(opens)} opens{why}"
            )
        return float(errors), f"{format_count(errors)} errors{why}"
    assert gate.measure is not None
    hist = stats.measure(gate.measure)
    what = _WHAT[gate.measure]
    if hist.count == 0:
        if gate.measure == "reconnect":
            return None, "no stream was reconnected, so there is no reconnect time to judge"
        return None, f"nothing measured a {what}"
    if gate.metric == "max":
        us = float(hist.max)
    elif gate.metric == "mean":
        us = hist.mean
    else:
        us = hist.percentile(_PERCENTILES[gate.metric])
    return us / 1e6, f"{format_ms(us / 1000.0)} ({what}, {format_count(hist.count)} measured)"


def judge_stream_gate(gate: Gate, sc: ScenarioResults, gated: bool, *, own: bool) -> Verdict:
    """A stream gate over one scenario. A spec-wide one is not judged in a scenario that
    holds no stream; a scenario's own fails there, as a gate naming no request would."""
    selected = _selected(gate.request, sc.streams)
    passed, judged = False, True
    observed: float | None = None
    if not selected:
        held = ", ".join(sc.streams) or "none"
        named = f" named or routed {gate.request!r}" if gate.request else ""
        if not own:
            judged, gated, passed = False, False, True
            detail = f"not judged: this scenario held no stream{named} (its streams: {held})"
        else:
            detail = f"cannot pass: no stream{named} was held (held: {held})"
    else:
        merged = _merged(selected)
        opens = sum(
            s.count for name, s in sc.requests.items() if name in {st.name for st in selected}
        )
        observed, reading = _observe(gate, merged, opens)
        if observed is None:
            if gate.measure == "reconnect" or gate.metric == "stream_errors":
                # Nothing dropped, so nothing to reconnect: the promise held.
                passed, detail = True, f"not judged: {reading}"
                judged, gated = False, False
            else:
                detail = f"cannot pass: {reading}"
        else:
            passed, detail = gate.compare(observed), reading
    return Verdict.of_gate(
        gate,
        sc.name,
        passed=passed,
        observed=observed,
        detail=detail,
        gated=gated,
        judged=judged,
    )
