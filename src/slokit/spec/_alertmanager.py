"""``alertmanager:``: where the generated alerts go, by severity (seed 004's "PagerDuty
(critical), Slack #on-call (warn)"). ``slokit rules --alertmanager FILE`` writes the config."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field

from slokit.spec._base import Issue, SpecModel, Text, Url, issue, suggest
from slokit.spec._units import PositiveDuration

__all__ = ["AlertReceiver", "AlertRouting", "SEVERITIES"]

Severity = Literal["page", "ticket", "info"]
SEVERITIES: tuple[Severity, ...] = ("page", "ticket", "info")
"""The severities slokit's alerts carry: burn-rate alerts page or ticket, budgets any."""
_KINDS = ("pagerduty", "slack", "webhook")


class PagerDuty(SpecModel):
    routing_key: Text | None = None
    """The Events API v2 integration key (``${PD_ROUTING_KEY}``: from the environment)."""
    routing_key_file: Text | None = None
    url: Url | None = None

    @classmethod
    def _prepare(cls, data: dict[Any, Any]) -> tuple[dict[Any, Any], list[Issue]]:
        if (data.get("routing_key") is None) == (data.get("routing_key_file") is None):
            message = "a pagerduty receiver needs one of routing_key or routing_key_file"
            return data, [issue((), message, data)]
        return data, []


class Slack(SpecModel):
    api_url: Url | None = None
    """The incoming-webhook URL (``${SLACK_WEBHOOK_URL}``)."""
    api_url_file: Text | None = None
    channel: Text

    @classmethod
    def _prepare(cls, data: dict[Any, Any]) -> tuple[dict[Any, Any], list[Issue]]:
        if (data.get("api_url") is None) == (data.get("api_url_file") is None):
            message = "a slack receiver needs one of api_url or api_url_file"
            return data, [issue((), message, data)]
        return data, []


class Webhook(SpecModel):
    url: Url


class AlertReceiver(SpecModel):
    """One receiver: exactly one of ``pagerduty``, ``slack`` or ``webhook``."""

    pagerduty: PagerDuty | None = None
    slack: Slack | None = None
    webhook: Webhook | None = None
    send_resolved: bool = True

    @classmethod
    def _prepare(cls, data: dict[Any, Any]) -> tuple[dict[Any, Any], list[Issue]]:
        given = [k for k in _KINDS if data.get(k) is not None]
        if len(given) != 1:
            got = ", ".join(given) or "none"
            message = f"a receiver is exactly one of {', '.join(_KINDS)}; got {got}"
            return data, [issue((), message, data)]
        return data, []


def _repeat(value: Any) -> Any:
    if isinstance(value, dict):
        return value
    return {s: value for s in SEVERITIES}


class Repeat(SpecModel):
    page: PositiveDuration = 3600.0
    ticket: PositiveDuration = 12 * 3600.0
    info: PositiveDuration = 24 * 3600.0


class AlertRouting(SpecModel):
    """Receivers, and which severity goes to which."""

    receivers: dict[Text, AlertReceiver] = Field(min_length=1)
    routes: dict[Severity, Text] = Field(default_factory=dict)
    """Severity -> receiver name; a severity left out goes to ``default``."""
    default: Text | None = None
    """Where anything else goes (default: the ticket receiver, else the first receiver)."""
    group_by: list[Text] = Field(default_factory=lambda: ["alertname", "service", "slo", "budget"])
    group_wait: PositiveDuration = 30.0
    group_interval: PositiveDuration = 300.0
    repeat_interval: Annotated[Repeat, BeforeValidator(_repeat)] = Field(default_factory=Repeat)

    @classmethod
    def _prepare(cls, data: dict[Any, Any]) -> tuple[dict[Any, Any], list[Issue]]:
        receivers = data.get("receivers")
        names = [str(n) for n in receivers] if isinstance(receivers, dict) else []
        issues = []
        routes = data.get("routes")
        wanted = list(routes.items()) if isinstance(routes, dict) else []
        if data.get("default") is not None:
            wanted.append(("default", data["default"]))
        for key, name in wanted:
            if names and isinstance(name, str) and name not in names:
                hint = suggest(name, names)
                extra = f" (did you mean {hint!r}?)" if hint else ""
                loc = ("default",) if key == "default" else ("routes", key)
                message = f"no receiver named {name!r}{extra}; receivers: {', '.join(names)}"
                issues.append(issue(loc, message, name))
        return data, issues

    @property
    def fallback(self) -> str:
        """The root route's receiver."""
        if self.default is not None:
            return self.default
        return self.routes.get("ticket") or next(iter(self.receivers))
