"""A drill as people read it: terminal lines, the Markdown report, report.html.

The Markdown follows seed 004's ``docs/reports/dr/YYYY-MM.md``: failover start and end, data
currency, the step table (who did what, when, how long), the gates. Every figure says what it
was measured from, so a reader can check it against the journal.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from slokit.drill._journal import DrillJournal, StepRecord

__all__ = ["drill_html", "drill_markdown", "summarize", "write_drill_reports"]


def _s(value: float | None) -> str:
    if value is None:
        return "-"
    if value < 1:
        return f"{value * 1000:.0f} ms"
    if value < 120:
        return f"{value:.2f} s"
    return f"{value / 60:.1f} min"


def _clock(when: datetime | None) -> str:
    return "-" if when is None else when.strftime("%Y-%m-%d %H:%M:%S.%f")[:-3] + " UTC"


def _offset(t: float | None) -> str:
    return "-" if t is None else f"+{t:.2f}s"


def rto_line(journal: DrillJournal) -> str:
    if journal.t_fail is None:
        return "RTO: no failure step ran"
    if journal.t_restored is None:
        return "RTO: not restored (the service never stayed healthy after the failure)"
    sustain = f"healthy for {journal.sustain_s:g}s" if journal.sustain_s else "healthy"
    return (
        f"RTO {_s(journal.rto_s)}: failure at {_offset(journal.t_fail)}, "
        f"{sustain} from {_offset(journal.t_restored)}"
    )


def rpo_line(journal: DrillJournal) -> str | None:
    rpo = journal.rpo
    if rpo is None:
        return None
    if rpo.get("error"):
        return f"RPO: not measured ({rpo['error']})"
    lost = rpo["lost_writes"]
    doubt = rpo["in_doubt"]
    doubt_text = (
        f"; {doubt} in doubt (no answer; {rpo['in_doubt_survived']} of them kept)" if doubt else ""
    )
    return (
        f"RPO {_s(rpo['rpo_s'])}: {lost} of {rpo['acknowledged']} acknowledged writes lost"
        f"{doubt_text}; read back from {rpo['read_from']}"
    )


def ttd_line(journal: DrillJournal) -> str | None:
    if journal.t_fail is None:
        return None
    if journal.t_detect is None:
        return "detected: never (no probe or write failed after the failure)"
    return f"detected after {_s(journal.ttd_s)} by the {journal.detected_by}"


def load_line(journal: DrillJournal) -> str | None:
    load = journal.load
    if load is None:
        return None
    if load.get("error"):
        return f"load alongside: did not run ({load['error']})"
    total = load.get("total") or {}
    failed = load.get("failed_seconds") or []
    return (
        f"load alongside: scenario {load.get('scenario')}, {total.get('count', 0)} requests, "
        f"{total.get('failed', 0)} failed; {len(failed)} of {load.get('seconds', 0)} seconds "
        "over the allowed error rate"
    )


def summarize(journal: DrillJournal) -> list[str]:
    """The terminal's summary, one line each."""
    lines = [f"drill {journal.title!r}: {journal.status.upper()}"]
    for record in journal.steps + journal.rollbacks:
        took = "-" if record.duration_s is None else f"{record.duration_s:.2f}s"
        mark = " [T_fail]" if record.failure else ""
        detail = f": {record.detail}" if record.detail and record.status != "ok" else ""
        lines.append(
            f"  {record.phase:8} {record.status:11} {took:>8}  {record.name}{mark}{detail}"
        )
    for line in (ttd_line(journal), rto_line(journal), rpo_line(journal), load_line(journal)):
        if line is not None:
            lines.append(line)
    for gate in journal.gates:
        lines.append(f"  {'PASS' if gate.passed else 'FAIL'}  {gate.gate}  ({gate.detail})")
    for reason in journal.reasons:
        lines.append(f"  - {reason}")
    return lines


def _cell(text: Any) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _step_rows(records: list[StepRecord], journal: DrillJournal) -> list[str]:
    rows = [
        "| # | step | owner | what | started | took | deadline | result |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for n, r in enumerate(records, 1):
        name = r.name + (" **(T_fail)**" if r.failure else "")
        took = "-" if r.duration_s is None else f"{r.duration_s:.2f}s"
        deadline = "-" if r.deadline_s is None else f"{r.deadline_s:g}s"
        result = r.status + (f": {r.detail}" if r.detail else "")
        started = _clock(journal.at(r.started))
        rows.append(
            f"| {n} | {_cell(name)} | {_cell(r.owner or '-')} | `{_cell(r.what)}` | {started} "
            f"| {took} | {deadline} | {_cell(result)} |"
        )
    return rows


def drill_markdown(journal: DrillJournal) -> str:
    """The DR report, shaped like the seed's ``docs/reports/dr/YYYY-MM.md``."""
    rpo = journal.rpo or {}
    lines = [
        f"# DR drill: {journal.title}",
        "",
        f"{journal.started:%Y-%m-%d} · result **{journal.status.upper()}** · "
        f"drill `{journal.name}` · source `{journal.source}`",
        "",
        "## Timings",
        "",
        "| | when | drill time |",
        "|---|---|---|",
        f"| Failover start (T_fail) | {_clock(journal.at(journal.t_fail))} "
        f"| {_offset(journal.t_fail)} |",
        f"| Failure detected | {_clock(journal.at(journal.t_detect))} "
        f"| {_offset(journal.t_detect)} |",
        f"| Failover end (restored) | {_clock(journal.at(journal.t_restored))} "
        f"| {_offset(journal.t_restored)} |",
        "",
        f"- **RTO**: {_s(journal.rto_s)} ({rto_line(journal)})",
        f"- **Time to detect**: {_s(journal.ttd_s)}"
        + (f" (by the {journal.detected_by})" if journal.detected_by else ""),
    ]
    if journal.rpo is not None:
        currency = rpo.get("data_currency") or "-"
        lines += [
            f"- **RPO**: {_s(rpo.get('rpo_s'))} ({rpo_line(journal)})",
            f"- **Data currency**: {currency} (the newest acknowledged write kept before any loss)",
            f"- **Writes**: {rpo.get('acknowledged', 0)} acknowledged, "
            f"{rpo.get('survived', 0)} kept, {rpo.get('lost_writes', 0)} lost, "
            f"{rpo.get('in_doubt', 0)} in doubt",
        ]
        if rpo.get("lost"):
            shown = ", ".join(map(str, rpo["lost"][:50]))
            more = f" and {len(rpo['lost']) - 50} more" if len(rpo["lost"]) > 50 else ""
            lines.append(f"- **Lost writes (seq)**: {shown}{more}")
    if (line := load_line(journal)) is not None:
        lines.append(f"- **Load**: {line.removeprefix('load alongside: ')}")
    lines += ["", "## Gates", ""]
    if journal.gates:
        lines += ["| result | gate | measured |", "|---|---|---|"]
        lines += [
            f"| {'PASS' if g.passed else 'FAIL'} | `{g.gate}` | {_cell(g.detail)} |"
            for g in journal.gates
        ]
    else:
        lines.append("No gates.")
    lines += ["", "## Steps", "", *_step_rows(journal.steps, journal)]
    if journal.rollbacks:
        lines += ["", "## Rollbacks", "", *_step_rows(journal.rollbacks, journal)]
    if journal.reasons:
        lines += ["", "## Why it did not pass", ""] + [f"- {r}" for r in journal.reasons]
    lines += ["", "## Timeline", ""]
    lines += [f"- `{_offset(e['t'])}` {e['text']}" for e in journal.events]
    return "\n".join(lines) + "\n"


def drill_html(journal: DrillJournal) -> str:
    """report.html's drill section, as a page of its own."""
    from jinja2 import Environment, PackageLoader, select_autoescape

    env = Environment(
        loader=PackageLoader("slokit.drill", "_templates"),
        autoescape=select_autoescape(["html", "j2"]),
    )
    template = env.get_template("drill.html.j2")
    return template.render(
        j=journal,
        rto=rto_line(journal),
        rpo=rpo_line(journal),
        ttd=ttd_line(journal),
        load=load_line(journal),
        clock=_clock,
        offset=_offset,
        seconds=_s,
    )


def write_drill_reports(journal: DrillJournal, out_dir: Path) -> list[Path]:
    """drill.json, drill.md and report.html in ``out_dir``."""
    import json

    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in (
        ("drill.json", json.dumps(journal.to_dict(), indent=2) + "\n"),
        ("drill.md", drill_markdown(journal)),
        ("report.html", drill_html(journal)),
    ):
        path = out_dir / name
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written
