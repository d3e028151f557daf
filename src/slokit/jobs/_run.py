"""``@job`` and ``with job_run(...)``: time a job, count its outcome, note its last success.

Sync and async functions alike. A run that raises is a ``failure`` (the exception goes on);
under RQ, a failure with retries left also counts as a retry (``rq.get_current_job()``),
so an RQ ``Retry(max=3)`` shows on ``slokit_job_retries_total`` with no more code.
"""

from __future__ import annotations

import functools
import inspect
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, ParamSpec, TypeVar, overload

from slokit.jobs._metrics import job_metrics

__all__ = ["job", "job_run", "retried"]

_P = ParamSpec("_P")
_R = TypeVar("_R")


def _will_retry() -> bool:
    try:
        from rq import get_current_job
    except ImportError:
        return False
    try:
        current = get_current_job()
    except Exception:  # outside a worker RQ may look for a connection: not a retry
        return False
    left = getattr(current, "retries_left", None) if current is not None else None
    return bool(left)


@contextmanager
def job_run(name: str, *, queue: str = "default", registry: Any = None) -> Iterator[None]:
    """One run of job ``name``: its duration, its outcome and, on success, the time."""
    metrics = job_metrics(registry)
    started = time.perf_counter()
    try:
        yield
    except BaseException:
        metrics.duration.labels(name, queue).observe(time.perf_counter() - started)
        metrics.runs.labels(name, queue, "failure").inc()
        if _will_retry():
            metrics.retries.labels(name, queue).inc()
        raise
    metrics.duration.labels(name, queue).observe(time.perf_counter() - started)
    metrics.runs.labels(name, queue, "success").inc()
    metrics.last_success.labels(name).set(time.time())


def retried(name: str, *, queue: str = "default", registry: Any = None) -> None:
    """Count a retry your own queue library decided (Celery ``self.retry()``, a loop)."""
    job_metrics(registry).retries.labels(name, queue).inc()


@overload
def job(fn: Callable[_P, _R], /) -> Callable[_P, _R]: ...


@overload
def job(
    name: str | None = None, *, queue: str = "default", registry: Any = None
) -> Callable[[Callable[_P, _R]], Callable[_P, _R]]: ...


def job(name: Any = None, *, queue: str = "default", registry: Any = None) -> Any:
    """Decorate a job function: ``@job`` (named after the function) or ``@job("purge")``."""
    if callable(name):
        return job(None)(name)

    def decorate(fn: Callable[_P, _R]) -> Callable[_P, _R]:
        label = name or fn.__name__
        if inspect.iscoroutinefunction(fn):

            @functools.wraps(fn)
            async def run_async(*args: _P.args, **kwargs: _P.kwargs) -> Any:
                with job_run(label, queue=queue, registry=registry):
                    return await fn(*args, **kwargs)

            return run_async  # type: ignore[return-value]

        @functools.wraps(fn)
        def run(*args: _P.args, **kwargs: _P.kwargs) -> _R:
            with job_run(label, queue=queue, registry=registry):
                return fn(*args, **kwargs)

        return run

    return decorate
