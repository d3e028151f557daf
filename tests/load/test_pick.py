"""Weighted mixes in YAML flows (Locust's ``@task(weight)``): a ``pick`` step runs one of
its choices per iteration, chosen by weight; a choice is a step or a sub-flow."""

from __future__ import annotations

import json
import os
import time
import urllib.request
from pathlib import Path

from slokit.load._flow import CompiledStep, Picker
from tests._support import UvicornApp, run_slokit
from tests.load.test_engine import results_of, write_spec

ITERATIONS = 4 * 250


def _hits(app: UvicornApp, key: str) -> int:
    with urllib.request.urlopen(f"{app.url}/count/{key}", timeout=5) as resp:
        return int(json.loads(resp.read())["hits"])


def test_a_pick_splits_the_iterations_by_weight(tmp_path: Path, shared_app: UvicornApp) -> None:
    key = f"pick{os.getpid()}{time.monotonic_ns()}"
    spec = write_spec(
        tmp_path,
        f"""
        service: mix
        target: {shared_app.url}
        gates:
          - p95(GET /items/1) < 10s      # sent only by one choice: still a planned request
        scenarios:
          mix:
            executor: per-vu-iterations
            vus: 4
            iterations: 250
            flow:
              - get: /ok
              - pick:
                  - {{weight: 3, get: /items/3}}
                  - weight: 1
                    flow:
                      - post: /count/{key}
                      - get: /items/1
        """,
    )
    out = tmp_path / "out"
    done = run_slokit("run", str(spec), "-w", "2", "--no-store", "-q", "--out", str(out))
    assert done.returncode == 0, done.stdout + done.stderr
    sc = results_of(out)["scenarios"]["mix"]
    requests = sc["requests"]
    assert sc["iterations"] == ITERATIONS
    assert requests["GET /ok"]["count"] == ITERATIONS
    heavy = requests["GET /items/3"]["count"]
    light = requests[f"POST /count/{key}"]["count"]
    assert heavy + light == ITERATIONS  # exactly one choice per iteration
    assert requests["GET /items/1"]["count"] == light  # a sub-flow runs whole
    assert _hits(shared_app, key) == light  # and the server saw each of its posts
    # 3:1 is 75 %; 1,000 draws stray from it by 1.4 points (one sigma): 6 points is 4.4.
    assert abs(heavy / ITERATIONS - 0.75) < 0.06, heavy
    (gate,) = [v for v in sc["verdicts"] if v["name"] == "p95(GET /items/1) < 10s"]
    assert gate["passed"] is True


def test_nested_picks_and_choices_by_weight_in_an_open_model(
    tmp_path: Path, shared_app: UvicornApp
) -> None:
    spec = write_spec(
        tmp_path,
        f"""
        service: nested
        target: {shared_app.url}
        scenarios:
          open:
            executor: constant-arrival-rate
            rate: 100
            duration: 2s
            max_vus: 1
            flow:
              - pick:
                  - weight: 1
                    flow:
                      - pick:
                          - {{get: "/slow?ms=30"}}
                          - {{get: /items/7}}
                  - {{weight: 1, get: /items/8}}
        """,
    )
    out = tmp_path / "out"
    done = run_slokit("run", str(spec), "-w", "1", "--no-store", "-q", "--out", str(out))
    assert done.returncode == 0, done.stdout + done.stderr
    requests = results_of(out)["scenarios"]["open"]["requests"]
    assert {"GET /slow", "GET /items/7", "GET /items/8"} <= set(requests)
    # One VU and a 30 ms choice: some arrivals found it busy. They were dropped before a
    # pick chose, so they belong to the iteration, not to any request of a choice.
    dropped = requests["iteration"]["dropped"]
    assert dropped > 0
    sent = sum(r["count"] for n, r in requests.items() if n != "iteration")
    assert sent + dropped == 200


def test_a_placeholder_in_a_choice_is_checked_where_it_is(tmp_path: Path) -> None:
    spec = write_spec(
        tmp_path,
        """
        service: p
        target: http://127.0.0.1:9
        scenarios:
          a:
            executor: constant-vus
            vus: 1
            duration: 1s
            flow:
              - pick:
                  - {get: /ok}
                  - weight: 2
                    flow:
                      - get: /ok
                      - get: "/items/{{sku}}"
        """,
    )
    done = run_slokit("validate", str(spec))
    assert done.returncode == 2
    assert "scenarios.a.flow[0].pick[1].flow[1]" in done.stderr
    assert "placeholder {{sku}} has no column" in done.stderr


def _step(name: str) -> CompiledStep:
    return CompiledStep(
        name=name,
        method="GET",
        path="/",
        ok_status=None,
        checks=(),
        think=0.0,
        prepared=None,
        url="http://127.0.0.1/",
        headers={},
        body=None,
        is_json=False,
    )


def test_the_picker_maps_draws_onto_the_weights() -> None:
    a, b, c = _step("a"), _step("b"), _step("c")
    picker = Picker.of([3.0, 1.0, 0.5], [[a], [b], [c]])
    # Cumulative 3, 4, 4.5 over a total of 4.5.
    assert picker.choose(0.0) == (a,)
    assert picker.choose(2.9 / 4.5) == (a,)
    assert picker.choose(3.0 / 4.5) == (b,)
    assert picker.choose(3.99 / 4.5) == (b,)
    assert picker.choose(4.2 / 4.5) == (c,)
    assert picker.choose(0.999999999) == (c,)
    assert not a.special
    assert CompiledStep.of_pick(picker).special
