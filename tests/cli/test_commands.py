"""The small commands through the real CLI: validate, schema, init, --version."""

from __future__ import annotations

import json
from pathlib import Path

from slokit import __version__
from tests._support import run_slokit

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
