"""Error budgets on the overview: ``slokit budget``'s report, asked of a live Prometheus.

The report is the one :func:`slokit.rules.budget_report` computes (raw PromQL, no recording
rules needed). Pages ask at most once every :data:`REFRESH_S` seconds, each query bounded by
:data:`TIMEOUT_S`, so a reload storm cannot flood Prometheus and a dead Prometheus cannot
hang the overview; when Prometheus cannot be asked, the page shows why instead.
"""

from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass
from typing import Any

from slokit.errors import SlokitError
from slokit.rules import BudgetReport, budget_json, budget_report
from slokit.spec import Spec

__all__ = ["REFRESH_S", "TIMEOUT_S", "Budget", "BudgetState"]

REFRESH_S = 15.0
TIMEOUT_S = 5.0

_PASSWORD = re.compile(r"(//[^/@:]*):[^/@]*@")


def _shown(url: str) -> str:
    """The URL without its password, for the page."""
    return _PASSWORD.sub(r"\1:***@", url)


@dataclass(frozen=True)
class BudgetState:
    """One answer: the reports, or why there are none."""

    service: str
    prometheus: str
    """Prometheus's URL, password hidden."""
    reports: tuple[BudgetReport, ...]
    error: str | None
    asked: float
    """Unix time of the question."""

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "service": self.service,
            "prometheus": self.prometheus,
            "asked": self.asked,
            "error": self.error,
        }
        data.update(budget_json(self.reports) if self.error is None else {"slos": []})
        return data


class Budget:
    """The spec's SLOs against the Prometheus at ``url``, asked on demand, cached briefly."""

    def __init__(self, spec: Spec, url: str) -> None:
        self.spec = spec
        self.url = url
        self._state: BudgetState | None = None
        self._lock = threading.Lock()

    def state(self) -> BudgetState:
        with self._lock:
            now = time.time()
            if self._state is None or now - self._state.asked >= REFRESH_S:
                self._state = self._ask(now)
            return self._state

    def _ask(self, now: float) -> BudgetState:
        shown = _shown(self.url)
        try:
            reports = tuple(budget_report(self.spec, self.url, timeout=TIMEOUT_S))
        except SlokitError as exc:
            return BudgetState(self.spec.service, shown, (), str(exc), now)
        return BudgetState(self.spec.service, shown, reports, None, now)
