"""OpenSLO v1: a spec's SLOs as OpenSLO documents, and OpenSLO documents as a spec.

Export (:func:`export_openslo`) writes one ``Service``, and per SLO one ``SLI`` (a Prometheus
``ratioMetric``), one ``SLO`` referring to it, and one ``AlertCondition`` plus one
``AlertPolicy`` per burn-rate condition ``slokit rules`` alerts on (OpenSLO allows exactly
one condition per policy), with one ``AlertNotificationTarget`` per severity (a policy needs
at least one). The SLI queries are slokit's own with ``$window`` set to ``5m``: an OpenSLO
tool reads good (or bad) and total events per 5 minutes and adds them up over its own
windows, so ``counter`` is false (the values are increases, not raw counters). A burn-rate
alert confirmed by a short window becomes a condition over its long window only, since an
OpenSLO condition has a single lookback window.

Import (``_openslo_import``) goes the other way; the two share the names and durations here.
"""

from __future__ import annotations

import math
import re
from typing import Any

import yaml

from slokit.rules._rules import PlainDumper, alerting_of, burn_conditions, describe_slo
from slokit.rules._sli import prom_duration, sli_queries
from slokit.spec import Alerting, Spec, format_duration

__all__ = [
    "API_VERSION",
    "DEFAULT_ALERTING",
    "DEFAULT_WINDOW",
    "GENERATED_DESCRIPTION",
    "KINDS",
    "MAX_NAME",
    "PROMQL_TOKEN",
    "SHORTHAND",
    "SHORTHAND_UNITS",
    "export_openslo",
    "number_text",
    "slug",
]

API_VERSION = "openslo/v1"
KINDS = (
    "AlertCondition",
    "AlertNotificationTarget",
    "AlertPolicy",
    "DataSource",
    "SLI",
    "SLO",
    "Service",
)
EXPORT_RANGE = "5m"
"""What ``$window`` becomes in exported queries."""

MAX_NAME = 63
_MAX_DESCRIPTION = 1050
DEFAULT_WINDOW = 30 * 86400.0
DEFAULT_ALERTING = Alerting()
SHORTHAND = re.compile(r"\s*(\d+)\s*([mhdwMQY])\s*\Z")
SHORTHAND_UNITS = {
    "m": 60.0,
    "h": 3600.0,
    "d": 86400.0,
    "w": 604800.0,
    "M": 30 * 86400.0,
    "Q": 90 * 86400.0,
    "Y": 365 * 86400.0,
}
# A PromQL string literal (left alone), or a range selector: `[5m]`, `[1h30m]`, `[30m:1m]`.
PROMQL_TOKEN = re.compile(
    r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`'
    r"|\[(?P<range>\s*(?:\d+(?:ms|[smhdwy]))+\s*)(?P<step>:[^\]]*)?\]"
)
GENERATED_DESCRIPTION = re.compile(
    r"\A\d+(?:\.\d+)?% of requests\b[^\n]*?, over [0-9a-z.]+(?:\. |\Z)"
)
"""The sentence :func:`describe_slo` starts exported descriptions with."""


# --------------------------------------------------------------------------------------------
# Export


def slug(text: str, fallback: str) -> str:
    """A DNS-1123 label: lowercase letters, digits and '-', at most 63 characters."""
    slug = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return slug[:MAX_NAME].rstrip("-") or fallback


class _Names:
    """Unique DNS-1123 names per kind."""

    def __init__(self) -> None:
        self._taken: dict[str, set[str]] = {}

    def claim(self, kind: str, *parts: str) -> str:
        base = slug("-".join(parts), kind.lower())
        taken = self._taken.setdefault(kind, set())
        name, count = base, 1
        while name in taken:
            count += 1
            suffix = f"-{count}"
            name = base[: MAX_NAME - len(suffix)].rstrip("-") + suffix
        taken.add(name)
        return name


def _shorthand(seconds: float) -> str:
    """An OpenSLO duration-shorthand (whole minutes, hours, days or weeks): what
    :func:`prom_duration` writes when it fits, else rounded up to whole minutes."""
    if seconds <= 0:
        return "0m"
    text = prom_duration(seconds)
    if re.fullmatch(r"\d+[mhdw]", text):
        return text
    return prom_duration(60.0 * math.ceil(seconds / 60.0))


def _clip(text: str) -> str:
    return text if len(text) <= _MAX_DESCRIPTION else text[: _MAX_DESCRIPTION - 1] + "…"


def _object(kind: str, name: str, display: str, spec: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": API_VERSION,
        "kind": kind,
        "metadata": {"name": name, "displayName": display},
        "spec": spec,
    }


def _source(query: str) -> dict[str, Any]:
    return {"metricSource": {"type": "Prometheus", "spec": {"query": query}}}


def number_text(value: float) -> float:
    return float(f"{value:.10g}")


def export_openslo(spec: Spec) -> str:
    """The SLOs of ``spec`` as OpenSLO v1 documents (one YAML stream)."""
    names = _Names()
    service = names.claim("Service", spec.service)
    head = [
        _object(
            "Service",
            service,
            spec.service,
            {"description": _clip(f"{spec.service}, as described by its slokit spec.")},
        )
    ]
    targets: dict[str, str] = {}
    body: list[dict[str, Any]] = []
    for slo_name, slo in spec.slos.items():
        queries = sli_queries(spec, slo_name, slo)
        if slo.sli is not None and slo.sli.good is not None:
            which, numerator = "good", slo.sli.good
        else:
            which, numerator = "bad", queries.bad
        sli = names.claim("SLI", spec.service, slo_name)
        sli_doc = _object(
            "SLI",
            sli,
            f"{slo_name} SLI",
            {
                "description": _clip(
                    f"The SLI of slokit SLO {slo_name!r}: {which} and total events of the "
                    f"last {EXPORT_RANGE} (slokit's $window set to {EXPORT_RANGE}); the "
                    "tool adds them up over its own windows, and their ratio is the SLI."
                ),
                "ratioMetric": {
                    "counter": False,
                    which: _source(numerator.replace("$window", EXPORT_RANGE)),
                    "total": _source(queries.total_over(EXPORT_RANGE)),
                },
            },
        )
        slo_object = names.claim("SLO", spec.service, slo_name)
        alerts = _export_alerts(spec, slo_name, slo_object, names, targets)
        policies = [d["metadata"]["name"] for d in alerts if d["kind"] == "AlertPolicy"]
        description = describe_slo(slo) + (f". {slo.description}" if slo.description else "")
        slo_spec: dict[str, Any] = {
            "description": _clip(description),
            "service": service,
            "indicatorRef": sli,
            "timeWindow": [{"duration": _shorthand(slo.window), "isRolling": True}],
            "budgetingMethod": "Occurrences",
            "objectives": [{"displayName": slo_name, "target": slo.objective}],
        }
        if policies:
            slo_spec["alertPolicies"] = [{"alertPolicyRef": p} for p in policies]
        # The SLO first, then its SLI, conditions and policies: easier to read.
        body += [_object("SLO", slo_object, slo_name, slo_spec), sli_doc, *alerts]
    for severity, target in targets.items():
        head.append(
            _object(
                "AlertNotificationTarget",
                target,
                f"{spec.service} {severity}",
                {
                    "target": "alertmanager",
                    "description": _clip(
                        f"Prometheus Alertmanager: `slokit rules` labels these alerts "
                        f"severity={severity}, service={spec.service} and slo=<the slokit SLO>; "
                        "route on those labels."
                    ),
                },
            )
        )
    intro = (
        f"# OpenSLO v1 documents for {spec.service}, generated by slokit from its spec.\n"
        f"# SLI queries count events over {EXPORT_RANGE} (slokit's $window); regenerate "
        "instead of editing.\n"
    )
    return intro + yaml.dump_all(
        [*head, *body],
        Dumper=PlainDumper,
        sort_keys=False,
        width=1000,
        allow_unicode=True,
        explicit_start=True,
    )


def _export_alerts(
    spec: Spec,
    slo_name: str,
    slo_object: str,
    names: _Names,
    targets: dict[str, str],
) -> list[dict[str, Any]]:
    """An AlertCondition and an AlertPolicy per burn condition slokit alerts on."""
    slo = spec.slos[slo_name]
    alerting = alerting_of(spec, slo)
    out: list[dict[str, Any]] = []
    budget = format_duration(slo.window)
    for condition in burn_conditions(slo.window):
        page = condition.severity == "page"
        if not (alerting.page if page else alerting.ticket):
            continue
        hold = alerting.page_for if page else alerting.ticket_for
        parts = (spec.service, slo_name, condition.severity, prom_duration(condition.long))
        name = names.claim("AlertCondition", *parts)
        factor = number_text(condition.factor)
        held = ""
        if _shorthand(hold) != prom_duration(hold) and hold > 0:
            held = f" (slokit waits {format_duration(hold)}; rounded up to whole minutes)"
        description = (
            f"{condition.budget_share * 100:g}% of the {budget} error budget of {slo_name} "
            f"burnt within {format_duration(condition.long)} (burn rate {factor:g}); slokit "
            f"also requires it over the last {format_duration(condition.short)}{held}."
        )
        out.append(
            _object(
                "AlertCondition",
                name,
                f"{slo_name}: {condition.severity} on {prom_duration(condition.long)} burn",
                {
                    "description": _clip(description),
                    "severity": condition.severity,
                    "condition": {
                        "kind": "burnrate",
                        "op": "gt",
                        "threshold": factor,
                        "lookbackWindow": _shorthand(condition.long),
                        "alertAfter": _shorthand(hold),
                    },
                },
            )
        )
        if condition.severity not in targets:
            targets[condition.severity] = names.claim(
                "AlertNotificationTarget", spec.service, condition.severity
            )
        policy = names.claim("AlertPolicy", *parts)
        runbook = f" Runbook: {alerting.runbook}" if alerting.runbook else ""
        out.append(
            _object(
                "AlertPolicy",
                policy,
                f"{slo_name}: {condition.severity} on {prom_duration(condition.long)} burn",
                {
                    "description": _clip(
                        f"The {condition.severity} alert of slokit SLO {slo_name!r} "
                        f"({slo_object}).{runbook}"
                    ),
                    "alertWhenNoData": False,
                    "alertWhenBreaching": True,
                    "alertWhenResolved": False,
                    "conditions": [{"conditionRef": name}],
                    "notificationTargets": [{"targetRef": targets[condition.severity]}],
                },
            )
        )
    return out
