"""An Alertmanager configuration for the alerts ``slokit rules`` generates.

Under the root route (the ``default`` receiver), one route for the spec's service
(``service="..."``) with a child per severity: ``page`` to the paging receiver, ``ticket``
and ``info`` to theirs, each with its own repeat interval; alerts are grouped by alert name,
service, SLO and budget, so one SLO's burn pages once. Inhibitions: while an SLO's fast-burn
alert fires its slow-burn alert is muted (same SLO and service), and a budget's higher
threshold mutes its lower ones (same alert, budget and service).
"""

from __future__ import annotations

from typing import Any

import yaml

from slokit.errors import UsageError
from slokit.rules._finops import FINOPS_ALERTS
from slokit.rules._rules import ALERTS, PlainDumper
from slokit.spec import SEVERITIES, AlertReceiver, Spec

__all__ = ["alertmanager_config", "render_alertmanager"]


def _quote(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"')


def _duration(seconds: float) -> str:
    # Alertmanager reads Prometheus durations: 30s, 5m, 1h, 1d; never 1.5h.
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{max(1, round(seconds))}s"


def _receiver(name: str, receiver: AlertReceiver) -> dict[str, Any]:
    entry: dict[str, Any] = {"name": name}
    resolved = receiver.send_resolved
    if receiver.pagerduty is not None:
        pd: dict[str, Any] = {"send_resolved": resolved}
        if receiver.pagerduty.routing_key is not None:
            pd["routing_key"] = receiver.pagerduty.routing_key
        else:
            pd["routing_key_file"] = receiver.pagerduty.routing_key_file
        if receiver.pagerduty.url is not None:
            pd["url"] = receiver.pagerduty.url
        pd["description"] = "{{ .CommonAnnotations.summary }}"
        entry["pagerduty_configs"] = [pd]
    elif receiver.slack is not None:
        slack: dict[str, Any] = {"send_resolved": resolved, "channel": receiver.slack.channel}
        if receiver.slack.api_url is not None:
            slack["api_url"] = receiver.slack.api_url
        else:
            slack["api_url_file"] = receiver.slack.api_url_file
        slack["title"] = "{{ .CommonAnnotations.summary }}"
        slack["text"] = "{{ range .Alerts }}{{ .Annotations.description }}\n{{ end }}"
        entry["slack_configs"] = [slack]
    elif receiver.webhook is not None:
        entry["webhook_configs"] = [{"send_resolved": resolved, "url": receiver.webhook.url}]
    return entry


def _inhibitions(spec: Spec) -> list[dict[str, Any]]:
    service = f'service="{_quote(spec.service)}"'
    rules: list[dict[str, Any]] = [
        {
            "source_matchers": [f'alertname="{ALERTS["page"]}"', service],
            "target_matchers": [f'alertname="{ALERTS["ticket"]}"', service],
            "equal": ["slo", "service"],
        }
    ]
    for name, budget in spec.budgets.items():
        shares = sorted({t.at for t in budget.thresholds})
        for i, higher in enumerate(shares[1:], start=1):
            lower = "|".join(f"{s * 100:g}%" for s in shares[:i])
            for alert in (FINOPS_ALERTS["spent"], FINOPS_ALERTS["projected"]):
                rules.append(
                    {
                        "source_matchers": [
                            f'alertname="{alert}"',
                            service,
                            f'budget="{_quote(name)}"',
                            f'threshold="{higher * 100:g}%"',
                        ],
                        "target_matchers": [
                            f'alertname="{alert}"',
                            service,
                            f'budget="{_quote(name)}"',
                            f'threshold=~"{lower}"',
                        ],
                        "equal": ["alertname", "service", "budget"],
                    }
                )
    return rules


def alertmanager_config(spec: Spec) -> dict[str, Any]:
    """The configuration as a mapping (see the module docstring)."""
    routing = spec.alertmanager
    if routing is None:
        raise UsageError(
            "the spec has no alertmanager: block; add receivers and routes, e.g. "
            "alertmanager: {receivers: {oncall: {slack: {api_url: ..., channel: '#on-call'}}}, "
            "routes: {page: oncall, ticket: oncall}}"
        )
    repeat = routing.repeat_interval
    children = [
        {
            "matchers": [f'severity="{severity}"'],
            "receiver": routing.routes.get(severity, routing.fallback),
            "repeat_interval": _duration(getattr(repeat, severity)),
        }
        for severity in SEVERITIES
    ]
    return {
        "route": {
            "receiver": routing.fallback,
            "group_by": list(routing.group_by),
            "group_wait": _duration(routing.group_wait),
            "group_interval": _duration(routing.group_interval),
            "repeat_interval": _duration(repeat.ticket),
            "routes": [
                {
                    "matchers": [f'service="{_quote(spec.service)}"'],
                    "receiver": routing.fallback,
                    "routes": children,
                }
            ],
        },
        "inhibit_rules": _inhibitions(spec),
        "receivers": [_receiver(n, r) for n, r in routing.receivers.items()],
    }


def render_alertmanager(spec: Spec, source: str = "") -> str:
    """:func:`alertmanager_config` as YAML, ready for ``amtool check-config``."""
    head = (
        f"# Generated by `slokit rules --alertmanager` from {source or 'the spec'} for "
        f"{spec.service}; regenerate instead of editing.\n"
    )
    text = yaml.dump(
        alertmanager_config(spec), Dumper=PlainDumper, sort_keys=False, width=1000,
        allow_unicode=True,
    )  # fmt: skip
    return head + text
