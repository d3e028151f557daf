"""The JSON Schema for editors and the starter spec for ``slokit init``."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from slokit.spec import STARTER_SPEC, ConstantArrivalRate, ConstantVUs, json_schema, load_spec
from slokit.spec._units import DURATION_PATTERN


def walk(node: Any) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            found.append(item)
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return found


def test_json_schema_is_json() -> None:
    schema = json_schema()
    text = json.dumps(schema)
    assert json.loads(text) == schema
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["title"] == "slokit spec"
    assert schema["type"] == "object"
    assert schema["required"] == ["service"]
    assert schema["additionalProperties"] is False


def test_json_schema_leaves_out_base_dir() -> None:
    schema = json_schema()
    assert "base_dir" not in schema["properties"]
    assert "base_dir" not in json.dumps(schema)


def test_json_schema_unit_fields_take_units() -> None:
    defs = json_schema()["$defs"]
    duration = defs["ConstantVUs"]["properties"]["duration"]
    # A bare number is ambiguous (300: ms or s? 1: 1% or 100%?): the only number is 0.
    assert duration["anyOf"][1] == {"const": 0}
    assert re.match(duration["anyOf"][0]["pattern"], "250ms")
    assert not re.match(duration["anyOf"][0]["pattern"], "300")
    objective = defs["SLO"]["properties"]["objective"]
    assert objective["anyOf"][1] == {"const": 0}
    assert not re.match(objective["anyOf"][0]["pattern"], "1")
    rate = defs["ConstantArrivalRate"]["properties"]["rate"]
    assert re.match(rate["anyOf"][0]["pattern"], "200/s")
    max_body = defs["Guards"]["properties"]["max_body"]
    assert "1MiB" in json.dumps(max_body)


def test_every_pattern_in_the_schema_compiles() -> None:
    patterns = [n["pattern"] for n in walk(json_schema()) if isinstance(n.get("pattern"), str)]
    assert DURATION_PATTERN in patterns
    for pattern in patterns:
        re.compile(pattern)


def test_json_schema_writes_steps_as_verb_keys() -> None:
    step = json_schema()["$defs"]["Step"]
    props = step["properties"]
    assert {"get", "post", "put", "patch", "delete", "head", "options", "json"} <= set(props)
    assert "method" not in props
    assert "path" not in props
    assert "json_body" not in props
    assert {"required": ["get"]} in step["oneOf"]
    check = json_schema()["$defs"]["Check"]["properties"]
    assert "json" in check
    assert "json_path" not in check


def test_json_schema_writes_gates_and_routes_as_strings() -> None:
    defs = json_schema()["$defs"]
    text, mapping = defs["Gate"]["anyOf"]  # a gate string, or {gate: ..., abort_on_fail: ...}
    assert text["type"] == "string"
    assert "METRIC[(REQUEST)] OP VALUE" in text["description"]
    assert mapping["required"] == ["gate"]
    assert set(mapping["properties"]) == {"gate", "abort_on_fail", "delay_abort_eval"}
    assert defs["Route"]["type"] == "string"
    assert re.match(defs["Route"]["pattern"], "POST /api/orders")
    assert re.match(defs["Route"]["pattern"], "/items/{id}")


def test_json_schema_scenarios_are_a_tagged_union() -> None:
    scenarios = json_schema()["properties"]["scenarios"]["additionalProperties"]
    assert scenarios["discriminator"]["propertyName"] == "executor"
    assert set(scenarios["discriminator"]["mapping"]) == {
        "constant-vus",
        "ramping-vus",
        "per-vu-iterations",
        "constant-arrival-rate",
        "ramping-arrival-rate",
        "capacity",
    }


def test_starter_spec_loads_cleanly(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TARGET", raising=False)
    path = tmp_path / "slokit.yaml"
    path.write_text(STARTER_SPEC, encoding="utf-8")
    spec = load_spec(path)
    assert spec.service
    assert spec.target == "http://127.0.0.1:8000"
    assert {slo.kind for slo in spec.slos.values()} == {"availability", "latency"}
    assert spec.gates
    smoke, steady = spec.scenarios.values()
    assert isinstance(smoke, ConstantVUs)
    assert isinstance(steady, ConstantArrivalRate)
    assert steady.warmup is not None
    assert steady.warmup > 0


def test_starter_spec_target_follows_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    from slokit.spec import parse_spec

    monkeypatch.setenv("TARGET", "https://staging.example.com")
    assert parse_spec(STARTER_SPEC).target == "https://staging.example.com"


def test_starter_spec_is_commented() -> None:
    comments = [line for line in STARTER_SPEC.splitlines() if line.lstrip().startswith("#")]
    assert len(comments) >= 10
    assert isinstance(yaml.safe_load(STARTER_SPEC), dict)
