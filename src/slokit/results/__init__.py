"""Results of a load run: exact histograms, per-second timelines, and SLO/gate verdicts.

Every worker measures into :class:`RequestStats` (one HDR-style :class:`Histogram` each) and
ships a :class:`Snapshot` per second; the controller's :class:`Aggregator` merges them
exactly into :class:`ScenarioResults`, which :func:`evaluate` judges against the spec.
:class:`RunResults` is the whole run and the ``results.json`` document.
"""

from slokit.results._aggregate import Aggregator
from slokit.results._format import encodable_text, format_count, format_ms, format_percent
from slokit.results._histogram import Histogram
from slokit.results._model import (
    RESULTS_FORMAT,
    RunResults,
    ScenarioResults,
    TimelinePoint,
    Verdict,
)
from slokit.results._stats import RequestStats, Snapshot
from slokit.results._verdicts import evaluate, gate_selects

__all__ = [
    "Aggregator",
    "Histogram",
    "RESULTS_FORMAT",
    "RequestStats",
    "RunResults",
    "ScenarioResults",
    "Snapshot",
    "TimelinePoint",
    "Verdict",
    "encodable_text",
    "evaluate",
    "format_count",
    "format_ms",
    "format_percent",
    "gate_selects",
]
