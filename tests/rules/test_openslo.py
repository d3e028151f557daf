"""OpenSLO v1 export and import: valid documents, a faithful round trip, honest notes, and
a UsageError (never a traceback) for anything that is not OpenSLO."""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from slokit.demo import spec_path
from slokit.errors import UsageError
from slokit.rules import export_openslo, import_openslo
from slokit.rules._rules import burn_conditions
from slokit.rules._sli import prom_duration, sli_queries
from slokit.spec import Spec, load_spec, parse_spec

KINDS = {"Service", "SLI", "SLO", "AlertPolicy", "AlertCondition", "AlertNotificationTarget"}
DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?\Z")
SHORTHAND = re.compile(r"[0-9]+[mhdwMQY]\Z")

BUILT = """\
service: Orders API
prometheus:
  selector: job="orders"
slos:
  availability:
    objective: 99.9%
    window: 30d
  daily-latency:
    route: GET /api/horoscopes/daily
    objective: 95%
    latency: 300ms
  orders-latency:
    route: POST /api/orders
    objective: 95%
    latency: 500ms
  orders-errors:
    route: POST /api/orders
    objective: 99%
    description: Orders are not lost.
  checkout:
    objective: 99.5%
    window: 7d
    sli:
      good: sum(rate(checkout_total{outcome="ok"}[$window]))
      total: sum(rate(checkout_total[$window]))
"""


def demo_spec() -> Spec:
    return load_spec(spec_path())


def built_spec() -> Spec:
    return parse_spec(BUILT)


SPECS = pytest.mark.parametrize("make", [demo_spec, built_spec], ids=["demo", "built"])


def documents(text: str) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(text) if d is not None]


def by_kind(docs: list[dict[str, Any]]) -> dict[str, dict[str, dict[str, Any]]]:
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for doc in docs:
        out.setdefault(doc["kind"], {})[doc["metadata"]["name"]] = doc
    return out


def the_query(ratio: dict[str, Any], key: str) -> str:
    source = ratio[key]["metricSource"]
    assert source["type"] == "Prometheus"
    query = source["spec"]["query"]
    assert isinstance(query, str)
    return query


def imported(text: str) -> tuple[Spec, list[str]]:
    spec_text, notes = import_openslo(text)
    return parse_spec(spec_text), notes


def noted(notes: list[str], *words: str) -> list[str]:
    found = [n for n in notes if all(w in n for w in words)]
    assert found, f"no note with {words}: {notes}"
    return found


# --------------------------------------------------------------------------------------------
# Export


@SPECS
def test_export_documents_are_openslo_v1_with_dns_names(make: Any) -> None:
    docs = documents(export_openslo(make()))
    assert docs
    for doc in docs:
        assert doc["apiVersion"] == "openslo/v1"
        assert doc["kind"] in KINDS
        name = doc["metadata"]["name"]
        assert len(name) <= 63, name
        assert DNS_LABEL.match(name), name
        assert len(doc["spec"].get("description", "")) <= 1050
    for kind, count in Counter((d["kind"], d["metadata"]["name"]) for d in docs).items():
        assert count == 1, kind


@SPECS
def test_export_references_resolve(make: Any) -> None:
    spec = make()
    objects = by_kind(documents(export_openslo(spec)))
    assert len(objects["Service"]) == 1
    assert len(objects["SLO"]) == len(objects["SLI"]) == len(spec.slos)
    for slo in objects["SLO"].values():
        body = slo["spec"]
        assert body["service"] in objects["Service"]
        assert body["indicatorRef"] in objects["SLI"]
        assert "indicator" not in body
        for ref in body["alertPolicies"]:
            assert ref["alertPolicyRef"] in objects["AlertPolicy"]
    for policy in objects["AlertPolicy"].values():
        conditions = policy["spec"]["conditions"]
        assert len(conditions) == 1  # OpenSLO v1 allows exactly one condition per policy
        assert conditions[0]["conditionRef"] in objects["AlertCondition"]
        targets = policy["spec"]["notificationTargets"]
        assert targets
        for target in targets:
            assert target["targetRef"] in objects["AlertNotificationTarget"]
    used = {
        ref["alertPolicyRef"]
        for slo in objects["SLO"].values()
        for ref in slo["spec"]["alertPolicies"]
    }
    assert used == set(objects["AlertPolicy"])


@SPECS
def test_export_slos_say_what_the_spec_says(make: Any) -> None:
    spec = make()
    objects = by_kind(documents(export_openslo(spec)))
    slos = {d["metadata"]["displayName"]: d for d in objects["SLO"].values()}
    assert set(slos) == set(spec.slos)
    for name, slo in spec.slos.items():
        body = slos[name]["spec"]
        assert body["budgetingMethod"] == "Occurrences"
        assert body["objectives"] == [{"displayName": name, "target": slo.objective}]
        [window] = body["timeWindow"]
        assert window["isRolling"] is True
        assert SHORTHAND.match(window["duration"])
        ratio = objects["SLI"][body["indicatorRef"]]["spec"]["ratioMetric"]
        assert ratio["counter"] is False  # increases over 5m, not raw counters
        queries = sli_queries(spec, name, slo)
        assert the_query(ratio, "total") == queries.total_over("5m")
        if slo.sli is not None and slo.sli.good is not None:
            assert the_query(ratio, "good") == slo.sli.good.replace("$window", "5m")
            assert "bad" not in ratio
        else:
            assert the_query(ratio, "bad") == queries.bad_over("5m")
        for key in ("good", "bad", "total"):
            if key in ratio:
                assert "$window" not in the_query(ratio, key)


def test_export_alert_conditions_are_the_burn_rate_conditions() -> None:
    spec = built_spec()
    objects = by_kind(documents(export_openslo(spec)))
    slos = {d["metadata"]["displayName"]: d for d in objects["SLO"].values()}
    for name, slo in spec.slos.items():
        refs = [r["alertPolicyRef"] for r in slos[name]["spec"]["alertPolicies"]]
        found = []
        for ref in refs:
            [condition] = objects["AlertPolicy"][ref]["spec"]["conditions"]
            body = objects["AlertCondition"][condition["conditionRef"]]["spec"]
            found.append((body["severity"], body["condition"]))
        expected = [
            (
                c.severity,
                {
                    "kind": "burnrate",
                    "op": "gt",
                    "threshold": pytest.approx(c.factor),
                    "lookbackWindow": prom_duration(c.long),  # scaled to the SLO's window
                    "alertAfter": "2m" if c.severity == "page" else "15m",
                },
            )
            for c in burn_conditions(slo.window)
        ]
        assert found == expected


def test_export_follows_the_alerting_settings() -> None:
    spec = parse_spec(
        """\
service: shop
alerting: {page: false, ticket_for: 1h}
slos:
  quiet:
    objective: 99%
  own:
    objective: 99%
    alerting: {ticket: false, page_for: 90s}
  none:
    objective: 99%
    alerting: {page: false, ticket: false}
"""
    )
    objects = by_kind(documents(export_openslo(spec)))
    slos = {d["metadata"]["displayName"]: d["spec"] for d in objects["SLO"].values()}

    def conditions(name: str) -> list[tuple[str, str]]:
        out = []
        for ref in slos[name].get("alertPolicies", []):
            [cond] = objects["AlertPolicy"][ref["alertPolicyRef"]]["spec"]["conditions"]
            body = objects["AlertCondition"][cond["conditionRef"]]["spec"]
            out.append((body["severity"], body["condition"]["alertAfter"]))
        return out

    assert conditions("quiet") == [("ticket", "1h"), ("ticket", "1h")]
    # 90 s is not an OpenSLO duration (whole minutes at least): rounded up, and said so.
    assert conditions("own") == [("page", "2m"), ("page", "2m")]
    assert conditions("none") == []
    assert "alertPolicies" not in slos["none"]
    assert any("1m30s" in c["spec"]["description"] for c in objects["AlertCondition"].values())


def test_export_short_window_leaves_out_longer_conditions() -> None:
    spec = parse_spec("service: s\nslos:\n  short: {objective: 99%, window: 12h}\n")
    objects = by_kind(documents(export_openslo(spec)))
    windows = [c["spec"]["condition"]["lookbackWindow"] for c in objects["AlertCondition"].values()]
    # The Workbook's windows scaled by 12h/30d, none shorter than 5m (issue 13).
    assert windows == ["5m", "6m", "24m", "72m"]
    [slo] = objects["SLO"].values()
    assert slo["spec"]["timeWindow"] == [{"duration": "12h", "isRolling": True}]


def test_export_names_are_slugged_unique_and_short() -> None:
    long = "Ü" + "Very Long Service Name " * 5
    spec = parse_spec(
        f"""\
service: "{long}"
slos:
  "Foo Bar": {{objective: 99%}}
  foo-bar: {{objective: 99%}}
  "foo_bar!": {{objective: 99%}}
"""
    )
    docs = documents(export_openslo(spec))
    names: dict[str, list[str]] = {}
    for doc in docs:
        name = doc["metadata"]["name"]
        assert len(name) <= 63, name
        assert DNS_LABEL.match(name), name
        names.setdefault(doc["kind"], []).append(name)
    for kind, listed in names.items():
        assert len(listed) == len(set(listed)), kind
    assert len(names["SLO"]) == 3
    [service] = [d for d in docs if d["kind"] == "Service"]
    assert service["metadata"]["displayName"] == long


def test_export_says_what_window_the_queries_use() -> None:
    text = export_openslo(built_spec())
    assert text.startswith("# ")
    assert "5m" in text.splitlines()[1]
    for sli in by_kind(documents(text))["SLI"].values():
        assert "$window set to 5m" in sli["spec"]["description"]


# --------------------------------------------------------------------------------------------
# Round trip


@SPECS
def test_round_trip_keeps_objectives_windows_and_queries(make: Any) -> None:
    spec = make()
    exported = export_openslo(spec)
    back, _ = imported(exported)
    objects = by_kind(documents(exported))
    slis = {
        d["metadata"]["displayName"]: objects["SLI"][d["spec"]["indicatorRef"]]
        for d in objects["SLO"].values()
    }
    assert back.service == spec.service
    assert list(back.slos) == list(spec.slos)
    for name, slo in spec.slos.items():
        got = back.slos[name]
        assert got.objective == slo.objective
        assert got.window == slo.window
        assert got.sli is not None
        ratio = slis[name]["spec"]["ratioMetric"]
        for key in ("good", "bad", "total"):
            query = getattr(got.sli, key)
            if key in ratio:
                assert query is not None
                assert "$window" in query
                assert query.replace("$window", "5m") == the_query(ratio, key)
            else:
                assert query is None
        assert got.alerting is None  # the default alerting came back as the default
        if slo.description:
            assert got.description == slo.description


def test_round_trip_keeps_names_that_are_not_dns_labels() -> None:
    spec = parse_spec(
        'service: "Orders API"\nslos:\n  "Foo Bar": {objective: 99%}\n  foo_bar: {objective: 98%}\n'
    )
    back, _ = imported(export_openslo(spec))
    assert back.service == "Orders API"
    assert {n: s.objective for n, s in back.slos.items()} == {"Foo Bar": 0.99, "foo_bar": 0.98}


def test_round_trip_keeps_alerting() -> None:
    spec = parse_spec(
        """\
service: shop
slos:
  a: {objective: 99%, alerting: {page: false, ticket_for: 1h}}
  b: {objective: 99%, alerting: {ticket: false, page_for: 5m}}
"""
    )
    back, _ = imported(export_openslo(spec))
    assert back.slos["a"].alerting is not None
    assert (back.slos["a"].alerting.page, back.slos["a"].alerting.ticket) == (False, True)
    assert back.slos["a"].alerting.ticket_for == 3600
    assert back.slos["b"].alerting is not None
    assert (back.slos["b"].alerting.page, back.slos["b"].alerting.ticket) == (True, False)
    assert back.slos["b"].alerting.page_for == 300


def test_round_trip_of_the_import_is_stable() -> None:
    once, _ = import_openslo(export_openslo(built_spec()))
    twice, _ = import_openslo(export_openslo(parse_spec(once)))
    assert parse_spec(twice).slos == parse_spec(once).slos


# --------------------------------------------------------------------------------------------
# Import of hand-written documents

INLINE = """\
apiVersion: openslo/v1
kind: SLO
metadata:
  name: foo-slo
  displayName: Foo SLO
spec:
  service: foo
  indicator:
    metadata:
      name: foo-error
    spec:
      ratioMetric:
        counter: true
        good:
          metricSource:
            type: Prometheus
            metricSourceRef: prometheus-datasource
            spec:
              query: sum(localhost_server_requests{code=~"2xx|3xx",host="*"})
        total:
          metricSource:
            type: Prometheus
            metricSourceRef: prometheus-datasource
            spec:
              query: localhost_server_requests{code="total",host="*"}
  timeWindow:
    - duration: 28d
      isRolling: true
  budgetingMethod: Occurrences
  objectives:
    - displayName: Foo Total Errors
      target: 0.98
"""

SERVICE = """\
apiVersion: openslo/v1
kind: Service
metadata:
  name: web
  displayName: Web
spec:
  description: The web tier
"""

REFERENCED = (
    SERVICE
    + """\
---
apiVersion: openslo/v1
kind: SLI
metadata:
  name: web-ok
spec:
  ratioMetric:
    counter: true
    bad:
      metricSource:
        type: Prometheus
        spec:
          query: sum(rate(http_requests_total{job="web",code=~"5..",path="/x[5m]"}[5m]))
    total:
      metricSource:
        type: Prometheus
        spec:
          query: sum(rate(http_requests_total{job="web"}[5m]))
---
apiVersion: openslo/v1
kind: SLO
metadata:
  name: web-availability
spec:
  description: Web answers
  service: web
  indicatorRef: web-ok
  timeWindow:
    - duration: 4w
      isRolling: true
  budgetingMethod: Occurrences
  objectives:
    - targetPercent: 99.95
"""
)


def test_import_inline_indicator_without_range_selectors() -> None:
    spec, notes = imported(INLINE)
    assert spec.service == "foo"
    slo = spec.slos["foo-slo"]
    assert slo.objective == 0.98
    assert slo.window == 28 * 86400
    assert slo.description == "Foo SLO"
    assert slo.sli is not None
    assert slo.sli.bad is None
    # A counter read without a range: its increase over the window, via a subquery.
    assert slo.sli.good == (
        'sum(increase((sum(localhost_server_requests{code=~"2xx|3xx",host="*"}))[$window:]))'
    )
    assert slo.sli.total == (
        'sum(increase((localhost_server_requests{code="total",host="*"})[$window:]))'
    )
    assert len(noted(notes, "no range selector", "counter: true")) == 2
    noted(notes, "no alertPolicies")


def test_import_gauge_without_range_sums_samples() -> None:
    text = INLINE.replace("counter: true", "counter: false")
    spec, notes = imported(text)
    sli = spec.slos["foo-slo"].sli
    assert sli is not None
    assert sli.total is not None
    assert sli.total.startswith("sum(sum_over_time((")
    noted(notes, "counter: false", "adds up its samples")


def test_import_indicator_ref_and_service() -> None:
    spec, notes = imported(REFERENCED)
    assert spec.service == "Web"  # the displayName the service's name is made from
    [(name, slo)] = spec.slos.items()
    assert name == "web-availability"
    assert slo.objective == pytest.approx(0.9995)
    assert slo.window == 28 * 86400
    assert slo.description == "Web answers"
    assert slo.sli is not None
    # Ranges become $window; a range inside a label value is text and stays.
    assert slo.sli.bad == (
        'sum(rate(http_requests_total{job="web",code=~"5..",path="/x[5m]"}[$window]))'
    )
    assert slo.sli.total == 'sum(rate(http_requests_total{job="web"}[$window]))'
    assert not [n for n in notes if "range" in n]


def test_import_accepts_a_yaml_list_of_documents() -> None:
    as_list = yaml.safe_dump(documents(REFERENCED), sort_keys=False)
    assert as_list.startswith("- ")
    spec, _ = imported(as_list)
    assert list(spec.slos) == ["web-availability"]


def test_import_datadog_source_is_skipped_with_a_note() -> None:
    datadog = (
        INLINE.replace("type: Prometheus", "type: Datadog")
        .replace("name: foo-slo", "name: foo-datadog")
        .replace("service: foo", "service: web")
    )
    with pytest.raises(UsageError, match="Datadog"):
        import_openslo(datadog)
    spec, notes = imported(REFERENCED + "---\n" + datadog)
    assert list(spec.slos) == ["web-availability"]
    noted(notes, "foo-datadog", "Datadog", "not Prometheus", "skipped")


def test_import_threshold_metric_is_skipped_with_a_note() -> None:
    threshold = """\
apiVersion: openslo/v1
kind: SLI
metadata: {name: latency-p99}
spec:
  thresholdMetric:
    metricSource:
      type: Prometheus
      spec:
        query: histogram_quantile(0.99, sum by (le) (rate(x_bucket[5m])))
---
apiVersion: openslo/v1
kind: SLO
metadata: {name: web-latency}
spec:
  service: web
  indicatorRef: latency-p99
  timeWindow: [{duration: 1w, isRolling: true}]
  budgetingMethod: Occurrences
  objectives: [{op: lte, value: 0.3, target: 0.99}]
"""
    spec, notes = imported(REFERENCED + "---\n" + threshold)
    assert list(spec.slos) == ["web-availability"]
    noted(notes, "web-latency", "thresholdMetric", "skipped")
    with pytest.raises(UsageError, match="thresholdMetric"):
        import_openslo(threshold)


def test_import_calendar_window_and_timeslices() -> None:
    text = INLINE.replace(
        "    - duration: 28d\n      isRolling: true\n",
        "    - duration: 1M\n      calendar:\n        startTime: 2022-01-01 12:00:00\n"
        "        timeZone: America/New_York\n",
    ).replace("budgetingMethod: Occurrences", "budgetingMethod: Timeslices")
    spec, notes = imported(text)
    assert spec.slos["foo-slo"].window == 30 * 86400
    noted(notes, "calendar-aligned", "1M", "rolling 30d")
    noted(notes, "budgetingMethod 'Timeslices'", "Occurrences")


def test_import_two_objectives_takes_the_first() -> None:
    text = INLINE.replace(
        "      target: 0.98\n", "      target: 0.98\n    - displayName: Bar\n      target: 0.999\n"
    )
    spec, notes = imported(text)
    assert spec.slos["foo-slo"].objective == 0.98
    noted(notes, "2 objectives", "first")


def test_import_labels_annotations_and_data_sources_are_noted() -> None:
    text = INLINE.replace(
        "  displayName: Foo SLO\n",
        "  displayName: Foo SLO\n  labels: {team: [a, b]}\n  annotations: {openslo.com/key: v}\n",
    )
    data_source = """\
apiVersion: openslo/v1
kind: DataSource
metadata: {name: prometheus-datasource}
spec:
  type: Prometheus
  connectionDetails: {url: "http://prom:9090"}
"""
    _, notes = imported(text + "---\n" + data_source)
    noted(notes, "metadata.labels", "team")
    noted(notes, "metadata.annotations", "openslo.com/key")
    noted(notes, "DataSource 'prometheus-datasource'", "connection details")


def test_import_source_type_from_a_data_source() -> None:
    text = INLINE.replace("            type: Prometheus\n", "")
    with pytest.raises(UsageError, match="type"):
        import_openslo(text)
    data_source = (
        "apiVersion: openslo/v1\nkind: DataSource\nmetadata: {name: prometheus-datasource}\n"
        "spec: {type: Prometheus}\n"
    )
    spec, _ = imported(data_source + "---\n" + text)
    assert list(spec.slos) == ["foo-slo"]


ALERTS = """\
---
apiVersion: openslo/v1
kind: AlertCondition
metadata: {name: fast-burn}
spec:
  severity: page
  condition: {kind: burnrate, op: gt, threshold: 14.4, lookbackWindow: 1h, alertAfter: 5m}
---
apiVersion: openslo/v1
kind: AlertCondition
metadata: {name: cpu-usage-breach}
spec:
  severity: page
  condition: {kind: burnrate, threshold: 2, lookbackWindow: 1h, alertAfter: 5m}
---
apiVersion: openslo/v1
kind: AlertPolicy
metadata: {name: fast}
spec:
  alertWhenBreaching: true
  conditions: [{conditionRef: fast-burn}]
  notificationTargets: [{targetRef: OnCallDevopsMailNotification}]
---
apiVersion: openslo/v1
kind: AlertPolicy
metadata: {name: AlertPolicy}
spec:
  conditions: [{conditionRef: cpu-usage-breach}]
  notificationTargets: [{targetRef: OnCallDevopsMailNotification}]
---
apiVersion: openslo/v1
kind: AlertNotificationTarget
metadata: {name: OnCallDevopsMailNotification}
spec: {target: email}
"""


def test_import_burn_rate_alert_policies() -> None:
    text = (
        INLINE.replace("duration: 28d", "duration: 30d")
        + "  alertPolicies:\n    - alertPolicyRef: fast\n    - AlertPolicy\n"
        + "    - kind: AlertPolicy\n      metadata: {name: inline-slow}\n      spec:\n"
        + "        conditions:\n          - kind: AlertCondition\n"
        + "            metadata: {name: slow-burn}\n"
        + "            spec:\n              severity: ticket\n"
        + "              condition: {kind: burnrate, op: gt, threshold: 1, "
        + "lookbackWindow: 3d, alertAfter: 30m}\n"
        + "        notificationTargets: [{targetRef: OnCallDevopsMailNotification}]\n"
        + ALERTS
    )
    spec, notes = imported(text)
    alerting = spec.slos["foo-slo"].alerting
    assert alerting is not None
    assert (alerting.page, alerting.ticket) == (True, True)
    assert (alerting.page_for, alerting.ticket_for) == (300, 1800)
    noted(notes, "cpu-usage-breach", "resembles none", "page 14.4 over 1h")
    [target_note] = noted(notes, "notification targets")
    assert "OnCallDevopsMailNotification" in target_note
    assert not [n for n in notes if "no alertPolicies" in n]


def test_import_only_unmappable_alerts_keeps_the_defaults() -> None:
    text = INLINE + "  alertPolicies: [{alertPolicyRef: AlertPolicy}, {alertPolicyRef: gone}]\n"
    spec, notes = imported(text + ALERTS)
    assert spec.slos["foo-slo"].alerting is None
    noted(notes, "AlertPolicy 'gone'", "not in the documents")
    noted(notes, "no alert condition could be mapped")
    noted(notes, "AlertPolicy 'fast'", "not used")


def test_import_skips_other_services_and_invalid_objectives() -> None:
    other = INLINE.replace("name: foo-slo", "name: other").replace("service: foo", "service: x")
    bad_target = INLINE.replace("name: foo-slo", "name: too-high").replace(
        "target: 0.98", "target: 1.5"
    )
    spec, notes = imported(
        SERVICE.replace("name: web", "name: foo")
        + "---\n"
        + INLINE
        + "---\n"
        + other
        + "---\n"
        + bad_target
    )
    assert list(spec.slos) == ["foo-slo"]
    noted(notes, "SLO 'other'", "service 'x'")
    noted(notes, "SLO 'too-high'", "no usable target")


def test_import_keeps_dollar_braces_literal() -> None:
    text = INLINE.replace('host="*"', 'host="${HOST}"')
    spec_text, _ = import_openslo(text)
    sli = parse_spec(spec_text).slos["foo-slo"].sli
    assert sli is not None
    assert sli.total is not None
    assert 'host="${HOST}"' in sli.total


def test_import_notes_are_in_the_spec_text_as_comments() -> None:
    spec_text, notes = import_openslo(INLINE)
    assert notes
    comments = [line for line in spec_text.splitlines() if line.startswith("#  - ")]
    assert len(comments) == len(notes)


def test_import_skips_other_versions_with_a_note() -> None:
    old = INLINE.replace("openslo/v1", "openslo/v1alpha").replace("foo-slo", "old-slo")
    _, notes = imported(INLINE + "---\n" + old)
    noted(notes, "'openslo/v1alpha'", "skipped")
    with pytest.raises(UsageError, match="not OpenSLO v1"):
        import_openslo(old)


# --------------------------------------------------------------------------------------------
# Garbage


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   \n",
        "null",
        "42",
        "- 1\n- 2\n",
        "{a: [}",
        "key: value\n\tbad: tab\n",
        "\x00\x01binary",
        "a: 2022-13-45\n",
        "x: !!python/object/apply:os.system [echo]\n",
        "a: &a [*a]\n",
        "[" * 5000,
        "kind: SLO\nmetadata: {name: x}\n",
        "apiVersion: openslo/v1\nkind: SLO\n",
        "apiVersion: openslo/v1\nkind: SLO\nmetadata: {name: x}\n",
        "apiVersion: openslo/v1\nkind: Service\nmetadata: {name: x}\n",
        "apiVersion: openslo/v1\nkind: Widget\nmetadata: {name: x}\n",
        "apiVersion: openslo/v1\nkind: SLO\nmetadata: {name: x}\nspec: [1, 2]\n",
        "apiVersion: openslo/v1\nkind: SLO\nmetadata: {name: x}\nspec: {indicator: 3}\n",
        "apiVersion: openslo/v1\nkind: SLO\nmetadata: {name: [x]}\nspec: {}\n",
        INLINE.replace("target: 0.98", "target: .inf"),
        INLINE.replace("target: 0.98", "target: 1e999999"),
        INLINE.replace("target: 0.98", "targetPercent: 100"),
        INLINE.replace("duration: 28d", "duration: soon"),
        INLINE.replace("duration: 28d", "duration: 0d"),
        INLINE.replace("duration: 28d", "duration: " + "9" * 400 + "d"),
        INLINE.replace("duration: 28d", "duration: " + "9" * 5000 + "d"),
        INLINE.replace("query: localhost", "query: [1, 2]\n              x: localhost"),
        INLINE.replace("ratioMetric:", "ratioMetric:\n        raw: {}"),
    ],
)
def test_garbage_is_a_usage_error(text: str) -> None:
    with pytest.raises(UsageError) as info:
        import_openslo(text)
    assert str(info.value)


@pytest.mark.parametrize(
    "field",
    [
        "timeWindow: 5",
        "timeWindow: [{duration: 7d, isRolling: false}]",
        "objectives: x",
        "alertPolicies: 3",
        "alertPolicies: [{alertPolicyRef: [1]}]",
        "alertPolicies: [{kind: AlertPolicy, spec: {conditions: 7, notificationTargets: x}}]",
        "alertPolicies: [{kind: AlertPolicy, spec: {conditions: [{spec: {condition: 1}}]}}]",
        "budgetingMethod: [1]",
        "description: 12",
    ],
)
def test_odd_fields_give_a_spec_or_a_usage_error(field: str) -> None:
    text = INLINE + "  " + field + "\n"
    try:
        spec_text, notes = import_openslo(text)
    except UsageError:
        return
    parse_spec(spec_text)
    assert all(isinstance(n, str) and n for n in notes)


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(
            st.sampled_from(
                [
                    "spec",
                    "ratioMetric",
                    "good",
                    "bad",
                    "total",
                    "metricSource",
                    "type",
                    "query",
                    "timeWindow",
                    "duration",
                    "objectives",
                    "target",
                    "targetPercent",
                    "indicator",
                    "alertPolicies",
                    "conditions",
                    "condition",
                ]
            ),
            inner,
            max_size=4,
        )
    ),
    max_leaves=12,
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(kind=st.sampled_from(sorted(KINDS)), spec=JSON)
def test_any_openslo_shaped_input_gives_a_spec_or_a_usage_error(kind: str, spec: Any) -> None:
    doc = {"apiVersion": "openslo/v1", "kind": kind, "metadata": {"name": "x"}, "spec": spec}
    text = yaml.safe_dump(doc) + "---\n" + INLINE.replace("foo-slo", "y")
    try:
        spec_text, _ = import_openslo(text)
    except UsageError:
        return
    parse_spec(spec_text)


@settings(max_examples=150, deadline=None)
@given(st.text(max_size=200))
def test_any_text_gives_a_spec_or_a_usage_error(text: str) -> None:
    try:
        spec_text, _ = import_openslo(text)
    except UsageError:
        return
    parse_spec(spec_text)
