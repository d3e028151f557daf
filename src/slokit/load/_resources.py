"""Sampling the system under test while a scenario runs, on the scenario's own clock.

The sampler counts seconds from its own start; the scenario's timeline counts from the
moment the workers start sending. Samples are shifted onto the timeline's clock (and those
before the load started dropped), so a chart of RSS and one of p95 share one time axis.
"""

from __future__ import annotations

import time
from types import TracebackType
from urllib.parse import urlsplit, urlunsplit

from slokit.results import ResourceTimeline, ScenarioResults
from slokit.sampling import ResourceSampler
from slokit.spec import Resources, Scenario, Spec

__all__ = ["Sampling", "check_resources"]


def _sampler(block: Resources) -> ResourceSampler:
    # psutil, httpx and psycopg are imported by the sampler only for the sources it uses.
    return ResourceSampler(
        interval=block.interval,
        pid=block.pid,
        process=block.process,
        metrics=block.metrics,
        series=block.series,
        postgres=block.postgres,
    )


def check_resources(spec: Spec, sc: Scenario) -> None:
    """Reach every source of the scenario's ``resources:`` once: UsageError if one is wrong
    (no such process, a dead metrics URL, PostgreSQL down), before any load is sent."""
    block = spec.resources_for(sc)
    if block is not None:
        _sampler(block).check()


def _masked(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{parts.username}:***@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


def _sources(block: Resources) -> list[str]:
    sources = []
    if block.pid is not None:
        sources.append(f"pid {block.pid} and its children")
    if block.process is not None:
        sources.append(f"the oldest process matching {block.process!r}, and its children")
    if block.metrics is not None:
        sources.append(block.metrics)
    if block.postgres is not None:
        sources.append(_masked(block.postgres))
    return sources


class Sampling:
    """``with Sampling(spec, sc) as sampling: results = run()`` then ``sampling.attach``."""

    def __init__(self, spec: Spec, sc: Scenario) -> None:
        self.block = spec.resources_for(sc)
        self._sampler = None if self.block is None else _sampler(self.block)
        self._wall = 0.0

    def __enter__(self) -> Sampling:
        if self._sampler is not None:
            self._wall = time.time()
            self._sampler.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._sampler is not None:
            self._sampler.stop()

    def attach(self, results: ScenarioResults) -> None:
        """Put the samples, on the results' clock, into ``results.resources``."""
        if self._sampler is None or self.block is None:
            return
        shift = self._wall - results.started.timestamp()
        end = results.duration_s + self.block.interval
        timeline = ResourceTimeline(
            interval=self.block.interval,
            notes=self._sampler.notes,
            sources=_sources(self.block),
        )
        for sample in self._sampler.samples:
            t = sample.t + shift
            if 0.0 <= t <= end:
                timeline.samples.append((round(t, 3), dict(sample.values)))
        results.resources = timeline
