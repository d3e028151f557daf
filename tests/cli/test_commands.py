"""The small commands through the real CLI: validate, schema, init, --version."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from slokit import __version__
from tests._support import free_port, run_slokit

BAD = Path(__file__).parent.parent / "spec" / "bad"


def test_validate_accepts_a_good_spec(tmp_path: Path) -> None:
    spec = tmp_path / "slokit.yaml"
    spec.write_text("service: s\nslos:\n  availability: {objective: 99%}\n")
    done = run_slokit("validate", str(spec))
    assert done.returncode == 0, done.stderr
    assert "ok" in done.stdout
    assert "1 SLOs" in done.stdout


def test_validate_prints_every_problem_with_its_line_and_exits_2() -> None:
    done = run_slokit("validate", str(BAD / "bad_gates.yaml"))
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    lines = [line.strip() for line in done.stderr.splitlines() if line.strip().startswith("gates[")]
    assert len(lines) == 8
    assert lines[0].startswith("gates[0] (line 3): ")


def test_validate_handles_unreadable_input_without_a_traceback(tmp_path: Path) -> None:
    for name in ("empty.yaml", "not_utf8.yaml", "top_level_list.yaml", "unclosed_quote.yaml"):
        done = run_slokit("validate", str(BAD / name))
        assert done.returncode == 2, name
        assert "Traceback" not in done.stderr, name
        assert "is not valid" in done.stderr, name
    done = run_slokit("validate", str(tmp_path / "nope.yaml"))
    assert done.returncode == 2
    assert "nope.yaml" in done.stderr
    assert "Traceback" not in done.stderr


def test_unknown_key_gets_a_did_you_mean_hint(tmp_path: Path) -> None:
    spec = tmp_path / "slokit.yaml"
    spec.write_text("service: s\nslos:\n  a: {objectve: 99%}\n")
    done = run_slokit("validate", str(spec))
    assert done.returncode == 2
    assert "slos.a.objectve (line 3)" in done.stderr
    assert "objective" in done.stderr


def test_schema_is_json_describing_the_spec() -> None:
    done = run_slokit("schema")
    assert done.returncode == 0
    schema = json.loads(done.stdout)
    assert {"service", "slos", "scenarios", "gates"} <= set(schema["properties"])


def test_init_writes_a_spec_that_validates_and_never_overwrites(tmp_path: Path) -> None:
    done = run_slokit("init", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    spec = tmp_path / "slokit.yaml"
    assert spec.read_text().lstrip().startswith("#")  # commented for people
    assert run_slokit("validate", str(spec)).returncode == 0
    spec.write_text("mine")
    again = run_slokit("init", cwd=tmp_path)
    assert again.returncode == 2
    assert "--force" in again.stderr
    assert spec.read_text() == "mine"


def test_version() -> None:
    done = run_slokit("--version")
    assert done.returncode == 0
    assert __version__ in done.stdout


# -- validate refuses what run refuses, before any load (issue 13) --------------------------

_SCENARIO = """
scenarios:
  a:
    executor: per-vu-iterations
    vus: 1
    iterations: 1
"""


def _both(tmp_path: Path, body: str) -> tuple[subprocess.CompletedProcess[str], ...]:
    """validate and run of one spec, run against a port nobody listens on: a problem in the
    spec must win over "target not reachable" (exit 2, not 3)."""
    spec = tmp_path / "slokit.yaml"
    spec.write_text(f"service: s\ntarget: http://127.0.0.1:{free_port()}\n{body}")
    checked = run_slokit("validate", str(spec))
    ran = run_slokit("run", str(spec), "--no-store", "-q")
    return checked, ran


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        (_SCENARIO + "    data: {file: missing.csv}\n    flow: [{get: /}]\n", "missing.csv"),
        (_SCENARIO + "    script: nope.py:go\n", "nope.py does not exist"),
        (_SCENARIO + "    script: journeys.py:go\n", "has no function 'go'"),
        (_SCENARIO + "    flow: [{get: '/x/{{id}}'}]\n", "placeholder {{id}} has no column"),
        (_SCENARIO + "    flow: [{get: /, checks: [{json: '$$$['}]}]\n", "JSON path '$$$['"),
        (_SCENARIO + "    flow: [{get: 'http://u:p@127.0.0.1:1/'}]\n", "credentials in the URL"),
        (_SCENARIO + '    headers: {X: "a\\r\\nB: c"}\n    flow: [{get: /}]\n', "line break"),
        (_SCENARIO + "    flow: [{get: 'http://127.0.0.1:99999/'}]\n", "between 1 and 65535"),
    ],
)
def test_validate_and_run_refuse_the_same_spec_before_load(
    tmp_path: Path, body: str, fragment: str
) -> None:
    (tmp_path / "journeys.py").write_text("async def other(s):\n    pass\n")
    checked, ran = _both(tmp_path, body)
    for done in (checked, ran):
        assert done.returncode == 2, done.stderr
        assert "Traceback" not in done.stderr + done.stdout
        assert fragment in done.stderr
    assert "not reachable" not in ran.stderr


def test_run_refuses_a_bare_duration_like_a_gate(tmp_path: Path) -> None:
    spec = tmp_path / "slokit.yaml"
    spec.write_text(
        f"service: s\ntarget: http://127.0.0.1:{free_port()}\n{_SCENARIO}    flow: [{{get: /}}]\n"
    )
    done = run_slokit("run", str(spec), "--no-store", "-q", "-d", "10")
    assert done.returncode == 2
    assert "10ms or 10s?" in done.stderr


def test_run_bounds_workers(tmp_path: Path) -> None:
    spec = tmp_path / "slokit.yaml"
    spec.write_text(
        f"service: s\ntarget: http://127.0.0.1:{free_port()}\n{_SCENARIO}    flow: [{{get: /}}]\n"
    )
    done = run_slokit("run", str(spec), "--no-store", "-q", "-w", "100000")
    assert done.returncode == 2
    assert "--workers must be between 1 and 1024" in done.stderr


def test_a_spec_without_scenarios_validates_but_does_not_run(tmp_path: Path) -> None:
    spec = tmp_path / "slokit.yaml"
    spec.write_text("service: s\nslos:\n  a: {objective: 99%}\n")
    checked = run_slokit("validate", str(spec))
    assert checked.returncode == 0
    assert "nothing for `slokit run` to run" in checked.stdout
    ran = run_slokit("run", str(spec), "--no-store", "-q")
    assert ran.returncode == 2
    assert "the spec has no scenarios" in ran.stderr


def test_validate_reports_a_lone_surrogate_without_crashing(tmp_path: Path) -> None:
    spec = tmp_path / "slokit.yaml"
    spec.write_text('service: "a\\ud800"\n')
    done = run_slokit("validate", str(spec))
    assert done.returncode == 2
    assert "lone surrogate" in done.stderr
    assert "Traceback" not in done.stderr
