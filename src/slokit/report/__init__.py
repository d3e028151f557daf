"""Renderers of run results: the terminal table and the files ``--out DIR`` writes.

``write_reports`` writes results.json, junit.xml, summary.md, report.html (one offline page
with plotly charts), and Locust-compatible stats.csv and history.csv; ``read_results`` reads a
results.json back so ``slokit report`` can rebuild them. ``scenario_figures`` returns the
charts as plotly figure dicts for other pages (the dashboard) to draw with ``plotly_config()``.
``resource_rows``, ``drift_rows`` and ``capacity_rows`` are a scenario's resources, drift
and capacity search as every report shows them. ``headline`` is the one-line result every
report prints (saying what ``--fail-after`` held back), and ``verdict_result`` a verdict's
result cell (PASS, FAIL, FAIL (not gated), FAIL (held back), NOT JUDGED).
"""

from slokit.report._capacity import CapacityRow, capacity_rows, capacity_summary
from slokit.report._charts import chart_layout, plotly_config, scenario_figures
from slokit.report._cost import cost_headline, cost_lines
from slokit.report._csv import history_csv, stats_csv
from slokit.report._files import (
    REPORT_FILES,
    junit_xml,
    read_results,
    results_json,
    summary_markdown,
    write_reports,
)
from slokit.report._headline import Headline, headline, held_by, is_judged, verdict_result
from slokit.report._html import render_html
from slokit.report._soak import (
    DriftRow,
    ResourceRow,
    drift_rows,
    generator_line,
    generator_note,
    resource_rows,
    spike_lines,
)
from slokit.report._streams import STREAM_HEADERS, StreamRow, stream_rows
from slokit.report._terminal import render_terminal
from slokit.report._workers import worker_lines

__all__ = [
    "CapacityRow",
    "DriftRow",
    "Headline",
    "REPORT_FILES",
    "ResourceRow",
    "STREAM_HEADERS",
    "StreamRow",
    "capacity_rows",
    "capacity_summary",
    "chart_layout",
    "cost_headline",
    "cost_lines",
    "drift_rows",
    "generator_line",
    "generator_note",
    "headline",
    "held_by",
    "history_csv",
    "is_judged",
    "junit_xml",
    "plotly_config",
    "read_results",
    "render_html",
    "render_terminal",
    "resource_rows",
    "results_json",
    "scenario_figures",
    "spike_lines",
    "stats_csv",
    "stream_rows",
    "summary_markdown",
    "verdict_result",
    "worker_lines",
    "write_reports",
]
