"""The experiment file: validated like the spec, checked against its spec before anything runs."""

from __future__ import annotations

from pathlib import Path

import pytest

from slokit.chaos import ChaosOptions, load_experiment, parse_experiment
from slokit.chaos._experiment import TOXIC_ATTRIBUTES
from slokit.chaos._model import _ATTRIBUTES
from slokit.chaos._runner import _plan
from slokit.demo import experiments, spec_path
from slokit.errors import SpecError, UsageError
from tests._support import run_slokit

GOOD = f"""
title: slow provider
spec: {spec_path()}
hypothesis: {{slos: [availability], window: 5s}}
load: {{scenario: mixed, duration: 20s}}
proxy: {{api: http://127.0.0.1:1}}
method:
  - {{at: 5s, for: 5s, proxy: provider, toxic: {{type: latency, attributes: {{latency: 400ms}}}}}}
  - {{at: 5s, for: 5s, http: {{route: "GET /api/quotes/{{sku}}", abort: 503, share: 20%}}}}
abort: [{{slo: availability, below: 90%, for: 3s}}, {{budget: 0.01%}}]
rollbacks: [{{reset_proxies: true}}, {{command: "true"}}]
"""


def test_a_good_experiment_reads_in_spec_units() -> None:
    e = parse_experiment(GOOD)
    toxic = e.method[0].toxic
    assert toxic is not None
    assert toxic.attributes == {"latency": 400}  # Toxiproxy's milliseconds
    assert toxic.stream == "downstream"
    assert toxic.toxicity == 1.0
    assert e.method[1].http is not None
    assert e.method[1].http.payload() == {
        "share": 0.2,
        "route": "GET /api/quotes/{sku}",
        "abort": 503,
    }
    assert e.abort[1].budget == pytest.approx(0.0001)
    assert e.faults_end == 10.0


def test_every_problem_is_reported_at_once_with_its_line() -> None:
    bad = """title: x
load: {scenaro: mixed}
method:
  - {at: 10s, for: -1s, toxic: {type: latncy}}
  - {at: 1s, proxy: p, toxic: {type: latency, attributes: {latency: fast, foo: 1}}}
  - {http: {share: 200%}}
  - {down: true, http: {abort: 503}}
abort: [{slo: a}]
rollbacks: [{}]
"""
    with pytest.raises(SpecError) as info:
        parse_experiment(bad, "bad.yaml")
    text = str(info.value)
    for fragment in (
        "load.scenaro (line 2): unknown field 'scenaro'; did you mean 'scenario'?",
        "method[0].toxic.type (line 4):",
        "did you mean 'latency'?",
        "method[0].for (line 4): invalid duration '-1s'",
        "method[1].toxic.attributes.foo (line 5): a latency toxic has no attribute 'foo'",
        "method[1].toxic.attributes.latency (line 5): invalid duration 'fast'",
        "method[2].http (line 6): an http fault needs abort",
        "method[2].http.share (line 6): invalid percentage '200%'",
        "method[3] (line 7): a fault needs exactly one of toxic, down, http, command; "
        "got down and http",
        "abort[0] (line 8): an SLO abort condition needs both slo and below",
        "rollbacks[0] (line 9): a rollback needs exactly one of",
        "a toxic or down fault needs a proxy: section",
    ):
        assert fragment in text, f"{fragment!r} not in:\n{text}"
    assert "problems in experiment" in text


def test_empty_and_missing_files_are_clear() -> None:
    with pytest.raises(SpecError, match="the experiment is empty"):
        parse_experiment("")
    with pytest.raises(SpecError, match="file not found"):
        load_experiment("/nonexistent/x.yaml")


def test_the_experiment_must_fit_its_spec(tmp_path: Path) -> None:
    text = GOOD.replace("slos: [availability]", "slos: [availabilty, quotes-errors]")
    text = text.replace("scenario: mixed", "scenario: mixd")
    with pytest.raises(UsageError) as info:
        _plan(parse_experiment(text), ChaosOptions(target="http://127.0.0.1:1"))
    message = str(info.value)
    assert (
        "hypothesis SLO 'availabilty' is not in the spec; did you mean 'availability'?" in message
    )
    assert "load scenario 'mixd' is not in the spec; did you mean 'mixed'?" in message
    assert "abort condition on 'availability', which is not in the hypothesis" in message


def test_the_load_must_outlast_the_faults_to_see_recovery() -> None:
    short = GOOD.replace("duration: 20s", "duration: 12s")
    with pytest.raises(UsageError, match=r"too soon to see recovery.*at least 20s"):
        _plan(parse_experiment(short), ChaosOptions(target="http://127.0.0.1:1"))


def test_bundled_experiments_are_valid_against_the_demo_spec() -> None:
    found = experiments()
    assert set(found) == {
        "provider-latency",
        "provider-cutoff",
        "provider-5xx",
        "provider-429",
        "quotes-503",
    }
    for path in found.values():
        plan = _plan(load_experiment(path), ChaosOptions(target="http://127.0.0.1:1"))
        assert set(plan.objectives) == {"availability", "quotes-errors"}


def test_toxic_attributes_match_the_proxy() -> None:
    assert {k: tuple(v) for k, v in TOXIC_ATTRIBUTES.items()} == _ATTRIBUTES


def test_cli_reports_a_bad_experiment_with_exit_2(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("title: x\nload: {scenario: mixed}\nmethod: []\n")
    done = run_slokit("chaos", str(path))
    assert done.returncode == 2
    assert "method (line 3)" in done.stderr
    assert "Traceback" not in done.stderr


def test_the_readme_example_is_a_valid_experiment(monkeypatch: pytest.MonkeyPatch) -> None:
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    section = readme.split("### The experiment file", 1)[1]
    example = section.split("```yaml\n", 1)[1].split("```", 1)[0]
    monkeypatch.setenv("SLOKIT_FAULT_TOKEN", "a-token-for-the-example")
    e = parse_experiment(example)
    assert [a.kind for a in e.method] == ["toxic", "down", "http", "command"]
    assert e.method[0].toxic is not None
    assert e.method[0].toxic.attributes == {"latency": 300, "jitter": 50}
    assert [r.label for r in e.rollbacks] == [
        "reset proxies",
        "clear http faults",
        "command docker unpause pg-primary",
    ]
