"""What the service's dependencies and caches did, kept in memory and read when Prometheus
scrapes (by the collector of ``_metrics``), so resilience needs no prometheus-client.

- per dependency (the name the spec gives it, else the host): the duration of every attempt
  in a fixed histogram (with the dependency SLO's latency as an edge), attempts by outcome
  (``success``; ``error``: a 5xx or 429 answer; ``transport_error``: nothing came back;
  ``rejected``: the breaker or the bulkhead refused it) and retries;
- per named cache: lookups by result (``hit``, ``miss``, ``stale``) and its entries.
"""

from __future__ import annotations

import bisect
import threading
import weakref
from collections.abc import Callable, Iterable
from dataclasses import dataclass

__all__ = [
    "DEPENDENCY_EDGES",
    "CacheReading",
    "CacheStats",
    "DependencyReading",
    "DependencyStats",
    "cache_readings",
    "cache_stats",
    "dependency_readings",
    "dependency_stats",
    "register_cache",
]

DEPENDENCY_EDGES = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 2.5, 5.0, 10.0, 30.0)
OUTCOMES = ("success", "error", "transport_error", "rejected")

_lock = threading.Lock()
_dependencies: dict[str, DependencyStats] = {}
_caches: dict[str, CacheStats] = {}
_cache_sources: weakref.WeakValueDictionary[str, _Source] = weakref.WeakValueDictionary()


@dataclass(frozen=True, slots=True)
class DependencyReading:
    name: str
    edges: tuple[float, ...]
    buckets: tuple[int, ...]
    """Cumulative counts per edge, then +Inf."""
    total_seconds: float
    outcomes: dict[str, int]
    retries: int


class DependencyStats:
    """Counts for one dependency; thread-safe, a few list operations per attempt."""

    __slots__ = ("_counts", "_lock", "_outcomes", "_retries", "_sum", "edges", "name")

    def __init__(self, name: str, edges: Iterable[float] = ()) -> None:
        self.name = name
        self.edges = tuple(sorted({*DEPENDENCY_EDGES, *(float(e) for e in edges)}))
        self._lock = threading.Lock()
        self._counts = [0] * (len(self.edges) + 1)
        self._sum = 0.0
        self._outcomes = dict.fromkeys(OUTCOMES, 0)
        self._retries = 0

    def observe(self, seconds: float, outcome: str) -> None:
        """One attempt that reached the dependency (or failed on the way)."""
        index = bisect.bisect_left(self.edges, seconds)
        with self._lock:
            self._counts[index] += 1
            self._sum += seconds
            self._outcomes[outcome] = self._outcomes.get(outcome, 0) + 1

    def rejected(self) -> None:
        """An attempt the breaker or the bulkhead refused: never sent, so no duration."""
        with self._lock:
            self._outcomes["rejected"] += 1

    def retried(self) -> None:
        with self._lock:
            self._retries += 1

    def reading(self) -> DependencyReading:
        with self._lock:
            counts, total = list(self._counts), self._sum
            outcomes, retries = dict(self._outcomes), self._retries
        cumulative, running = [], 0
        for n in counts:
            running += n
            cumulative.append(running)
        return DependencyReading(self.name, self.edges, tuple(cumulative), total, outcomes, retries)


def dependency_stats(name: str, edges: Iterable[float] = ()) -> DependencyStats:
    """The one :class:`DependencyStats` of ``name`` in this process (created on first use;
    ``edges`` are added to the histogram only then)."""
    found = _dependencies.get(name)
    if found is None:
        with _lock:
            found = _dependencies.get(name)
            if found is None:
                found = _dependencies[name] = DependencyStats(name, edges)
    return found


def dependency_readings() -> list[DependencyReading]:
    with _lock:
        found = list(_dependencies.values())
    return [d.reading() for d in sorted(found, key=lambda d: d.name)]


@dataclass(frozen=True, slots=True)
class CacheReading:
    name: str
    hits: int
    misses: int
    stale: int
    entries: int | None


class CacheStats:
    """Counters for a cache of your own (a Redis cache, an lru_cache): call :meth:`hit` and
    :meth:`miss` on each lookup, :meth:`stale` when an old entry was served, and set
    :attr:`entries` if the size is known. ``/metrics`` shows them with the cache's name."""

    __slots__ = ("_hits", "_lock", "_misses", "_stale", "entries", "name")

    def __init__(self, name: str) -> None:
        self.name = name
        self._lock = threading.Lock()
        self._hits = self._misses = self._stale = 0
        self.entries: int | None = None

    def hit(self) -> None:
        with self._lock:
            self._hits += 1

    def miss(self) -> None:
        with self._lock:
            self._misses += 1

    def stale(self) -> None:
        with self._lock:
            self._stale += 1

    def reading(self) -> CacheReading:
        with self._lock:
            return CacheReading(self.name, self._hits, self._misses, self._stale, self.entries)


class _Source:
    """A cache that keeps its own counts (StaleCache), read through a callable."""

    __slots__ = ("__weakref__", "read")

    def __init__(self, read: Callable[[], CacheReading]) -> None:
        self.read = read


def cache_stats(name: str) -> CacheStats:
    """The one :class:`CacheStats` called ``name`` in this process."""
    found = _caches.get(name)
    if found is None:
        with _lock:
            found = _caches.get(name)
            if found is None:
                found = _caches[name] = CacheStats(name)
    return found


def register_cache(name: str, read: Callable[[], CacheReading]) -> object:
    """Show a cache that counts for itself under ``name``; it stays while the returned token
    is referenced (its owner keeps it)."""
    source = _Source(read)
    with _lock:
        _cache_sources[name] = source
    return source


def cache_readings() -> list[CacheReading]:
    with _lock:
        own = list(_caches.values())
        sources = list(_cache_sources.values())
    readings = [c.reading() for c in own] + [s.read() for s in sources]
    return sorted(readings, key=lambda r: r.name)
