"""The sampler: one daemon thread that reads every source each ``interval`` seconds.

A thread of sync code (psutil, httpx, psycopg) rather than a task: it works whatever event
loop the caller runs, and a slow scrape never delays the load generator's own coroutines.
The sources are opened, read and closed by that thread only.
"""

from __future__ import annotations

import contextlib
import math
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import TYPE_CHECKING, Any, Protocol

from slokit.errors import UsageError
from slokit.sampling._prometheus import Selector, parse_selector

if TYPE_CHECKING:
    from slokit.sampling import _process

__all__ = ["ResourceSample", "ResourceSampler", "samples_from_dict", "samples_to_dict"]

BUILTIN_NAMES = ("rss", "cpu", "fds", "threads", "pg_connections", "pg_active")
"""Value names the sources produce themselves; a ``series`` cannot take one."""

_SCRAPE_TIMEOUT_S = 2.0
_JOIN_GRACE_S = 2.0


@dataclass(frozen=True, slots=True)
class ResourceSample:
    """The values read at ``t`` seconds after the sampler started (monotonic clock).

    Names: ``rss`` (bytes), ``cpu`` (cores busy: 1.0 is one full core), ``fds``, ``threads``,
    ``pg_connections``, ``pg_active``, and each ``series`` name. A value a source could not
    read at that moment is absent, never zero.
    """

    t: float
    values: dict[str, float]


class _Gone(Exception):
    """The source is finished for good (its process exited); it is not retried."""


class _Source(Protocol):
    field: str
    """The setting it comes from, for notes: ``resources.metrics``."""

    def what(self) -> str:
        """What is sampled, for notes: the URL, ``pid 123``."""

    def read(self, t: float) -> dict[str, float]:
        """The values now. ``_Gone`` ends the source; any other error is an outage."""

    def lost(self) -> None:
        """Called when an outage starts."""

    def close(self) -> None: ...


class _ProcessSource:
    """``pid`` or ``process``: resolved in the thread, and looked for again until found."""

    def __init__(self, sampler: ResourceSampler) -> None:
        self._sampler = sampler
        self.field = "resources.pid" if sampler.pid is not None else "resources.process"
        self._tree: _process.ProcessTree | None = None
        self._waiting = False

    def what(self) -> str:
        if self._tree is not None:
            return f"process {self._tree.root.pid}"
        return f"pid {self._sampler.pid}" if self._sampler.pid else repr(self._sampler.process)

    def _resolve(self, t: float) -> _process.ProcessTree | None:
        from slokit.sampling import _process as p

        s = self._sampler
        if s.pid is not None:
            try:
                root = p.open_pid(s.pid)
            except p.ProcessGone as exc:
                s._note(f"resources.pid: {exc} (at {_secs(t)}); nothing is sampled from it")
                raise _Gone from exc
            return p.ProcessTree(root, s._clock)
        assert s.process is not None
        match = p.find_process(s.process)
        if match is None:
            if not self._waiting:
                self._waiting = True
                s._note(
                    f"resources.process: no process matches {s.process!r} at {_secs(t)}; "
                    "looking again every interval"
                )
            return None
        if self._waiting:
            s._note(f"resources.process: found {p.label(match.process)} at {_secs(t)}")
        if match.note:
            s._note(match.note)
        return p.ProcessTree(match.process, s._clock)

    def read(self, t: float) -> dict[str, float]:
        from slokit.sampling import _process

        if self._tree is None:
            self._tree = self._resolve(t)
            if self._tree is None:
                return {}
        try:
            return self._tree.sample()
        except _process.ProcessGone as exc:
            self._sampler._note(
                f"{self.field}: process {self._tree.root.pid} exited at {_secs(t)}; "
                "its values are missing from then on"
            )
            raise _Gone from exc

    def lost(self) -> None:
        pass

    def close(self) -> None:
        pass


class _MetricsSource:
    def __init__(self, sampler: ResourceSampler, url: str) -> None:
        from slokit.sampling._prometheus import MetricsEndpoint

        self.field = "resources.metrics"
        self._endpoint = MetricsEndpoint(
            url, timeout=sampler.scrape_timeout, series=sampler._selectors, clock=sampler._clock
        )

    def what(self) -> str:
        return self._endpoint.url

    def read(self, t: float) -> dict[str, float]:
        return self._endpoint.sample()

    def lost(self) -> None:
        self._endpoint.forget_rate()

    def close(self) -> None:
        self._endpoint.close()


class _PostgresSource:
    def __init__(self, url: str) -> None:
        from slokit.sampling._postgres import PostgresSource

        self.field = "resources.postgres"
        self._pg = PostgresSource(url)

    def what(self) -> str:
        return self._pg.description

    def read(self, t: float) -> dict[str, float]:
        return self._pg.sample()

    def lost(self) -> None:
        pass

    def close(self) -> None:
        self._pg.close()


def _secs(t: float) -> str:
    text = f"{t:.1f}".rstrip("0").rstrip(".")
    return f"{text}s"


def _reason(exc: BaseException) -> str:
    reason = getattr(exc, "reason", None)
    return reason if isinstance(reason, str) else type(exc).__name__


class ResourceSampler:
    """Samples the system under test every ``interval`` seconds while load runs.

    ::

        sampler = ResourceSampler(process="uvicorn", metrics="http://127.0.0.1:8000/metrics",
                                  postgres="postgresql://app@127.0.0.1/app")
        sampler.check()                  # UsageError before load starts if a source is wrong
        with sampler:
            ...                          # the load test
        samples, notes = sampler.samples, sampler.notes

    Sources (any combination):

    * ``pid`` or ``process`` (a substring of the name or command line, case-sensitive; the
      oldest match wins, never this process or its ancestors): ``rss``, ``cpu``, ``fds``,
      ``threads``, summed over the process and all its descendants.
    * ``metrics``: a Prometheus text endpoint; ``process_resident_memory_bytes``,
      ``process_open_fds`` and the rate of ``process_cpu_seconds_total`` fill ``rss``,
      ``fds`` and ``cpu`` where the process source gave none; ``series`` maps more names to
      selectors such as ``db_pool_in_use{pool="main"}`` (exact labels; matches are summed).
    * ``postgres``: a libpq URL; ``pg_connections`` (client backends, the sampler's own
      excluded) and ``pg_active`` (those running a query).

    A source that fails mid-run is noted once in ``notes`` and retried every interval; the
    others go on. Nothing is ever raised from the sampling thread.
    """

    def __init__(
        self,
        *,
        interval: float = 1.0,
        pid: int | None = None,
        process: str | None = None,
        metrics: str | None = None,
        series: Mapping[str, str] | None = None,
        postgres: str | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if isinstance(interval, bool) or not isinstance(interval, int | float):
            raise UsageError(f"resources.interval: give a number of seconds, not {interval!r}")
        if not math.isfinite(interval) or interval <= 0:
            raise UsageError(f"resources.interval: must be more than 0 seconds, got {interval!r}")
        if pid is not None and process is not None:
            raise UsageError(
                "resources.pid and resources.process: give one of them, not both "
                "(the process tree sampled is one root and its descendants)"
            )
        if pid is not None and (isinstance(pid, bool) or not isinstance(pid, int) or pid <= 0):
            raise UsageError(f"resources.pid: give a process id (a positive integer), not {pid!r}")
        if process is not None and (not isinstance(process, str) or not process.strip()):
            raise UsageError(
                "resources.process: give part of the service's process name or command line, "
                f"e.g. 'uvicorn' or 'orders-api', not {process!r}"
            )
        if metrics is not None and (
            not isinstance(metrics, str) or not metrics.startswith(("http://", "https://"))
        ):
            raise UsageError(
                f"resources.metrics: {metrics!r} is not an http(s) URL: give the service's "
                "Prometheus endpoint, e.g. http://127.0.0.1:8000/metrics"
            )
        selectors: dict[str, Selector] = {}
        for name, text in (series or {}).items():
            field = f"resources.series.{name}"
            if not isinstance(name, str) or not name or name == "t" or name in BUILTIN_NAMES:
                raise UsageError(
                    f"{field}: {name!r} cannot name a series: pick a name that is not "
                    f"'t' or a built-in value ({', '.join(BUILTIN_NAMES)})"
                )
            if not isinstance(text, str):
                raise UsageError(f"{field}: give a selector string, not {text!r}")
            selectors[name] = parse_selector(field, text)
        if selectors and metrics is None:
            raise UsageError(
                "resources.series: needs resources.metrics, the URL the series are scraped from"
            )
        if postgres is not None:
            from slokit.sampling._postgres import PostgresSource

            if not isinstance(postgres, str):
                raise UsageError(f"resources.postgres: give a libpq URL, not {postgres!r}")
            PostgresSource(postgres)  # a bad URL (or no psycopg) is a UsageError right now
        if pid is None and process is None and metrics is None and postgres is None:
            raise UsageError(
                "resources: nothing to sample: give pid or process, metrics, or postgres"
            )
        self.interval = float(interval)
        self.pid = pid
        self.process = process
        self.metrics = metrics
        self._selectors: dict[str, Selector] = selectors
        self.postgres = postgres
        self.scrape_timeout = min(self.interval, _SCRAPE_TIMEOUT_S)
        self._clock = clock
        self._lock = threading.Lock()
        self._samples: list[ResourceSample] = []
        self._notes: list[str] = []
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._t0 = 0.0
        self._state = "new"  # new -> running -> stopped

    # -- public surface -------------------------------------------------------------------

    @property
    def samples(self) -> list[ResourceSample]:
        """The samples so far (a copy)."""
        with self._lock:
            return list(self._samples)

    @property
    def notes(self) -> list[str]:
        """What went wrong or was chosen while sampling, each said once (a copy)."""
        with self._lock:
            return list(self._notes)

    def check(self) -> None:
        """Reach every source once; ``UsageError`` saying what to fix if one does not answer."""
        problems: list[str] = []
        if self.pid is not None or self.process is not None:
            problems.extend(self._check_process())
        if self.metrics is not None:
            problems.extend(self._check_metrics(self.metrics))
        if self.postgres is not None:
            problems.extend(self._check_postgres(self.postgres))
        if len(problems) == 1:
            raise UsageError(problems[0])
        if problems:
            lines = "\n".join(f"  {p}" for p in problems)
            raise UsageError(f"resources: {len(problems)} problems:\n{lines}")

    def start(self) -> None:
        """Start sampling in a daemon thread; the first sample is taken at once."""
        with self._lock:
            if self._state == "running":
                return
            if self._state == "stopped":
                raise UsageError(
                    "this ResourceSampler has already run: make a new one for another run"
                )
            self._state = "running"
            self._t0 = self._clock()
            self._thread = threading.Thread(target=self._run, name="slokit-resources", daemon=True)
        self._thread.start()

    def stop(self) -> list[ResourceSample]:
        """Stop sampling (waits for a sample in progress) and return every sample taken."""
        with self._lock:
            thread, was = self._thread, self._state
            self._state = "stopped"
        self._wake.set()
        if thread is not None and was == "running":
            thread.join(timeout=self.interval + _JOIN_GRACE_S)
            if thread.is_alive():
                self._note(
                    "resources: a source was still being read "
                    f"{self.interval + _JOIN_GRACE_S:g} s after sampling was stopped; the "
                    "sample in progress is dropped"
                )
        return self.samples

    def __enter__(self) -> ResourceSampler:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- preflight ------------------------------------------------------------------------

    def _check_process(self) -> list[str]:
        import psutil

        from slokit.sampling import _process

        if self.pid is not None:
            try:
                root = _process.open_pid(self.pid)
                _process.ProcessTree(root, self._clock).sample()
            except _process.ProcessGone as exc:
                return [
                    f"resources.pid: {exc}: give the pid of the service under test, or find "
                    "it by name with resources.process"
                ]
            except psutil.AccessDenied:
                return [
                    f"resources.pid: process {self.pid} cannot be read by this user: run "
                    "slokit as the service's user (or root), or use resources.metrics instead"
                ]
            return []
        assert self.process is not None
        if _process.find_process(self.process) is None:
            hint = _process.describe_candidates(self.process)
            return [
                f"resources.process: no running process has {self.process!r} in its name or "
                f"command line ({hint}): start the service first, or fix the pattern "
                "(case-sensitive)"
            ]
        return []

    def _check_metrics(self, url: str) -> list[str]:
        from slokit.sampling._prometheus import MetricsEndpoint, ScrapeError, unmatched_hint

        endpoint = MetricsEndpoint(
            url, timeout=self.scrape_timeout, series=self._selectors, clock=self._clock
        )
        try:
            scraped = endpoint.scrape()
        except ScrapeError as exc:
            if exc.kind == "unreachable":
                within = f" within {self.scrape_timeout:g} s" if "Timeout" in exc.reason else ""
                return [
                    f"resources.metrics: {url} did not answer{within} ({exc.reason}): start "
                    "the service first, or fix the URL (usually http://host:port/metrics)"
                ]
            if exc.kind == "status":
                return [
                    f"resources.metrics: {url} answered {exc.reason}, not 200: give the URL "
                    "of the service's Prometheus endpoint (usually .../metrics)"
                ]
            return [
                f"resources.metrics: {url} answered 200 but {exc.reason}: give the URL of a "
                "Prometheus text endpoint"
            ]
        finally:
            endpoint.close()
        if not scraped:
            return [
                f"resources.metrics: {url} answered 200 with no metric samples: give the URL "
                "of the service's Prometheus endpoint (usually .../metrics)"
            ]
        problems = []
        for name, selector in self._selectors.items():
            if not any(selector.matches(s) for s in scraped):
                problems.append(
                    f"resources.series.{name}: {selector} matches no sample at {url} "
                    f"({unmatched_hint(selector, scraped)}): fix the selector"
                )
        return problems

    def _check_postgres(self, url: str) -> list[str]:
        from slokit.sampling._postgres import PostgresError, PostgresSource

        pg = PostgresSource(url)
        try:
            pg.sample()
        except PostgresError as exc:
            return [
                f"resources.postgres: cannot query {pg.description} ({exc.reason}): start "
                "PostgreSQL or fix the URL (postgresql://user@host:5432/dbname)"
            ]
        finally:
            pg.close()
        return []

    # -- the thread -----------------------------------------------------------------------

    def _note(self, text: str) -> None:
        with self._lock:
            self._notes.append(text)

    def _open(self) -> list[_Source]:
        sources: list[_Source] = []
        if self.pid is not None or self.process is not None:
            sources.append(_ProcessSource(self))
        if self.metrics is not None:
            sources.append(_MetricsSource(self, self.metrics))
        if self.postgres is not None:
            sources.append(_PostgresSource(self.postgres))
        return sources

    def _run(self) -> None:
        sources: list[_Source] = []
        try:
            sources = self._open()
            self._loop(sources)
        except Exception as exc:  # the load run must not notice a sampler bug
            self._note(
                f"resources: sampling ended at {_secs(self._clock() - self._t0)} after an "
                f"unexpected {type(exc).__name__}: {exc}; the samples before it are kept"
            )
        finally:
            for source in sources:
                with contextlib.suppress(Exception):  # a close must not hide what went before
                    source.close()

    def _loop(self, sources: list[_Source]) -> None:
        down: set[int] = set()
        live = list(range(len(sources)))
        step = 0
        while True:
            t = self._clock() - self._t0
            values: dict[str, float] = {}
            for index in list(live):
                if self._wake.is_set():
                    return  # stop() is waiting: a half sample is not worth the delay
                source = sources[index]
                try:
                    got = source.read(t)
                except _Gone:
                    live.remove(index)
                    continue
                except Exception as exc:
                    if index not in down:
                        down.add(index)
                        source.lost()
                        self._note(
                            f"{source.field}: {source.what()} stopped answering at "
                            f"{_secs(t)} ({_reason(exc)}); its values are missing from "
                            "then on"
                        )
                    continue
                if index in down:
                    down.discard(index)
                    self._note(f"{source.field}: {source.what()} answers again at {_secs(t)}")
                # Sources are in order of trust: the process's own reading beats a scrape.
                for name, value in got.items():
                    values.setdefault(name, value)
            with self._lock:
                if self._state != "running":
                    return
                self._samples.append(ResourceSample(round(t, 6), values))
            # Stay on the grid t0 + k * interval: sleeping `interval` after each sample would
            # add every sample's own duration to the schedule.
            step += 1
            now = self._clock() - self._t0
            if now >= step * self.interval:
                step = math.floor(now / self.interval) + 1  # a slow sample: skip missed slots
            if self._wake.wait(step * self.interval - now):
                return


def samples_to_dict(interval: float, samples: Sequence[ResourceSample]) -> dict[str, Any]:
    """``{"interval": 1.0, "samples": [{"t": 0.0, "rss": ...}, ...]}``, ready for JSON."""
    return {
        "interval": interval,
        "samples": [
            {"t": round(s.t, 3), **{k: _plain(v) for k, v in s.values.items()}} for s in samples
        ],
    }


def _plain(value: float) -> float | int:
    # Counts and byte sizes read better as integers in JSON; floats come back as floats.
    if value.is_integer() and abs(value) < 2**53:
        return int(value)
    return value


def samples_from_dict(data: Mapping[str, Any]) -> list[ResourceSample]:
    """The samples of a ``samples_to_dict`` result (the interval is ``data["interval"]``)."""
    if not isinstance(data, Mapping) or not isinstance(data.get("samples"), list):
        raise UsageError(
            "resource samples: expected {'interval': seconds, 'samples': [...]}, "
            f"got {type(data).__name__}"
        )
    out: list[ResourceSample] = []
    for i, row in enumerate(data["samples"]):
        if not isinstance(row, Mapping) or "t" not in row:
            raise UsageError(f"resource samples: samples[{i}] has no 't' (seconds from start)")
        values: dict[str, float] = {}
        for key, value in row.items():
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise UsageError(f"resource samples: samples[{i}].{key} is {value!r}, not a number")
            if key != "t":
                values[str(key)] = float(value)
        out.append(ResourceSample(float(row["t"]), values))
    return out
