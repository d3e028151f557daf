"""``slokit drill``: a disaster-recovery drill with measured RTO and RPO; writes its reports
(drill.json, drill.md, report.html) and records it in the run store."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from slokit.cli._app import app
from slokit.cli._common import err, fail, out, setup_logging
from slokit.cli._help import StoreOption
from slokit.errors import SlokitError, StoreError


def _event(t: float, text: str) -> None:
    err.print(f"[dim]{t:7.2f}s[/] {escape(text)}", soft_wrap=True)


def _record(journal: dict[str, object], store_url: str | None, project_dir: Path) -> None:
    from slokit.store import git_info, open_store

    try:
        with open_store(store_url, project_dir=project_dir) as store:
            record = store.record_drill(journal, git=git_info(project_dir))
            out.print(f"recorded as drill {record.id} in {escape(store.where)}")
    except StoreError as exc:
        err.print(f"[yellow]warning:[/] this drill was not recorded: {escape(str(exc))}")


@app.command()
def drill(
    path: Annotated[Path, typer.Argument(help="The drill file, e.g. drills/pg-failover.yaml.")],
    out_dir: Annotated[
        Path, typer.Option("--out", "-o", help="Where drill.json, drill.md, report.html go.")
    ] = Path("slokit-drill"),
    check: Annotated[
        bool, typer.Option("--check", help="Only validate the drill file; run nothing.")
    ] = False,
    store: StoreOption = None,
    no_store: Annotated[
        bool, typer.Option("--no-store", help="Do not record this drill in the store.")
    ] = False,
) -> None:
    """Run a disaster-recovery drill: timed steps, health probe and RPO writer, measured RTO,
    RPO and time to detect, judged by the drill's gates.

    Exit codes: 0 passed, 1 a step or gate failed, 2 bad input, 3 aborted (Ctrl-C).
    """
    setup_logging()
    from slokit.drill import DrillOptions, load_drill, run_drill, summarize, write_drill_reports

    try:
        loaded = load_drill(path)
        if check:
            out.print(f"{path}: valid drill, {len(loaded.steps)} steps, "
                      f"{len(loaded.gates)} gates")  # fmt: skip
            raise typer.Exit(0)
        err.print(f"drill: {escape(loaded.title)} ({len(loaded.steps)} steps)")
        journal = run_drill(loaded, DrillOptions(out_dir=out_dir, on_event=_event))
    except SlokitError as exc:
        fail(exc)
    journal.source = str(path)
    for line in summarize(journal):
        out.print(escape(line), soft_wrap=True, highlight=False)
    written = write_drill_reports(journal, out_dir)
    out.print("reports: " + ", ".join(str(p) for p in written), soft_wrap=True)
    if not no_store:
        _record(journal.to_dict(), store, path.resolve().parent)
    raise typer.Exit(journal.exit_code)
