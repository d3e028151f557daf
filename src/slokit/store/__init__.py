"""Run history: every ``slokit run`` kept in SQLite (default) or PostgreSQL.

::

    from slokit.store import open_store

    with open_store(None, project_dir=Path(".")) as store:   # .slokit/runs.db
        for run in store.list(service="orders-api", limit=10):
            print(run.id, run.status, run.total.p95_ms)
        results = store.get("last-pass").results()           # RunResults, histograms included

:func:`open_store` creates or migrates the store (SQLAlchemy Core; ``postgresql://`` URLs are
driven by psycopg 3). :func:`compare` sets two runs side by side with wording that does not
over-claim; :func:`regression_verdicts` and :func:`apply_fail_after` are the history-based
gates behind ``slokit run --baseline/--max-regression/--fail-after``.
"""

from slokit.store._compare import (
    Comparison,
    MetricChange,
    RequestComparison,
    compare,
    compare_requests,
    error_rate_change,
)
from slokit.store._connect import ENV_VAR, default_path
from slokit.store._costs import CostDecision, compare_costs
from slokit.store._drills import DrillRecord
from slokit.store._finops import FinopsRow, finops_markdown, finops_rows
from slokit.store._git import git_info
from slokit.store._migrations import SCHEMA_VERSION
from slokit.store._model import GitInfo, RequestSummary, RunRecord, RunSummary, StoredVerdict
from slokit.store._policy import (
    REGRESSION_METRICS,
    FailAfter,
    RegressionLimits,
    apply_fail_after,
    regression_verdicts,
)
from slokit.store._store import RunStore, open_store

__all__ = [
    "Comparison",
    "CostDecision",
    "DrillRecord",
    "ENV_VAR",
    "FailAfter",
    "FinopsRow",
    "GitInfo",
    "MetricChange",
    "REGRESSION_METRICS",
    "RegressionLimits",
    "RequestComparison",
    "RequestSummary",
    "RunRecord",
    "RunStore",
    "RunSummary",
    "SCHEMA_VERSION",
    "StoredVerdict",
    "apply_fail_after",
    "compare",
    "compare_costs",
    "compare_requests",
    "default_path",
    "error_rate_change",
    "finops_markdown",
    "finops_rows",
    "git_info",
    "open_store",
    "regression_verdicts",
]
