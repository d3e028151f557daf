"""A warm-up never eats an iteration-bounded run, nor one that ends before its warm-up does.

Real ``slokit run`` against real uvicorn; the verdicts must count the requests that were sent.
"""

from __future__ import annotations

import json
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests._support import UvicornApp, run_slokit


@pytest.fixture(scope="module")
def server() -> Iterator[UvicornApp]:
    app = UvicornApp()
    try:
        yield app
    finally:
        app.kill()


def run(tmp_path: Path, spec: str, *args: str) -> tuple[int, dict[str, Any], str]:
    path = tmp_path / "slokit.yaml"
    path.write_text(textwrap.dedent(spec), encoding="utf-8")
    out = tmp_path / "out"
    done = run_slokit("run", str(path), "-w", "1", "-q", "--out", str(out), *args, cwd=tmp_path)
    results = json.loads((out / "results.json").read_text(encoding="utf-8"))
    return done.returncode, results, done.stdout + done.stderr


def test_spec_warmup_is_not_applied_to_per_vu_iterations(
    tmp_path: Path, server: UvicornApp
) -> None:
    code, results, output = run(
        tmp_path,
        f"""
        service: warm
        target: {server.url}
        warmup: 30s
        gates: [requests >= 29]
        scenarios:
          short:
            executor: per-vu-iterations
            vus: 1
            iterations: 29
            flow: [{{get: /}}]
        """,
    )
    sc = results["scenarios"]["short"]
    assert sc["total"]["count"] == 29, output
    assert sc["warmup_s"] == 0
    assert any("per-vu-iterations" in n for n in sc["notes"]), sc["notes"]
    assert code == 0, output


def test_a_run_shorter_than_its_own_warmup_is_judged_whole(
    tmp_path: Path, server: UvicornApp
) -> None:
    code, results, output = run(
        tmp_path,
        f"""
        service: warm
        target: {server.url}
        gates: [requests >= 5]
        scenarios:
          short:
            executor: per-vu-iterations
            vus: 1
            iterations: 5
            warmup: 30s
            flow: [{{get: /}}]
        """,
    )
    sc = results["scenarios"]["short"]
    assert sc["total"]["count"] == 5, output
    assert any("warm-up" in n and "not applied" in n for n in sc["notes"]), sc["notes"]
    assert code == 0, output
