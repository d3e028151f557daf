"""The run history through the real CLI: real ``slokit run``s against real uvicorn."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any

import pytest

from tests._pg import pg_schema_url
from tests._support import UvicornApp, run_slokit
from tests.store.test_git import git, make_repo


def write_spec(folder: Path, target: str, *, ms: int = 2, gates: str = "[]") -> Path:
    """40 requests of GET /slow, each taking about ``ms`` milliseconds."""
    folder.mkdir(parents=True, exist_ok=True)
    spec = folder / "slokit.yaml"
    spec.write_text(
        textwrap.dedent(
            f"""
            service: history-test
            target: {target}
            gates: {gates}
            scenarios:
              smoke:
                executor: per-vu-iterations
                vus: 2
                iterations: 20
                flow: [{{get: "/slow?ms={ms}"}}]
            """
        ),
        encoding="utf-8",
    )
    return spec


def results(out: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((out / "results.json").read_text())
    return data


def slokit_json(*args: str, cwd: Path) -> Any:
    done = run_slokit(*args, "--json", cwd=cwd)
    assert done.returncode == 0, done.stdout + done.stderr
    return json.loads(done.stdout)


def test_max_regression_fails_a_real_regression(tmp_path: Path, shared_app: UvicornApp) -> None:
    gate = ("--max-regression", "p95=50%", "-w", "1", "-q")
    spec = write_spec(tmp_path, shared_app.url, ms=2)
    first = run_slokit("run", str(spec), *gate, "--out", str(tmp_path / "one"))
    assert first.returncode == 0, first.stdout + first.stderr
    assert "warning: no baseline yet" in first.stderr
    assert "recorded as run 1 in " in first.stdout
    assert (tmp_path / ".slokit" / ".gitignore").read_text().strip().endswith("*")

    spec = write_spec(tmp_path, shared_app.url, ms=40)  # same service and scenario, slower
    second = run_slokit("run", str(spec), *gate, "--out", str(tmp_path / "two"))
    assert second.returncode == 1, second.stdout + second.stderr
    name = "regression p95(GET /slow) <= +50% vs run 1"
    verdict = next(v for v in results(tmp_path / "two")["verdicts"] if v["name"] == name)
    assert (verdict["kind"], verdict["passed"], verdict["gated"]) == ("gate", False, True)
    assert verdict["observed"] > 0.5
    assert name in second.stdout  # in the terminal report too
    assert "baseline: run 1" in second.stderr

    listed = slokit_json("runs", "list", cwd=tmp_path)
    assert [(r["id"], r["status"], r["exit_code"]) for r in listed] == [
        (2, "fail", 1),
        (1, "pass", 0),
    ]
    shown = slokit_json("runs", "show", "last", cwd=tmp_path)
    assert name in [v["name"] for v in shown["verdicts"]]
    assert shown["requests"][0]["name"] == "GET /slow"
    again = run_slokit("runs", "show", "2", "--results", cwd=tmp_path)
    assert json.loads(again.stdout) == results(tmp_path / "two")

    compared = slokit_json("runs", "compare", "1", "2", cwd=tmp_path)
    p95 = compared["requests"][0]["metrics"]["p95"]
    assert compared["base"]["id"] == 1
    assert compared["new"]["id"] == 2
    assert p95["relative"] > 0.5
    assert p95["small_sample"] is True
    assert p95["reading"].startswith("changed by +")
    assert compared["requests"][0]["metrics"]["error_rate"]["reading"] == "no errors in either run"
    text = run_slokit("runs", "compare", "last-pass", "last", cwd=tmp_path)
    assert text.returncode == 0, text.stderr
    assert "GET /slow (40 -> 40)" in text.stdout
    assert "(small sample)" in text.stdout
    table = run_slokit("runs", "list", "--limit", "1", cwd=tmp_path)
    assert "history-test" in table.stdout
    assert "FAIL" in table.stdout


def test_fail_after_2_warns_once_then_fails(tmp_path: Path, shared_app: UvicornApp) -> None:
    spec = write_spec(tmp_path, shared_app.url, ms=5, gates='["p95(GET /slow) < 1ms"]')
    args = ("run", str(spec), "--fail-after", "2", "-w", "1", "-q")
    first = run_slokit(*args, "--out", str(tmp_path / "one"))
    assert first.returncode == 0, first.stdout + first.stderr
    assert "warning: p95(GET /slow) < 1ms failed (1 run(s) in a row)" in first.stderr
    assert "--fail-after 2" in first.stderr
    held = results(tmp_path / "one")
    assert (held["passed"], held["exit_code"]) == (True, 0)
    assert [(v["passed"], v["gated"]) for v in held["verdicts"]] == [(False, False)]

    second = run_slokit(*args, "--out", str(tmp_path / "two"))
    assert second.returncode == 1, second.stdout + second.stderr
    assert "failed 2 runs in a row: the run fails" in second.stderr
    assert results(tmp_path / "two")["exit_code"] == 1
    statuses = [r["status"] for r in slokit_json("runs", "list", cwd=tmp_path)]
    assert statuses == ["fail", "held"]


def test_labels_and_git_are_recorded(tmp_path: Path, shared_app: UvicornApp) -> None:
    repo = tmp_path / "repo"
    commit = make_repo(repo, branch="perf-check")
    spec = write_spec(repo, shared_app.url)
    labels = ("--label", "env=ci", "--label", "pr=7")
    done = run_slokit("run", str(spec), *labels, "-w", "1", "-q")
    assert done.returncode == 0, done.stdout + done.stderr
    shown = slokit_json("runs", "show", "last", "--project", str(repo), cwd=tmp_path)
    assert shown["labels"] == {"env": "ci", "pr": "7"}
    assert shown["git"] == {"commit": commit, "branch": "perf-check"}
    assert shown["scenarios"] == ["smoke"]
    assert len(shown["spec_hash"]) == 64
    assert ".slokit" not in git(repo, "status", "--porcelain", "--untracked-files=all")
    by_label = slokit_json("runs", "list", "--label", "pr=7", "--project", str(repo), cwd=tmp_path)
    assert len(by_label) == 1
    assert slokit_json("runs", "list", "--label", "pr=8", cwd=repo) == []


def test_an_unreachable_store_keeps_the_results_and_the_exit_code(
    tmp_path: Path, shared_app: UvicornApp
) -> None:
    spec = write_spec(tmp_path, shared_app.url, gates='["p95 < 1us"]')
    out = tmp_path / "out"
    store = "postgresql://slokit:pw@127.0.0.1:1/runs"
    done = run_slokit("run", str(spec), "--store", store, "-w", "1", "-q", "--out", str(out))
    assert done.returncode == 1, done.stdout + done.stderr  # the gate's verdict, not an error
    assert results(out)["exit_code"] == 1
    assert "warning: run store unavailable: cannot open: PostgreSQL at" in done.stderr
    assert "this run was not recorded" in done.stderr
    assert "pw@" not in done.stderr
    assert "Traceback" not in done.stderr


def test_postgresql_store_from_the_environment(
    tmp_path: Path, shared_app: UvicornApp, pg_database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SLOKIT_STORE", pg_schema_url(pg_database))
    spec = write_spec(tmp_path, shared_app.url)
    done = run_slokit("run", str(spec), "-w", "1", "-q", "--label", "db=pg")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "recorded as run 1 in postgresql+psycopg://postgres@127.0.0.1:5432/" in done.stdout
    listed = slokit_json("runs", "list", "--service", "history-test", cwd=tmp_path)
    assert [(r["id"], r["labels"]) for r in listed] == [(1, {"db": "pg"})]
    assert not (tmp_path / ".slokit").exists()


def test_history_options_are_checked_before_any_load(tmp_path: Path) -> None:
    spec = write_spec(tmp_path, "http://127.0.0.1:9")  # nothing listens: no run may start
    for args, message in (
        (("--no-store", "--fail-after", "2"), "--no-store switches the run history off"),
        (("--max-regression", "p95=ten"), "the limit is a percentage"),
        (("--max-regression", "latency=10%"), "METRIC one of p50"),
        (("--baseline", "last-pass"), "give both"),
        (("--baseline", "yesterday", "--max-regression", "p95=5%"), "--baseline 'yesterday'"),
        (("--label", "novalue"), "expected KEY=VALUE"),
    ):
        done = run_slokit("run", str(spec), *args, "-q")
        assert done.returncode == 2, (args, done.stdout, done.stderr)
        assert message in done.stderr, (args, done.stderr)
    assert not (tmp_path / ".slokit").exists()


def test_runs_commands_without_history_say_what_to_do(tmp_path: Path) -> None:
    done = run_slokit("runs", "list", cwd=tmp_path)
    assert done.returncode == 3
    assert "no run history at" in done.stderr
    assert "slokit run SPEC" in done.stderr
    assert not (tmp_path / ".slokit").exists()
