"""``slokit.spec`` exports exactly its public names, sorted."""

from __future__ import annotations

import ast
from pathlib import Path

import slokit.spec

PUBLIC = {
    "AlertReceiver",
    "AlertRouting",
    "Alerting",
    "SEVERITIES",
    "BUILTIN_RESOURCES",
    "Budget",
    "BudgetThreshold",
    "Cache",
    "Capacity",
    "Prometheus",
    "SLIQuery",
    "SLO",
    "SLOOverride",
    "STARTER_SPEC",
    "Check",
    "ConstantArrivalRate",
    "ConstantVUs",
    "Cost",
    "CostPrices",
    "DataSource",
    "Dependency",
    "Gate",
    "Guards",
    "JobSLO",
    "QueueSLO",
    "LoadOverrides",
    "PerVUIterations",
    "RampingArrivalRate",
    "RampingVUs",
    "RateLimit",
    "RateStage",
    "Resources",
    "Pick",
    "Route",
    "Scenario",
    "Spec",
    "Step",
    "ThresholdAlert",
    "Watch",
    "Choice",
    "flow_steps",
    "VUStage",
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
}


def test_all_lists_exactly_the_public_names() -> None:
    assert set(slokit.spec.__all__) == PUBLIC
    assert len(slokit.spec.__all__) == len(PUBLIC)
    for name in PUBLIC:
        assert getattr(slokit.spec, name) is not None


def test_all_is_sorted() -> None:
    assert slokit.spec.__all__ == sorted(slokit.spec.__all__)


def test_spec_imports_nothing_of_slokit_but_errors() -> None:
    folder = Path(slokit.spec.__file__).parent
    for file in folder.glob("*.py"):
        tree = ast.parse(file.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module:
                module = node.module
                if module.startswith("slokit"):
                    assert module == "slokit.errors" or module.startswith("slokit.spec"), (
                        f"{file.name} imports {module}"
                    )
