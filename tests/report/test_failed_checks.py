"""Which check failed: each failed check is named by what it checks, with its count, in
results.json, the terminal, summary.md and report.html (k6's ✗ lines)."""

from __future__ import annotations

import html
import json
from pathlib import Path

import pytest

from slokit.spec import Check
from tests._support import UvicornApp, run_slokit

SPEC = """service: checks
target: {url}
scenarios:
  checked:
    executor: per-vu-iterations
    vus: 1
    iterations: 3
    flow:
      - get: /ok
        checks:
          - {{status: 200}}
          - {{body_contains: "nope"}}
          - {{json: $.id, exists: true}}
    gate: false
"""


def test_failed_checks_are_named_everywhere(tmp_path: Path) -> None:
    app = UvicornApp("asgi_app:app")
    try:
        spec = tmp_path / "slokit.yaml"
        spec.write_text(SPEC.format(url=app.url), encoding="utf-8")
        done = run_slokit("run", str(spec), "-w", "1", "--no-store", "--out", str(tmp_path / "o"))
    finally:
        app.kill()
    assert done.returncode == 0, done.stdout + done.stderr
    request = json.loads((tmp_path / "o" / "results.json").read_text())["requests"]["GET /ok"]
    assert request["failures"] == {"check": 3}
    assert request["checks"] == {"passed": 3, "failed": 6}
    assert request["check_failures"] == {'body contains "nope"': 3, "$.id exists": 3}
    line = 'GET /ok: ✗ body contains "nope": 3 of 3 responses'
    assert line in done.stdout
    assert "GET /ok: ✗ $.id exists: 3 of 3 responses" in done.stdout
    assert "status 200" not in done.stdout  # the check that passed is not listed
    assert f"- {line}" in (tmp_path / "o" / "summary.md").read_text(encoding="utf-8")
    report = (tmp_path / "o" / "report.html").read_text(encoding="utf-8")
    assert '<ul class="failed-checks">' in report
    assert f"<li>{line}</li>" in html.unescape(report)


@pytest.mark.parametrize(
    ("check", "label"),
    [
        ({"status": 200}, "status 200"),
        ({"status": [201, 200]}, "status in [200, 201]"),
        ({"body_contains": 'say "hi"'}, 'body contains "say \\"hi\\""'),
        ({"json": "$.a[0]", "equals": {"b": 1}}, '$.a[0] == {"b": 1}'),
        ({"json": "$.a", "equals": None}, "$.a == null"),
        ({"json": "$.a", "exists": False}, "$.a absent"),
        ({"json": "$.a"}, "$.a exists"),
        ({"event": "order"}, "event order"),
    ],
)
def test_a_check_describes_itself(check: dict[str, object], label: str) -> None:
    assert Check.model_validate(check).describe() == label
