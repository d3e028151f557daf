"""The spec: one ``slokit.yaml`` saying what a service promises and how to load it.

:func:`load_spec` reads and validates a file (every problem reported at once, with its
line); the models are frozen pydantic classes storing plain units: seconds, per-second
rates, ratios and bytes.
"""

from __future__ import annotations

from slokit.spec._alertmanager import SEVERITIES, AlertReceiver, AlertRouting
from slokit.spec._alerts import ThresholdAlert, Watch
from slokit.spec._budgets import Budget, BudgetThreshold
from slokit.spec._cost import Cost, CostPrices
from slokit.spec._flow import Choice, Pick, flow_steps
from slokit.spec._gates import Gate
from slokit.spec._jobs import JobSLO, QueueSLO
from slokit.spec._loader import load_spec, parse_spec
from slokit.spec._models import (
    SLO,
    Alerting,
    Cache,
    Dependency,
    Guards,
    Prometheus,
    RateLimit,
    SLIQuery,
    Spec,
)
from slokit.spec._overrides import LoadOverrides, override_load
from slokit.spec._resources import BUILTIN_RESOURCES, Resources
from slokit.spec._route import Route
from slokit.spec._scenarios import (
    Capacity,
    ConstantArrivalRate,
    ConstantVUs,
    PerVUIterations,
    RampingArrivalRate,
    RampingVUs,
    RateStage,
    Scenario,
    SLOOverride,
    VUStage,
)
from slokit.spec._schema import json_schema
from slokit.spec._starter import STARTER_SPEC
from slokit.spec._steps import Check, DataSource, Step
from slokit.spec._units import (
    format_duration,
    parse_duration,
    parse_percent,
    parse_quota,
    parse_rate,
    parse_size,
)

# Plain sorted() order, which the repo-wide public-API test checks (ruff's RUF022 would put
# the all-caps names first).
__all__ = [
    "AlertReceiver",
    "AlertRouting",
    "Alerting",
    "BUILTIN_RESOURCES",
    "Budget",
    "BudgetThreshold",
    "Cache",
    "Capacity",
    "Check",
    "Choice",
    "ConstantArrivalRate",
    "ConstantVUs",
    "Cost",
    "CostPrices",
    "DataSource",
    "Dependency",
    "Gate",
    "Guards",
    "JobSLO",
    "LoadOverrides",
    "PerVUIterations",
    "Pick",
    "Prometheus",
    "QueueSLO",
    "RampingArrivalRate",
    "RampingVUs",
    "RateLimit",
    "RateStage",
    "Resources",
    "Route",
    "SEVERITIES",
    "SLIQuery",
    "SLO",
    "SLOOverride",
    "STARTER_SPEC",
    "Scenario",
    "Spec",
    "Step",
    "ThresholdAlert",
    "VUStage",
    "Watch",
    "flow_steps",
    "format_duration",
    "json_schema",
    "load_spec",
    "override_load",
    "parse_duration",
    "parse_percent",
    "parse_quota",
    "parse_rate",
    "parse_size",
    "parse_spec",
]
