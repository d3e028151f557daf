"""The metrics source: scrape a Prometheus text endpoint and pick values out of it.

``process_*`` metrics (what prometheus-client exports for its own process) give ``rss``,
``fds`` and ``cpu``; ``series`` selectors pick any other sample, e.g. a pool gauge.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from slokit.errors import UsageError

if TYPE_CHECKING:
    import httpx

__all__ = [
    "MetricsEndpoint",
    "Sample",
    "ScrapeError",
    "Scraped",
    "Selector",
    "parse_selector",
    "unmatched_hint",
]

_BUILTIN = {
    "process_resident_memory_bytes": "rss",
    "process_open_fds": "fds",
}
_CPU = "process_cpu_seconds_total"

# The classic text format: the parser prometheus-client ships for it is the one asked for.
# A server that sends OpenMetrics anyway is read with the OpenMetrics parser.
_ACCEPT = "text/plain;version=0.0.4;q=1.0, */*;q=0.1"

_SELECTOR = re.compile(r"\s*([a-zA-Z_:][a-zA-Z0-9_:]*)\s*(?:\{(.*)\})?\s*", re.DOTALL)
_MATCHER = re.compile(r'\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)"\s*')
_UNESCAPE = re.compile(r"\\(.)")


@dataclass(frozen=True)
class Sample:
    name: str
    labels: Mapping[str, str]
    value: float


Scraped = list[Sample]


@dataclass(frozen=True)
class Selector:
    """A sample name and exact label values: ``db_pool_in_use{pool="main"}``."""

    name: str
    labels: tuple[tuple[str, str], ...] = ()

    def matches(self, sample: Sample) -> bool:
        return sample.name == self.name and all(sample.labels.get(k) == v for k, v in self.labels)

    def __str__(self) -> str:
        if not self.labels:
            return self.name
        inner = ",".join(f'{k}="{_escape(v)}"' for k, v in self.labels)
        return f"{self.name}{{{inner}}}"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _unescape(value: str) -> str:
    return _UNESCAPE.sub(lambda m: "\n" if m.group(1) == "n" else m.group(1), value)


def parse_selector(field: str, text: str) -> Selector:
    """``name`` or ``name{label="value",...}``; a ``UsageError`` naming ``field`` otherwise."""
    whole = _SELECTOR.fullmatch(text)
    if whole is None:
        raise UsageError(
            f"{field}: {text!r} is not a sample selector: give a metric sample name, "
            'optionally with exact label values, e.g. db_pool_in_use{pool="main"}'
        )
    name, inner = whole.group(1), whole.group(2)
    labels: list[tuple[str, str]] = []
    if inner is not None and inner.strip():
        pos = 0
        while inner[pos:].strip():  # a trailing comma is allowed, as in PromQL
            m = _MATCHER.match(inner, pos)
            if m is None:
                raise UsageError(
                    f"{field}: cannot read the labels in {text!r}: write them as "
                    'label="value" pairs separated by commas'
                )
            if m.group(2) != "=":
                raise UsageError(
                    f"{field}: {text!r} uses {m.group(2)!r}; only exact label equality "
                    '(label="value") is supported: list the exact values, one series each'
                )
            labels.append((m.group(1), _unescape(m.group(3))))
            pos = m.end()
            if pos < len(inner):
                if inner[pos] != ",":
                    raise UsageError(
                        f"{field}: cannot read the labels in {text!r}: separate "
                        'label="value" pairs with commas'
                    )
                pos += 1
    return Selector(name, tuple(labels))


class ScrapeError(Exception):
    """The endpoint did not answer with metrics; ``reason`` is short enough for a note.

    ``kind`` is ``"unreachable"`` (no HTTP answer), ``"status"`` (not 200) or ``"format"``
    (200, but not Prometheus text).
    """

    def __init__(self, kind: str, reason: str) -> None:
        self.kind = kind
        self.reason = reason
        super().__init__(reason)


class MetricsEndpoint:
    """One Prometheus endpoint scraped with a sync httpx client (kept open between scrapes)."""

    def __init__(
        self,
        url: str,
        *,
        timeout: float,
        series: Mapping[str, Selector],
        clock: Callable[[], float],
    ) -> None:
        try:
            import httpx
        except ImportError:
            raise UsageError(
                "resources.metrics needs httpx: pip install 'slokit[load,httpx]'"
            ) from None
        try:
            from prometheus_client import parser  # noqa: F401
        except ImportError:
            raise UsageError(
                "resources.metrics needs prometheus-client: pip install 'slokit[load,service]'"
            ) from None
        self.url = url
        self.series = dict(series)
        self._clock = clock
        self._client: httpx.Client = httpx.Client(
            timeout=timeout,
            headers={"Accept": _ACCEPT, "User-Agent": "slokit-resources"},
            follow_redirects=True,
        )
        self._cpu: tuple[float, float] | None = None

    def close(self) -> None:
        self._client.close()

    def scrape(self) -> Scraped:
        """Every sample of the endpoint; ``ScrapeError`` when it does not answer with some."""
        import httpx

        try:
            response = self._client.get(self.url)
        except httpx.HTTPError as exc:
            raise ScrapeError("unreachable", type(exc).__name__) from exc
        if response.status_code != 200:
            raise ScrapeError("status", f"HTTP {response.status_code}")
        content_type = response.headers.get("content-type", "")
        try:
            return list(_parse(response.text, openmetrics="openmetrics" in content_type))
        except (ValueError, TypeError, KeyError, IndexError) as exc:
            raise ScrapeError("format", f"not Prometheus text: {_short(exc)}") from exc

    def sample(self) -> dict[str, float]:
        """``rss``, ``fds``, ``cpu`` (from the second scrape on) and the series found."""
        samples = self.scrape()
        now = self._clock()
        values: dict[str, float] = {}
        cpu: float | None = None
        for s in samples:
            if s.labels:
                continue  # a labelled process_* sample is some other process's
            if s.name in _BUILTIN:
                values[_BUILTIN[s.name]] = s.value
            elif s.name == _CPU:
                cpu = s.value
        if cpu is not None:
            previous, self._cpu = self._cpu, (now, cpu)
            # A counter that went down means the service restarted: no rate across that.
            if previous is not None and now > previous[0] and cpu >= previous[1]:
                values["cpu"] = (cpu - previous[1]) / (now - previous[0])
        for name, selector in self.series.items():
            picked = [s.value for s in samples if selector.matches(s)]
            if picked:
                values[name] = math.fsum(picked)
        return values

    def forget_rate(self) -> None:
        """After an outage, a cpu rate across the gap would average over unknown time."""
        self._cpu = None


def _parse(text: str, *, openmetrics: bool) -> Iterable[Sample]:
    from prometheus_client import parser as text_parser
    from prometheus_client.openmetrics import parser as openmetrics_parser

    # prometheus-client's parsers are untyped: the families are read duck-typed below.
    parse: Callable[[str], Iterable[Any]] = (
        openmetrics_parser.text_string_to_metric_families
        if openmetrics
        else text_parser.text_string_to_metric_families
    )
    for family in parse(text):
        for s in family.samples:
            value = float(s.value)
            if not math.isnan(value):
                yield Sample(s.name, dict(s.labels), value)


def _short(exc: BaseException, limit: int = 80) -> str:
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return text if len(text) <= limit else text[: limit - 3] + "..."


def unmatched_hint(selector: Selector, samples: Scraped) -> str:
    """What the endpoint does have, to fix a selector that matched nothing."""
    same = [s for s in samples if s.name == selector.name]
    if same:
        sets = sorted(
            {"{" + ",".join(f'{k}="{v}"' for k, v in s.labels.items()) + "}" for s in same}
        )
        shown = ", ".join(sets[:5]) + (", ..." if len(sets) > 5 else "")
        return f"samples named {selector.name} have the labels {shown}"
    names = sorted({s.name for s in samples})
    for suffix in ("_total", "_count", "_sum", "_bucket"):
        if selector.name + suffix in names:
            return f"did you mean {selector.name + suffix}? (selectors take sample names)"
    import difflib

    close = difflib.get_close_matches(selector.name, names, n=5, cutoff=0.6)
    if close:
        return "similar sample names: " + ", ".join(close)
    return f"the endpoint has {len(names)} sample names, none like it"
