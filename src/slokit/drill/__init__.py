"""Disaster-recovery drills: ``slokit drill DRILL.yaml`` runs timed steps (shell, HTTP,
waits, process signals, chaos faults, writer repoints, an alembic schema check), watches the
service with a health probe and an RPO writer, and measures RTO, RPO and time to detect.

::

    from slokit.drill import load_drill, run_drill, write_drill_reports

    journal = run_drill(load_drill("drills/pg-failover.yaml"))
    print(journal.rto_s, journal.rpo_s, journal.lost_writes)
    write_drill_reports(journal, Path("slokit-drill"))
"""

from slokit.drill._journal import DrillJournal, GateResult, StepRecord
from slokit.drill._model import DRILL_METRICS, Drill, DrillGate, load_drill, parse_drill
from slokit.drill._report import drill_html, drill_markdown, summarize, write_drill_reports
from slokit.drill._runner import DrillOptions, run_drill
from slokit.drill._timings import Observation, detect, restored
from slokit.drill._writer import RpoResult, Write, rpo_of

__all__ = [
    "DRILL_METRICS",
    "Drill",
    "DrillGate",
    "DrillJournal",
    "DrillOptions",
    "GateResult",
    "Observation",
    "RpoResult",
    "StepRecord",
    "Write",
    "detect",
    "drill_html",
    "drill_markdown",
    "load_drill",
    "parse_drill",
    "restored",
    "rpo_of",
    "run_drill",
    "summarize",
    "write_drill_reports",
]
