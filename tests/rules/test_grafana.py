"""The Grafana dashboard: its structure (no Grafana here), its PromQL (promtool's verdict)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from slokit.demo import spec_path
from slokit.rules._grafana import (
    BURN_RATE_WINDOWS,
    DATASOURCE,
    SCHEMA_VERSION,
    dashboard,
    render_dashboard,
)
from slokit.rules._rules import burn_conditions, describe_slo, rule_groups
from slokit.rules._sli import prom_duration
from slokit.spec import Spec, load_spec, parse_spec

ORDERS_SPEC = """
service: orders-api
prometheus: {selector: 'job="orders-api",env=~"prod|staging"'}
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
  checkout:
    objective: 99.5%
    window: 7d
    sli:
      good: 'sum(rate(checkout_ok_total{shop="eu"}[$window]))'
      total: 'sum(rate(checkout_total{shop="eu"}[$window]))'
"""

# Quotes and backslashes in names and routes must come out as valid PromQL.
ODD_SPEC = r"""
service: 'shop "eu" \ main'
slos:
  'odd "name"':
    route: '/files/{rest:path}'
    objective: 97%
    window: 1d
    latency: 1.5s
  any-method:
    route: /items/{id}
    objective: 99%
    window: 2h
"""

PANEL_TYPES = {"row", "stat", "gauge", "timeseries"}


def demo_spec() -> Spec:
    return load_spec(spec_path())


def orders_spec() -> Spec:
    return parse_spec(ORDERS_SPEC)


def odd_spec() -> Spec:
    return parse_spec(ODD_SPEC)


SPECS = [
    pytest.param(demo_spec, id="demo"),
    pytest.param(orders_spec, id="orders"),
    pytest.param(odd_spec, id="odd"),
]


@pytest.fixture(params=SPECS)
def spec(request: pytest.FixtureRequest) -> Spec:
    build = request.param
    built = build()
    assert isinstance(built, Spec)
    return built


def load(spec: Spec, **kw: Any) -> dict[str, Any]:
    """The dashboard as Grafana receives it: parsed back from the rendered JSON."""
    found = json.loads(render_dashboard(spec, **kw))
    assert isinstance(found, dict)
    return found


def all_panels(model: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every panel, those inside collapsed rows included."""
    for panel in model["panels"]:
        yield panel
        yield from panel.get("panels", [])


def all_targets(model: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for panel in all_panels(model):
        yield from panel.get("targets", [])


def balanced(expr: str) -> bool:
    """Brackets pair up outside string literals ("...", '...', `...`)."""
    pairs = {")": "(", "]": "[", "}": "{"}
    stack: list[str] = []
    quote: str | None = None
    escaped = False
    for char in expr:
        if quote is not None:
            if escaped:
                escaped = False
            elif char == "\\" and quote != "`":
                escaped = True
            elif char == quote:
                quote = None
        elif char in "\"'`":
            quote = char
        elif char in "([{":
            stack.append(char)
        elif char in pairs and (not stack or stack.pop() != pairs[char]):
            return False
    return not stack and quote is None


def overlap(a: dict[str, int], b: dict[str, int]) -> bool:
    return (
        a["x"] < b["x"] + b["w"]
        and b["x"] < a["x"] + a["w"]
        and a["y"] < b["y"] + b["h"]
        and b["y"] < a["y"] + a["h"]
    )


def slo_rows(model: dict[str, Any]) -> list[tuple[dict[str, Any], list[dict[str, Any]]]]:
    """Each row after the service row, with the panels under it."""
    rows: list[tuple[dict[str, Any], list[dict[str, Any]]]] = []
    for panel in model["panels"]:
        if panel["type"] == "row":
            rows.append((panel, list(panel.get("panels", []))))
        else:
            rows[-1][1].append(panel)
    return rows[1:]


def threshold_values(panel: dict[str, Any]) -> list[float]:
    steps = panel["fieldConfig"]["defaults"]["thresholds"]["steps"]
    return [step["value"] for step in steps if step["value"] is not None]


# -- the dashboard as a whole ------------------------------------------------------------


def test_dashboard_metadata(spec: Spec) -> None:
    model = load(spec)
    assert model["schemaVersion"] == SCHEMA_VERSION == 39
    assert model["id"] is None  # Grafana's import assigns its own
    assert model["time"] == {"from": "now-6h", "to": "now"}
    assert model["refresh"] == "1m"
    assert model["tags"] == ["slokit", "slo"]
    assert model["title"] == f"{spec.service} SLOs"
    assert re.fullmatch(r"[A-Za-z0-9_-]{1,40}", model["uid"])
    assert "slokit rules" in model["description"]


def test_datasource_is_a_prometheus_variable(spec: Spec) -> None:
    model = load(spec)
    variables = [v for v in model["templating"]["list"] if v["name"] == "datasource"]
    assert len(variables) == 1
    assert variables[0]["type"] == "datasource"
    assert variables[0]["query"] == "prometheus"
    assert DATASOURCE == {"type": "prometheus", "uid": "${datasource}"}
    for panel in all_panels(model):
        if panel["type"] != "row":
            assert panel["datasource"] == DATASOURCE, panel["title"]
    for target in all_targets(model):
        assert target["datasource"] == DATASOURCE


def test_panels_have_unique_ids_valid_types_and_targets(spec: Spec) -> None:
    model = load(spec)
    panels = list(all_panels(model))
    ids = [panel["id"] for panel in panels]
    assert all(isinstance(i, int) and not isinstance(i, bool) for i in ids)
    assert len(set(ids)) == len(ids)
    for panel in panels:
        assert panel["type"] in PANEL_TYPES
        assert panel["title"]
        targets = panel.get("targets", [])
        if panel["type"] == "row":
            assert targets == []
            continue
        assert targets, panel["title"]
        assert [t["refId"] for t in targets] == [chr(ord("A") + i) for i in range(len(targets))]


def test_grid_positions_fit_and_never_overlap(spec: Spec) -> None:
    panels = list(all_panels(load(spec)))
    for panel in panels:
        grid = panel["gridPos"]
        assert set(grid) == {"x", "y", "w", "h"}
        assert all(type(grid[k]) is int for k in grid)
        assert grid["x"] >= 0
        assert grid["w"] >= 1
        assert grid["x"] + grid["w"] <= 24
        assert grid["y"] >= 0
        assert grid["h"] >= 1
        if panel["type"] == "row":
            assert (grid["x"], grid["w"], grid["h"]) == (0, 24, 1)
    for i, a in enumerate(panels):
        for b in panels[i + 1 :]:
            assert not overlap(a["gridPos"], b["gridPos"]), (a["title"], b["title"])


def test_panels_are_laid_out_top_to_bottom(spec: Spec) -> None:
    """Grafana lists panels in order; rows own what follows them, so order must follow y."""
    positions = [(p["gridPos"]["y"], p["gridPos"]["x"]) for p in load(spec)["panels"]]
    assert positions == sorted(positions)


def test_every_expr_is_non_empty_and_balanced(spec: Spec) -> None:
    targets = list(all_targets(load(spec)))
    assert targets
    for target in targets:
        expr = target["expr"]
        assert isinstance(expr, str)
        assert expr.strip()
        assert balanced(expr), expr


def test_balanced_checker_is_not_vacuous() -> None:
    assert balanced('sum(rate(x{a="(}"}[5m]))')
    assert not balanced("sum(rate(x[5m])")
    assert not balanced("sum(rate(x[5m)))")
    assert not balanced('x{a="b}')


# -- rows ----------------------------------------------------------------------------------


def test_service_row_comes_first(spec: Spec) -> None:
    model = load(spec)
    first = model["panels"][0]
    assert first["type"] == "row"
    assert first["gridPos"]["y"] == 0
    assert spec.service in first["title"]
    service = model["panels"][1:4]
    assert [p["title"] for p in service] == [
        "Request rate by route",
        "Error rate (5xx share)",
        "Latency",
    ]
    exprs = [[t["expr"] for t in p["targets"]] for p in service]
    assert exprs[0] == [
        "sum by (route) (rate(http_requests_total"
        + (f"{{{spec.prometheus.selector}}}" if spec.prometheus.selector else "")
        + "[$__rate_interval]))"
    ]
    assert 'status=~"5.."' in exprs[1][0]
    assert [p["fieldConfig"]["defaults"]["unit"] for p in service] == ["reqps", "percentunit", "s"]
    assert [t["legendFormat"] for t in service[2]["targets"]] == ["p50", "p95", "p99"]
    for q, expr in zip(("0.5", "0.95", "0.99"), exprs[2], strict=True):
        assert expr.startswith(f"histogram_quantile({q}, sum by (le) (rate(")
        assert "http_request_duration_seconds_bucket" in expr


def test_one_row_per_slo_in_spec_order(spec: Spec) -> None:
    rows = slo_rows(load(spec))
    assert len(rows) == len(spec.slos)
    for (row, panels), (name, slo) in zip(rows, spec.slos.items(), strict=True):
        assert row["title"] == f"{name}: {describe_slo(slo)}"
        types = [p["type"] for p in panels]
        assert types == ["stat", "gauge", "timeseries", "timeseries", "timeseries"]
        assert [p["title"] for p in panels][:4] == [
            "SLI vs objective",
            "Error budget remaining",
            "Budget burn-down",
            "Burn rate",
        ]


def test_slo_panels_read_the_recording_rules(spec: Spec) -> None:
    """Every slokit: series the dashboard reads is recorded by `slokit rules`, same labels."""
    recorded = {
        (rule["record"], rule["labels"]["slo"], rule["labels"]["service"])
        for group in rule_groups(spec)
        for rule in group["rules"]
        if "record" in rule
    }
    reference = re.compile(
        r'(slokit:[a-z_:0-9]+)\{slo="((?:[^"\\]|\\.)*)",service="((?:[^"\\]|\\.)*)"\}'
    )
    rows = slo_rows(load(spec))
    for (_, panels), name in zip(rows, spec.slos, strict=True):
        used = set()
        for panel in panels[:4]:
            for target in panel["targets"]:
                found = reference.findall(target["expr"])
                assert found, target["expr"]
                used |= {(m, json.loads(f'"{s}"'), json.loads(f'"{v}"')) for m, s, v in found}
        assert used <= recorded
        assert {slo for _, slo, _ in used} == {name}
        assert {service for _, _, service in used} == {spec.service}


def test_sli_stat_and_budget_gauge(spec: Spec) -> None:
    for (_, panels), slo in zip(slo_rows(load(spec)), spec.slos.values(), strict=True):
        stat, gauge, burn_down = panels[:3]
        window = prom_duration(slo.window)
        assert stat["targets"][0]["expr"].startswith(f"1 - slokit:sli_error:ratio_rate{window}{{")
        assert stat["fieldConfig"]["defaults"]["unit"] == "percentunit"
        steps = stat["fieldConfig"]["defaults"]["thresholds"]["steps"]
        assert steps == [
            {"color": "red", "value": None},
            {"color": "green", "value": pytest.approx(slo.objective)},
        ]
        for panel in (gauge, burn_down):
            assert panel["targets"][0]["expr"].startswith(
                "slokit:slo_error_budget_remaining:ratio{"
            )
            assert panel["fieldConfig"]["defaults"]["unit"] == "percentunit"
        defaults = gauge["fieldConfig"]["defaults"]
        assert defaults["min"] < 0  # an overspent budget is shown, not clipped at 0
        assert defaults["thresholds"]["steps"] == [
            {"color": "red", "value": None},
            {"color": "yellow", "value": 0},
            {"color": "green", "value": 0.25},
        ]


def test_burn_rate_panels_carry_the_alerting_factors(spec: Spec) -> None:
    for (_, panels), slo in zip(slo_rows(load(spec)), spec.slos.values(), strict=True):
        burn = panels[3]
        budget = 1 - slo.objective
        assert [t["legendFormat"] for t in burn["targets"]] == ["1h", "6h", "1d", "3d"]
        for target, window in zip(burn["targets"], BURN_RATE_WINDOWS, strict=True):
            head, _, divisor = target["expr"].rpartition(" / ")
            assert head.startswith(f"slokit:sli_error:ratio_rate{prom_duration(window)}{{")
            assert float(divisor) == pytest.approx(budget)
        factors = sorted({round(c.factor, 6) for c in burn_conditions(slo.window)})
        assert factors, "every spec here has SLOs long enough for some burn alert"
        assert [round(v, 6) for v in threshold_values(burn)] == factors
        assert burn["fieldConfig"]["defaults"]["custom"]["thresholdsStyle"]["mode"] != "off"


def test_burn_rate_factors_of_a_30_day_slo() -> None:
    burn = slo_rows(load(orders_spec()))[0][1][3]
    assert threshold_values(burn) == [1, 3, 6, 14.4]


def test_latency_panels_carry_the_slo_threshold(spec: Spec) -> None:
    for (_, panels), slo in zip(slo_rows(load(spec)), spec.slos.values(), strict=True):
        last = panels[4]
        if slo.latency is None or slo.sli is not None:
            continue
        assert last["fieldConfig"]["defaults"]["unit"] == "s"
        assert threshold_values(last) == [pytest.approx(slo.latency)]
        assert last["fieldConfig"]["defaults"]["custom"]["thresholdsStyle"]["mode"] != "off"
        assert [t["legendFormat"] for t in last["targets"]] == ["p50", "p95", "p99"]
        assert slo.route is not None
        for target in last["targets"]:
            assert target["expr"].startswith("histogram_quantile(")
            assert "route=" in target["expr"]


def test_availability_and_custom_panels_show_their_traffic() -> None:
    spec = orders_spec()
    rows = dict(zip(spec.slos, (panels for _, panels in slo_rows(load(spec))), strict=True))
    whole = rows["availability"][4]
    assert whole["fieldConfig"]["defaults"]["unit"] == "reqps"
    assert whole["targets"][0]["expr"] == (
        'sum(rate(http_requests_total{job="orders-api",env=~"prod|staging"}[$__rate_interval]))'
    )
    orders = rows["orders-errors"][4]
    assert orders["title"] == "Requests POST /api/orders"
    assert orders["targets"][0]["expr"] == (
        'sum(rate(http_requests_total{job="orders-api",env=~"prod|staging",'
        'route="/api/orders",method="POST"}[$__rate_interval]))'
    )
    assert 'status=~"5.."' in orders["targets"][1]["expr"]
    custom = rows["checkout"][4]
    exprs = [t["expr"] for t in custom["targets"]]
    assert exprs[0] == 'sum(rate(checkout_total{shop="eu"}[$__rate_interval]))'
    assert "checkout_ok_total" in exprs[1]
    assert all("$window" not in e for e in exprs)


def test_a_route_for_any_method_has_no_method_matcher() -> None:
    spec = odd_spec()
    panel = slo_rows(load(spec))[1][1][4]
    assert 'route="/items/{id}"' in panel["targets"][0]["expr"]
    assert "method=" not in panel["targets"][0]["expr"]


# -- determinism and options ---------------------------------------------------------------


def test_output_is_deterministic(spec: Spec) -> None:
    assert render_dashboard(spec) == render_dashboard(spec)
    assert dashboard(spec) == dashboard(spec)
    # A fresh parse of the same spec (a different process would see this), same JSON.
    rebuilt = parse_spec(yaml.safe_dump(spec.model_dump(mode="json"), sort_keys=False))
    assert render_dashboard(rebuilt) == render_dashboard(spec)


def test_uid_follows_the_service_name() -> None:
    spec = orders_spec()
    renamed = spec.model_copy(update={"service": "orders-api-2"})
    assert dashboard(spec)["uid"] == dashboard(orders_spec())["uid"]
    assert dashboard(spec)["uid"] != dashboard(renamed)["uid"]
    long = spec.model_copy(update={"service": "x" * 200})
    assert len(dashboard(long)["uid"]) <= 40
    assert dashboard(spec.model_copy(update={"service": "ÄÖÜ"}))["uid"].startswith("slokit-")


def test_title_and_uid_can_be_given() -> None:
    model = load(orders_spec(), title="Orders", uid="orders-slos")
    assert (model["title"], model["uid"]) == ("Orders", "orders-slos")


def test_render_is_the_model_as_indented_json() -> None:
    spec = orders_spec()
    text = render_dashboard(spec)
    assert json.loads(text) == dashboard(spec)
    assert text.startswith('{\n  "')


def test_a_spec_without_slos_has_just_the_service_row() -> None:
    model = load(parse_spec("service: bare\n"))
    assert [p["type"] for p in model["panels"]] == ["row", "timeseries", "timeseries", "timeseries"]


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["99%", "99.9%", "95%", "50%"]),
            st.sampled_from(["1h", "1d", "7d", "30d"]),
            st.sampled_from([None, "GET /a", "/b/{id}"]),
            st.sampled_from([None, "250ms", "2s"]),
        ),
        max_size=6,
    )
)
def test_any_spec_lays_out_without_overlap(
    slos: list[tuple[str, str, str | None, str | None]],
) -> None:
    body = {
        f"slo{i}": {
            "objective": objective,
            "window": window,
            **({"route": route} if route else {}),
            **({"latency": latency} if latency else {}),
        }
        for i, (objective, window, route, latency) in enumerate(slos)
    }
    spec = parse_spec(yaml.safe_dump({"service": "s", "slos": body}))
    model = load(spec)
    panels = list(all_panels(model))
    assert len(panels) == 4 + 6 * len(slos)
    assert len({p["id"] for p in panels}) == len(panels)
    for i, a in enumerate(panels):
        assert a["gridPos"]["x"] + a["gridPos"]["w"] <= 24
        for b in panels[i + 1 :]:
            assert not overlap(a["gridPos"], b["gridPos"])


# -- promtool --------------------------------------------------------------------------------


def promtool() -> str:
    found = shutil.which("promtool")
    if found is None:
        if os.environ.get("CI"):
            pytest.fail("promtool is missing: .ci/run installs Debian's prometheus package")
        pytest.skip("promtool not installed (apt-get install prometheus)")
    return found


def check_rules(tool: str, exprs: list[str], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    rules = [{"record": f"slokit_grafana_test:expr_{i}", "expr": e} for i, e in enumerate(exprs)]
    path = tmp_path / "dashboard.rules.yaml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}))
    return subprocess.run(
        [tool, "check", "rules", str(path)], capture_output=True, text=True, timeout=60
    )


def test_promtool_accepts_every_expr(spec: Spec, tmp_path: Path) -> None:
    tool = promtool()
    # $__rate_interval is Grafana's; Prometheus needs a real range there.
    exprs = [t["expr"].replace("$__rate_interval", "5m") for t in all_targets(load(spec))]
    done = check_rules(tool, exprs, tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr


def test_promtool_check_is_not_vacuous(tmp_path: Path) -> None:
    tool = promtool()
    done = check_rules(tool, ['sum(rate(x{a="b"}[5m])'], tmp_path)
    assert done.returncode != 0
