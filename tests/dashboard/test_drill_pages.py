"""Recorded drills in the store and on the dashboard: the overview's last drill per name, and
one drill's RTO/RPO history (chart and table), on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from pathlib import Path

import pytest

from slokit.drill import DrillJournal, GateResult
from slokit.store import open_store
from tests.dashboard.conftest import START, running_dashboard
from tests.store.conftest import pg_schema_url


def _journal(n: int, rto: float, lost: int, status: str = "passed") -> DrillJournal:
    journal = DrillJournal(
        title="PostgreSQL primary crash + promote replica",
        name="pg-failover",
        source="drills/pg.yaml",
        started=START + timedelta(days=n),
    )
    journal.ended = journal.started + timedelta(minutes=2)
    journal.status = status
    journal.t_fail, journal.t_detect, journal.t_restored = 10.0, 10.5, 10.0 + rto
    journal.detected_by = "writer"
    journal.rpo = {"rpo_s": 0.25 * lost, "lost": list(range(lost)), "lost_writes": lost,
                   "error": None}  # fmt: skip
    journal.gates = [GateResult("rto < 60s", rto < 60, rto, f"measured {rto:g}s")]
    if status != "passed":
        journal.reasons = [f"gate rto < 60s failed: measured {rto:g}s"]
    return journal


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'runs.db'}"
    return pg_schema_url(request.getfixturevalue("pg_database"))


def test_drills_are_recorded_and_shown(store_url: str, tmp_path: Path) -> None:
    with open_store(store_url, project_dir=tmp_path) as store:
        ids = [
            store.record_drill(_journal(0, 4.0, 0).to_dict(), git=None).id,
            store.record_drill(_journal(1, 75.0, 3, "failed").to_dict(), git=None).id,
            store.record_drill(_journal(2, 6.5, 0).to_dict(), git=None).id,
        ]
        other = _journal(3, 1.0, 0)
        other.name, other.title = "redis-crash", "Redis <crash> & restart"
        store.record_drill(other.to_dict(), git=None)
        history = store.drills("pg-failover")
        assert [d.id for d in history] == ids[::-1]
        newest = history[0]
        assert newest.rto_s == 6.5
        assert newest.lost_writes == 0
        assert newest.passed
        assert history[1].rpo_s == 0.75
        assert not history[1].passed
        assert (
            DrillJournal.from_dict(history[1].journal).to_dict()
            == _journal(1, 75.0, 3, "failed").to_dict()
        )
    with (
        running_dashboard("--store", store_url, "--project", str(tmp_path)) as dash,
        dash.client() as client,
    ):
        page = client.get("/").text
        cards = re.findall(r'<article class="card" data-drill="([^"]+)">', page)
        assert cards == ["redis-crash", "pg-failover"]
        assert "Redis &lt;crash&gt; &amp; restart" in page  # escaped
        assert '<dd class="rto" data-value="6.5">6.50 s</dd>' in page
        assert "3 recorded" in page
        history_page = client.get("/drills/pg-failover")
        assert history_page.status_code == 200
        rows = re.findall(r'<tr data-drill="(\d+)">', history_page.text)
        assert rows == [str(i) for i in ids[::-1]]
        assert "gate rto &lt; 60s failed: measured 75s" in history_page.text
        figure = json.loads(
            re.search(
                r'<script type="application/json" id="drill-trend">(.*?)</script>',
                history_page.text,
                re.S,
            ).group(1)  # type: ignore[union-attr]
        )
        names = [t["name"] for t in figure["data"]]
        assert names == ["RTO", "RPO", "time to detect", "RTO gate"]
        assert figure["data"][0]["y"] == [4.0, 75.0, 6.5]
        assert figure["data"][3]["y"] == [60.0, 60.0]
        api = client.get("/api/drills/pg-failover").json()["drills"]
        assert [d["rto_s"] for d in api] == [6.5, 75.0, 4.0]
        assert client.get("/api/drills").json()["drills"][1]["drills"] == 3
        missing = client.get("/drills/nope")
        assert missing.status_code == 404
        assert "no recorded drill named &#39;nope&#39;" in missing.text
