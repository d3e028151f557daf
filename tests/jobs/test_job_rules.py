"""The spec's jobs: and queues: in slokit rules: job SLOs with burn-rate alerts, the
freshness, time-to-drain and oldest-job alerts with promtool tests (firing and not), a jobs row
in the dashboard, and located errors."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from slokit.errors import SpecError
from slokit.rules import dashboard, rule_groups
from slokit.spec import parse_spec
from tests._support import run_slokit
from tests.rules.test_rules import promtool

SPEC = """\
service: testboost
jobs:
  send-email: {queue: emails, duration: 30s, objective: 99%, success: 99.5%}
  purge-sessions: {freshness: 25h, severity: high}
queues:
  emails: {drain: 5m, max_age: 10m}
"""


def test_job_and_queue_slos_become_rules_whose_tests_pass(tmp_path: Path) -> None:
    spec = tmp_path / "slokit.yaml"
    spec.write_text(SPEC, encoding="utf-8")
    done = run_slokit("rules", str(spec), "--out", str(tmp_path / "rules.yml"), "--test")
    assert done.returncode == 0, done.stderr
    tool = promtool()
    for name in ("rules.yml",):
        checked = subprocess.run([tool, "check", "rules", str(tmp_path / name)],
                                 capture_output=True, text=True, timeout=60)  # fmt: skip
        assert checked.returncode == 0, checked.stdout + checked.stderr
    for name in ("rules.test.yml", "rules.alerts.test.yml"):
        tested = subprocess.run([tool, "test", "rules", str(tmp_path / name)],
                                capture_output=True, text=True, timeout=120)  # fmt: skip
        assert tested.returncode == 0, tested.stdout + tested.stderr
    rules = [r for g in rule_groups(parse_spec(SPEC)) for r in g["rules"]]
    alerts = {(r["alert"], r["labels"].get("slo") or r["labels"].get("queue")
               or r["labels"].get("job_name")) for r in rules if "alert" in r}  # fmt: skip
    assert {
        ("SLOFastBurn", "job-send-email-duration"),
        ("SLOFastBurn", "job-send-email-success"),
        ("SLOMetricsAbsent", "job-send-email-success"),
        ("JobStale", "purge-sessions"),
        ("QueueDrainSlow", "emails"),
        ("QueueJobTooOld", "emails"),
    } <= alerts
    duration = next(
        r["expr"] for r in rules
        if r.get("record") == "slokit:sli_error:ratio_rate5m"
        and r["labels"]["slo"] == "job-send-email-duration"
    )  # fmt: skip
    assert 'slokit_job_duration_seconds_bucket{job_name="send-email",le=~"30|30\\\\.0' in duration
    stale = next(r for r in rules if r.get("alert") == "JobStale")
    assert stale["expr"].endswith("> 90000")  # 25 h
    assert stale["labels"]["severity"] == "page"  # high -> page


def test_the_dashboard_gets_a_jobs_row() -> None:
    titles = [p["title"] for p in dashboard(parse_spec(SPEC))["panels"]]
    row = titles.index("Jobs and queues")
    assert titles[row + 1 :] == [
        "send-email: duration",
        "send-email: failures and retries",
        "purge-sessions: duration",
        "purge-sessions: failures and retries",
        "queue emails",
    ]


@pytest.mark.parametrize(
    ("block", "where", "says"),
    [
        ("jobs: {a: {queue: q}}\n", "jobs.a", "needs duration, success or freshness"),
        ("jobs: {a: {objective: 99%, success: 99%}}\n", "jobs.a.objective", "goes with duration"),
        ("jobs: {a: {freshness: soon}}\n", "jobs.a.freshness", ""),
        ("queues: {q: {}}\n", "queues.q", "needs drain or max_age"),
        ("alerts: {A: {when: 'queue_drain(q) < 5m'}}\n", "alerts.A.when", "queue_drain(NAME) >"),
    ],
)
def test_bad_job_and_queue_slos_are_located(block: str, where: str, says: str) -> None:
    with pytest.raises(SpecError) as caught:
        parse_spec("service: s\n" + block)
    problems = [str(p) for p in caught.value.problems]
    assert any(p.startswith(where) and says in p for p in problems), problems
