"""Results of a load run: exact histograms, per-second timelines, and SLO/gate verdicts.

Every worker measures into :class:`RequestStats` (one HDR-style :class:`Histogram` each) and
ships a :class:`Snapshot` per second; the controller's :class:`Aggregator` merges them
exactly into :class:`ScenarioResults`, which :func:`evaluate` judges against the spec.
:class:`RunResults` is the whole run and the ``results.json`` document.
"""

from slokit.results._aggregate import Aggregator
from slokit.results._capacity import CapacityResult, CapacityStep, Recovery
from slokit.results._cost import HOURS_PER_MONTH, CostFigures, Usage, price
from slokit.results._drift import Drift, DriftWindow, drift_of
from slokit.results._format import (
    encodable_text,
    format_bytes,
    format_count,
    format_ms,
    format_percent,
    format_resource,
    format_time,
    parse_time,
)
from slokit.results._health import Health, health_of
from slokit.results._histogram import Histogram
from slokit.results._model import (
    BUSY_SHARE,
    LAGGED_SHARE,
    LATE_SHARE,
    RESULTS_FORMAT,
    STALL_MS,
    GeneratorSecond,
    RunResults,
    ScenarioResults,
    TimelinePoint,
    Verdict,
    WorkerStats,
    merge_stats,
)
from slokit.results._pricing import price_scenario
from slokit.results._resources import ResourceSummary, ResourceTimeline
from slokit.results._spike import Spike, measure_spike, spike_shape
from slokit.results._stats import RequestStats, Snapshot
from slokit.results._streams import STREAM_ERRORS, STREAM_MEASURES, StreamStats
from slokit.results._trends import Trend, knee, recovery_time, significant, theil_sen
from slokit.results._verdicts import evaluate, gate_selects, judge_gate

__all__ = [
    "Aggregator",
    "BUSY_SHARE",
    "CapacityResult",
    "CapacityStep",
    "CostFigures",
    "Drift",
    "DriftWindow",
    "GeneratorSecond",
    "HOURS_PER_MONTH",
    "Health",
    "Histogram",
    "LAGGED_SHARE",
    "LATE_SHARE",
    "RESULTS_FORMAT",
    "Recovery",
    "RequestStats",
    "ResourceSummary",
    "ResourceTimeline",
    "RunResults",
    "STALL_MS",
    "STREAM_ERRORS",
    "STREAM_MEASURES",
    "ScenarioResults",
    "Snapshot",
    "Spike",
    "StreamStats",
    "TimelinePoint",
    "Trend",
    "Usage",
    "Verdict",
    "WorkerStats",
    "drift_of",
    "encodable_text",
    "evaluate",
    "format_bytes",
    "format_count",
    "format_ms",
    "format_percent",
    "format_resource",
    "format_time",
    "gate_selects",
    "health_of",
    "judge_gate",
    "knee",
    "measure_spike",
    "merge_stats",
    "parse_time",
    "price",
    "price_scenario",
    "recovery_time",
    "significant",
    "spike_shape",
    "theil_sen",
]
