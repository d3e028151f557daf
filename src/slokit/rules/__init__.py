"""SLOs in production: Prometheus rules and alerts, error-budget reports, Grafana, OpenSLO.

All generated from the same ``slokit.yaml`` the load tests and the service middleware read.
"""

from slokit.rules._alertmanager import alertmanager_config, render_alertmanager
from slokit.rules._budget import (
    BudgetReport,
    budget_json,
    budget_report,
    format_share,
    format_span,
    render_budget,
)
from slokit.rules._finops import FINOPS_ALERTS, FINOPS_SERIES
from slokit.rules._finops_tests import render_finops_tests
from slokit.rules._grafana import dashboard, render_dashboard
from slokit.rules._openslo import export_openslo
from slokit.rules._openslo_import import import_openslo
from slokit.rules._promtool import render_tests
from slokit.rules._rules import render_rules, rule_groups
from slokit.rules._sli import SLIQueries, sli_queries
from slokit.rules._thresholds import render_threshold_tests

__all__ = [
    "BudgetReport",
    "FINOPS_ALERTS",
    "FINOPS_SERIES",
    "SLIQueries",
    "alertmanager_config",
    "budget_json",
    "budget_report",
    "dashboard",
    "export_openslo",
    "format_share",
    "format_span",
    "import_openslo",
    "render_alertmanager",
    "render_budget",
    "render_dashboard",
    "render_finops_tests",
    "render_rules",
    "render_tests",
    "render_threshold_tests",
    "rule_groups",
    "sli_queries",
]
