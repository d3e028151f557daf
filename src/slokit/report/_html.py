"""report.html: the whole run in one self-contained file that opens offline.

plotly.js is inlined once per page (no CDN, no fonts, no images: the page makes no network
request at all), each figure is a JSON island (``<script type="application/json">``) drawn
by a few lines of script, and the tables work without script. The template is Jinja2 with
autoescaping on, so request, scenario and service names are always escaped; figure JSON goes
through ``tojson``, which escapes ``<``, ``>``, ``&`` and ``'`` inside the script blocks.

Nothing in the page depends on when it was rendered: the same results.json gives the same
bytes, which is what lets ``slokit report`` rebuild a run's report exactly.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from slokit import __version__
from slokit.report._capacity import CapacityRow, capacity_rows, capacity_summary
from slokit.report._capacity_charts import CAPACITY_CHART_TITLES
from slokit.report._charts import FONT, plotly_config, scenario_figures
from slokit.report._checks import failed_check_lines
from slokit.report._cost import cost_lines
from slokit.report._headline import headline, verdict_result
from slokit.report._resource_charts import RESOURCE_CHART_TITLES
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
from slokit.report._workers import worker_lines
from slokit.results import (
    RESULTS_FORMAT,
    RequestStats,
    RunResults,
    ScenarioResults,
    format_count,
    format_ms,
    format_percent,
)

if TYPE_CHECKING:
    import jinja2
    from markupsafe import Markup

__all__ = ["render_html", "verdict_result"]

_CHART_TITLES = {
    "throughput": "Requests per second",
    "latency": "Latency percentiles",
    "errors": "Errors per second",
    "distribution": "Latency distribution",
    "generator": "Load generator",
    **CAPACITY_CHART_TITLES,
    **RESOURCE_CHART_TITLES,
}
_LATENCY_KEYS = ("p50", "p90", "p95", "p99", "max")


@dataclass(frozen=True)
class Cell:
    text: str
    value: float | int | None = None
    """The exact number (as in results.json) behind ``text``, for data-value attributes."""
    cls: str = ""


@dataclass
class ScenarioView:
    index: int
    sc: ScenarioResults
    requests: list[list[Cell]]
    total: list[Cell]
    failure_kinds: list[str]
    charts: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)
    resources: list[ResourceRow] = field(default_factory=list)
    drift: list[DriftRow] = field(default_factory=list)
    capacity: list[CapacityRow] = field(default_factory=list)
    capacity_summary: list[str] = field(default_factory=list)
    saturated: str | None = None
    generator: str | None = None
    spike: list[str] = field(default_factory=list)
    streams: list[StreamRow] = field(default_factory=list)
    failed_checks: list[str] = field(default_factory=list)
    workers: list[str] = field(default_factory=list)
    cost: list[str] = field(default_factory=list)
    """The cost headline, then its formula lines."""


def _when(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _seconds(value: float) -> str:
    return f"{value:,.1f} s"


def _request_row(name: str, summary: dict[str, Any]) -> list[Cell]:
    count = int(summary["count"])
    failed = int(sum(summary["failures"].values()))
    rate = failed / count if count else 0.0  # from the counts: never a rounded ratio
    dropped = int(summary["dropped"])
    row = [
        Cell(name),
        Cell(format_count(count), count),
        Cell(format_count(failed), failed, "bad" if failed else ""),
        Cell(format_percent(rate) if count else "-", rate, "bad" if failed else ""),
        Cell(format_count(dropped), dropped, "bad" if dropped else ""),
        Cell(format_count(round(summary["rps"], 1)), summary["rps"]),
    ]
    latency = summary["latency_ms"]
    has_latency = latency["max"] > 0
    for key in _LATENCY_KEYS:
        ms = latency[key]
        row.append(Cell(format_ms(ms), ms) if has_latency else Cell("-"))
    return row


def _failure_kinds(sc: ScenarioResults) -> list[str]:
    lines = []
    for stats in sc.requests.values():
        kinds = [f"{k} {format_count(n)}" for k, n in sorted(stats.failures.items()) if n]
        if kinds:
            lines.append(f"{stats.name}: {', '.join(kinds)}")
    return lines


def _scenario_view(index: int, sc: ScenarioResults) -> ScenarioView:
    seconds = sc.measured_s
    rows = [
        _request_row(name, stats.summary(seconds))
        for name, stats in sc.requests.items()
        if stats.count or stats.dropped
    ]
    view = ScenarioView(
        index=index,
        sc=sc,
        requests=rows,
        total=_request_row("all requests", sc.total.summary(seconds)),
        failure_kinds=_failure_kinds(sc),
        resources=resource_rows(sc),
        drift=drift_rows(sc),
        capacity=capacity_rows(sc),
        saturated=generator_note(sc),
        generator=generator_line(sc),
        spike=spike_lines(sc),
        streams=stream_rows(sc),
        failed_checks=failed_check_lines(sc),
        workers=worker_lines(sc),
        capacity_summary=capacity_summary(sc.capacity) if sc.capacity is not None else [],
        cost=cost_lines(sc),
    )
    for key, figure in scenario_figures(sc).items():
        view.charts.append((f"figure-{index}-{key}", _CHART_TITLES[key], figure))
    return view


def _status(results: RunResults) -> tuple[str, str, str]:
    """(word, css class, sentence) for the run as a whole."""
    head = headline(results)
    if head.word == "PARTIAL":
        return "PARTIAL", "soft", "The run was aborted: the results are incomplete."
    sentence = head.text[:1].upper() + head.text[1:] + "."
    if head.held:
        sentence = f"{head.word}{head.held}: {head.text}."
    return head.word, head.cls, sentence


@functools.cache
def _template() -> jinja2.Template:
    import jinja2  # imported lazily, with plotly: only report.html needs them

    env = jinja2.Environment(
        loader=jinja2.PackageLoader("slokit.report", "_templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.policies["json.dumps_kwargs"] = {"separators": (",", ":"), "allow_nan": False}
    env.filters["when"] = _when
    env.filters["seconds"] = _seconds
    env.filters["count"] = format_count
    env.filters["percent"] = format_percent
    env.globals["verdict_result"] = verdict_result
    return env.get_template("report.html")


@functools.cache
def _plotly_js() -> Markup:
    from markupsafe import Markup
    from plotly.offline import get_plotlyjs

    return Markup(get_plotlyjs())


def render_html(results: RunResults) -> str:
    """The run as one HTML page: metadata, then per scenario its verdicts, charts and requests.

    The page embeds plotly.js (about 4.6 MB) and needs nothing else, online or off.
    """
    from markupsafe import Markup

    word, cls, sentence = _status(results)
    merged = RequestStats("total")
    for stats in results.requests.values():
        merged.merge(stats)
    return _template().render(
        results=results,
        status={"word": word, "cls": cls, "sentence": sentence},
        total=merged.summary(results.measured_s),
        version=__version__,
        verdicts=results.verdicts,
        scenarios=[_scenario_view(i, sc) for i, sc in enumerate(results.scenarios)],
        config=plotly_config(),
        font=Markup(FONT),
        format=RESULTS_FORMAT,
        plotly_js=_plotly_js(),
        stream_headers=STREAM_HEADERS,
    )
