"""The error-budget report of ``slokit budget``: SLIs, budget left and burn rates, now.

Everything is computed from the SLIs' raw PromQL (the same expressions the recording rules
record), so the report works against any Prometheus that scrapes the service, whether or not
``slokit rules`` is loaded. One instant query per SLO asks for the error ratio over every
window at once (each tagged with a ``slokit_window`` label), so all the numbers of an SLO come
from the same evaluation time.

A window without any request has no error ratio: its numbers are ``None``, never a made-up
100%. Every failure to talk to Prometheus becomes a :class:`~slokit.errors.UsageError` whose
message says what went wrong and what to check.
"""

from __future__ import annotations

import base64
import http.client
import json
import math
import re
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from slokit.errors import UsageError
from slokit.results import format_percent
from slokit.rules._rules import RECORDING_WINDOWS, alerting_of, burn_conditions
from slokit.rules._sli import prom_duration, sli_queries
from slokit.spec import SLO, Spec, format_duration

if TYPE_CHECKING:
    from rich.console import Console

__all__ = [
    "BURN_WINDOWS",
    "BudgetReport",
    "budget_json",
    "budget_report",
    "format_share",
    "format_span",
    "render_budget",
]

BURN_WINDOWS: dict[str, float] = {"1h": 3600.0, "6h": 21600.0, "1d": 86400.0, "3d": 259200.0}
"""The burn rates a report shows: the long windows of the burn-rate alerts."""

_WINDOW_LABEL = "slokit_window"
_CURRENT = 3600.0
"""The window whose burn rate projects when the budget runs out."""


@dataclass(frozen=True)
class BudgetReport:
    """Where one SLO stands: its SLI and error budget over its window, and how fast it burns."""

    slo: str
    objective: float
    window_s: float
    sli: float | None
    """Share of good events over the window: 1 - error ratio; ``None`` without traffic."""
    budget_remaining: float | None
    """Share of the error budget left: 1 untouched, 0 spent, negative when overspent."""
    budget_remaining_minutes: float | None
    """Minutes of total outage the budget left still allows (0 when overspent)."""
    burn_rates: dict[str, float | None]
    """``1h``, ``6h``, ``1d``, ``3d``: error ratio over that window / error budget. 1 spends
    the budget exactly over the SLO's window; ``None`` without traffic or when the window is
    longer than the SLO's."""
    exhaustion_s: float | None
    """Seconds until the budget is gone at the current (1 h) burn rate: 0 when already gone,
    ``None`` when nothing burns or nothing is known."""
    firing: list[str]
    """Burn-rate alerts whose conditions hold now (``page``, ``ticket``), ignoring ``for``."""
    exhausted: bool


def _windows(slo: SLO) -> list[float]:
    """Every window the report needs: the alerts' long and short ones, the burn-rate columns
    and the SLO's own, leaving out those longer than the SLO's window."""
    wanted = {*RECORDING_WINDOWS, *BURN_WINDOWS.values()}
    for condition in burn_conditions(slo.window):
        wanted.update((condition.long, condition.short))
    return sorted({w for w in wanted if w <= slo.window} | {slo.window})


def _report(
    name: str, slo: SLO, ratios: dict[float, float | None], alerting: Iterable[str]
) -> BudgetReport:
    """The report of one SLO from its error ratios by window (``None``: no traffic).

    ``alerting``: the severities the spec alerts on (a disabled one never fires).
    """
    budget = 1.0 - slo.objective
    overall = ratios.get(slo.window)
    burn_rates: dict[str, float | None] = {}
    for label, window in BURN_WINDOWS.items():
        ratio = ratios.get(window) if window <= slo.window else None
        burn_rates[label] = None if ratio is None else ratio / budget
    if overall is None:
        return BudgetReport(
            name, slo.objective, slo.window, None, None, None, burn_rates, None, [], False
        )
    remaining = 1.0 - overall / budget
    minutes = max(remaining, 0.0) * budget * slo.window / 60.0
    # The burn rate of the last hour; an SLO shorter than an hour burns at its own window's.
    current = ratios.get(_CURRENT) if slo.window >= _CURRENT else overall
    exhaustion: float | None
    if remaining <= 0:
        exhaustion = 0.0
    elif current is None or current <= 0:
        exhaustion = None
    else:
        # A burn rate of b spends b / window of the budget each second.
        exhaustion = remaining * slo.window / (current / budget)
    enabled = set(alerting)
    firing: list[str] = []
    for condition in burn_conditions(slo.window):
        if condition.severity in firing or condition.severity not in enabled:
            continue
        threshold = condition.factor * budget
        long, short = ratios.get(condition.long), ratios.get(condition.short)
        if long is not None and short is not None and long > threshold and short > threshold:
            firing.append(condition.severity)
    return BudgetReport(
        name,
        slo.objective,
        slo.window,
        1.0 - overall,
        remaining,
        minutes,
        burn_rates,
        exhaustion,
        firing,
        remaining <= 0,
    )


# ---------------------------------------------------------------------------------------------
# Prometheus's HTTP API


@dataclass(frozen=True)
class _Server:
    endpoint: str
    """The query API's URL, without credentials."""
    shown: str
    """The URL as messages show it: the password hidden."""
    headers: dict[str, str]


_PASSWORD = re.compile(r"(//[^/@:]*):[^/@]*@")


def _redact(url: str) -> str:
    return _PASSWORD.sub(r"\1:***@", url)


def _server(url: str) -> _Server:
    """Where to ask: ``/api/v1/query`` under ``url``, with Basic auth from its user info.
    UsageError when ``url`` is not an http(s) URL."""
    example = "expected the Prometheus server's base URL, such as http://localhost:9090"
    shown = _redact(url.strip())
    try:
        parts = urllib.parse.urlsplit(url.strip())
        parts.port  # noqa: B018 (raises ValueError for a port that is not a number)
    except ValueError as exc:
        raise UsageError(f"invalid Prometheus URL {shown!r} ({exc}); {example}") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UsageError(f"invalid Prometheus URL {shown!r}; {example}")
    if parts.query or parts.fragment:
        raise UsageError(f"invalid Prometheus URL {shown!r}: it has a query or fragment; {example}")
    headers = {
        "Accept": "application/json",
        "Content-Type": "application/x-www-form-urlencoded",
        "User-Agent": "slokit-budget",
    }
    netloc = parts.netloc.rpartition("@")[2]
    if parts.username is not None:
        user = urllib.parse.unquote(parts.username)
        password = urllib.parse.unquote(parts.password or "")
        token = base64.b64encode(f"{user}:{password}".encode()).decode("ascii")
        headers["Authorization"] = f"Basic {token}"
    path = parts.path.rstrip("/")
    endpoint = urllib.parse.urlunsplit((parts.scheme, netloc, path + "/api/v1/query", "", ""))
    return _Server(endpoint, shown.rstrip("/"), headers)


def _error_text(body: bytes) -> str | None:
    """The ``error`` of a Prometheus API error answer, or None when the body is not one."""
    try:
        data = json.loads(body)
    except ValueError:
        return None
    if isinstance(data, dict) and isinstance(data.get("error"), str):
        kind = data.get("errorType")
        return f"{kind}: {data['error']}" if isinstance(kind, str) and kind else data["error"]
    return None


def _snippet(body: bytes, size: int = 80) -> str:
    text = body[:size].decode("utf-8", errors="replace").strip()
    return repr(text + ("..." if len(body) > size else ""))


def _post(server: _Server, form: dict[str, str], timeout: float) -> bytes:
    url = server.shown
    request = urllib.request.Request(
        server.endpoint,
        data=urllib.parse.urlencode(form).encode(),
        headers=server.headers,
        method="POST",
    )
    running = f"is Prometheus running at {url}?"
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            body: bytes = response.read()
            return body
    except urllib.error.HTTPError as exc:
        try:
            detail = exc.read()
        except (OSError, http.client.HTTPException):
            detail = b""
        finally:
            exc.close()
        text = _error_text(detail)
        if text is not None:
            raise UsageError(
                f"Prometheus at {url} refused the query (HTTP {exc.code}): {text}"
            ) from None
        hint = ""
        if exc.code in (404, 405):
            hint = f"; is {url} the Prometheus server's base URL (without /api/v1 or /graph)?"
        elif exc.code in (401, 403):
            hint = "; give credentials in the URL: http://USER:PASSWORD@HOST:PORT"
        raise UsageError(
            f"Prometheus at {url} answered HTTP {exc.code} {exc.reason}{hint}"
        ) from None
    except urllib.error.URLError as exc:
        reason = exc.reason
        if isinstance(reason, TimeoutError):
            raise UsageError(
                f"Prometheus at {url} did not answer within {timeout:g} s; {running}"
            ) from None
        if isinstance(reason, ConnectionRefusedError):
            raise UsageError(f"cannot connect to {url}: connection refused; {running}") from None
        raise UsageError(f"cannot connect to {url}: {reason}; {running}") from None
    except TimeoutError:
        raise UsageError(
            f"Prometheus at {url} did not answer within {timeout:g} s; {running}"
        ) from None
    except (OSError, http.client.HTTPException) as exc:
        what = str(exc) or type(exc).__name__
        raise UsageError(f"the connection to {url} failed: {what}; {running}") from None
    except ValueError as exc:  # http.client.InvalidURL and the like
        raise UsageError(f"invalid Prometheus URL {url!r}: {exc}") from None


def _vector(url: str, body: bytes) -> list[dict[str, Any]]:
    """The samples of an instant vector answer; UsageError for anything else."""
    try:
        data = json.loads(body)
    except ValueError:
        raise UsageError(
            f"{url} did not answer with Prometheus's JSON (got {_snippet(body)}); "
            "is it a Prometheus server?"
        ) from None
    if not isinstance(data, dict) or data.get("status") != "success":
        text = _error_text(body) if isinstance(data, dict) else None
        if text is not None:
            raise UsageError(f"Prometheus at {url} refused the query: {text}")
        raise UsageError(f"{url} did not answer like Prometheus's query API (got {_snippet(body)})")
    result = data.get("data")
    if not isinstance(result, dict) or result.get("resultType") != "vector":
        kind = result.get("resultType") if isinstance(result, dict) else None
        raise UsageError(
            f"Prometheus at {url} answered a {kind or 'malformed'} result, not a vector"
        )
    samples = result.get("result")
    if not isinstance(samples, list) or not all(_is_sample(s) for s in samples):
        raise UsageError(f"Prometheus at {url} answered a malformed vector ({_snippet(body)})")
    return samples


def _is_sample(sample: Any) -> bool:
    return (
        isinstance(sample, dict)
        and isinstance(sample.get("metric"), dict)
        and isinstance(sample.get("value"), list)
        and len(sample["value"]) == 2
        and isinstance(sample["value"][1], str)
    )


def _ratio(text: str) -> float | None:
    """An error ratio from Prometheus's text; ``None`` for 0/0 (NaN) and x/0 (Inf)."""
    try:
        value = float(text)
    except ValueError:
        return None
    if not math.isfinite(value):
        return None
    # Extrapolation in increase() can put a ratio of two counters a hair outside [0, 1].
    return min(max(value, 0.0), 1.0)


def _ratios_query(spec: Spec, name: str, slo: SLO) -> tuple[str, dict[str, float]]:
    """One PromQL expression giving the SLO's error ratio over each window, tagged by window."""
    queries = sli_queries(spec, name, slo)
    by_label = {prom_duration(w): w for w in _windows(slo)}
    parts = [
        f'label_replace({queries.error_ratio(label)}, "{_WINDOW_LABEL}", "{label}", "", "")'
        for label in by_label
    ]
    return " or ".join(parts), by_label


def budget_report(
    spec: Spec, prometheus_url: str, *, timeout: float = 10.0, at: float | None = None
) -> list[BudgetReport]:
    """The error-budget report of every SLO of ``spec``, in spec order, from the Prometheus
    at ``prometheus_url``.

    ``prometheus_url``: the server's base URL (a path prefix is kept), with
    ``USER:PASSWORD@`` for Basic auth. ``at``: evaluate at this Unix time instead of
    Prometheus's now. ``timeout``: seconds for
    each HTTP request (also passed to Prometheus as the query's own timeout). Raises
    UsageError when Prometheus cannot be asked or refuses a query.
    """
    if not (math.isfinite(timeout) and timeout > 0):
        raise UsageError(f"the timeout must be a positive number of seconds, got {timeout}")
    if at is not None and not math.isfinite(at):
        raise UsageError(f"the evaluation time must be a Unix time in seconds, got {at}")
    server = _server(prometheus_url)
    reports = []
    for name, slo in spec.slos.items():
        expr, by_label = _ratios_query(spec, name, slo)
        form = {"query": expr}
        if timeout >= 0.001:
            form["timeout"] = prom_duration(timeout)
        if at is not None:
            form["time"] = f"{at:.3f}"
        samples = _vector(server.shown, _post(server, form, timeout))
        found: dict[float, list[float | None]] = {}
        for sample in samples:
            label = sample["metric"].get(_WINDOW_LABEL)
            if label in by_label:
                found.setdefault(by_label[label], []).append(_ratio(sample["value"][1]))
        for window, values in found.items():
            if len(values) > 1:
                raise UsageError(
                    f"the SLI of SLO {name!r} gives {len(values)} series over "
                    f"{format_duration(window)}, not one number: aggregate its PromQL with "
                    "sum(...) so bad and total are single values"
                )
        ratios = {window: values[0] for window, values in found.items()}
        alerting = alerting_of(spec, slo)
        severities = [s for s, on in (("page", alerting.page), ("ticket", alerting.ticket)) if on]
        reports.append(_report(name, slo, ratios, severities))
    return reports


# ---------------------------------------------------------------------------------------------
# Output


def _round(value: float | None, digits: int) -> float | None:
    return None if value is None else round(value, digits)


def budget_json(reports: Sequence[BudgetReport]) -> dict[str, Any]:
    """The reports as JSON-ready data (``--json``): ``{"slos": [...]}``, one object per SLO
    with the fields of :class:`BudgetReport`. Ratios keep 6 decimals, burn rates 4, minutes
    and seconds 1; unknown values are ``null``."""
    return {
        "slos": [
            {
                "slo": r.slo,
                "objective": r.objective,
                "window_s": r.window_s,
                "sli": _round(r.sli, 6),
                "budget_remaining": _round(r.budget_remaining, 6),
                "budget_remaining_minutes": _round(r.budget_remaining_minutes, 1),
                "burn_rates": {k: _round(v, 4) for k, v in r.burn_rates.items()},
                "exhaustion_s": _round(r.exhaustion_s, 1),
                "firing": list(r.firing),
                "exhausted": r.exhausted,
            }
            for r in reports
        ]
    }


def format_share(ratio: float) -> str:
    """``0.99512`` -> ``99.512%``: :func:`slokit.results.format_percent`, the one percent
    formatter every slokit report uses (kept under this name for callers of slokit.rules)."""
    return format_percent(ratio)


def format_span(seconds: float) -> str:
    """Two units at most: ``45s``, ``12m``, ``5h 12m``, ``12d 3h``; ``> 1y`` beyond a year."""
    if seconds >= 365 * 86400:
        return "> 1y"
    if seconds < 59.5:
        return f"{seconds:.0f}s"
    if seconds < 3570:
        return f"{round(seconds / 60)}m"
    if seconds < 84600:
        hours, minutes = divmod(round(seconds / 60), 60)
        return f"{hours}h {minutes}m" if minutes else f"{hours}h"
    days, hours = divmod(round(seconds / 3600), 24)
    return f"{days}d {hours}h" if hours else f"{days}d"


def _sli_cell(r: BudgetReport) -> str:
    target = format_share(r.objective)
    if r.sli is None:
        return f"[dim]no traffic[/] / {target}"
    color = "green" if r.sli >= r.objective else "red"
    return f"[{color}]{format_share(r.sli)}[/] / {target}"


def _budget_cell(r: BudgetReport) -> str:
    if r.budget_remaining is None or r.budget_remaining_minutes is None:
        return "[dim]-[/]"
    color = "red" if r.exhausted else "yellow" if r.budget_remaining < 0.25 else "green"
    minutes = f"{r.budget_remaining_minutes:,.1f}".removesuffix(".0")
    return f"[{color}]{format_share(r.budget_remaining)}[/] ({minutes} min)"


def _burn_cell(rate: float | None) -> str:
    if rate is None:
        return "[dim]-[/]"
    text = f"{rate:,.2f}"
    if rate > 1:
        return f"[{'red' if rate >= 6 else 'yellow'}]{text}[/]"
    return text


def _exhaustion_cell(r: BudgetReport) -> str:
    if r.exhausted:
        return "[bold red]exhausted[/]"
    if r.exhaustion_s is None:
        return "[dim]-[/]" if r.sli is None else "[green]not burning[/]"
    color = "red" if r.exhaustion_s < 86400 else "yellow" if r.exhaustion_s < 7 * 86400 else ""
    text = f"in {format_span(r.exhaustion_s)}"
    return f"[{color}]{text}[/]" if color else text


def _alerts_cell(r: BudgetReport) -> str:
    if not r.firing:
        return "[green]none[/]"
    color = "bold red" if "page" in r.firing else "yellow"
    return f"[{color}]{', '.join(r.firing)}[/]"


def render_budget(reports: Sequence[BudgetReport], console: Console) -> None:
    """The reports as one Rich table: SLI against objective, budget left, burn rates,
    when the budget runs out at the last hour's pace, and the alerts that would fire."""
    from rich import box
    from rich.markup import escape
    from rich.table import Table

    if not reports:
        console.print("no SLOs to report")
        return
    table = Table(
        title="error budget",
        caption="burn rate 1 spends the budget exactly over the SLO's window; "
        "- means no traffic (or a window longer than the SLO's)",
        box=box.SIMPLE_HEAD,
        title_justify="left",
        caption_justify="left",
        pad_edge=False,
    )
    # SLO names are what people scan for: keep them whole unless they are very long.
    longest = max(len(r.slo) for r in reports)
    table.add_column("SLO", overflow="fold", min_width=min(longest, 24))
    table.add_column("SLI / objective", justify="right")
    table.add_column("window", justify="right")
    table.add_column("budget left", justify="right")
    for label in BURN_WINDOWS:
        table.add_column(f"burn {label}", justify="right")
    table.add_column("runs out", justify="right")
    table.add_column("alerts")
    for r in reports:
        table.add_row(
            escape(r.slo),
            _sli_cell(r),
            format_duration(r.window_s),
            _budget_cell(r),
            *(_burn_cell(r.burn_rates.get(label)) for label in BURN_WINDOWS),
            _exhaustion_cell(r),
            _alerts_cell(r),
        )
    console.print(table)
