"""What ``slokit run`` does with the run store: regression gates, ``--fail-after``, recording.

The store is opened after the load, once. Whatever goes wrong with it is a warning: the run's
verdicts, its reports and its exit code never depend on the store being reachable (except
that ``--fail-after`` cannot hold a failure back without the history, so it fails at once).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from rich.markup import escape

from slokit.cli._common import err, out
from slokit.errors import StoreError, UsageError
from slokit.results import RunResults

if TYPE_CHECKING:  # the store (SQLAlchemy) is imported only by runs that use it
    from slokit.store import RegressionLimits, RunStore

__all__ = ["RunHistory", "parse_labels"]

_BASELINE_KEYWORDS = ("last-pass", "last")
_BASELINE = re.compile(r"last-pass|last|(?:r-|#)?\d+")


def parse_labels(items: list[str]) -> dict[str, str]:
    """``["env=ci", "pr=12"]`` -> ``{"env": "ci", "pr": "12"}``; a UsageError otherwise."""
    labels: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"--label {item!r}: expected KEY=VALUE, e.g. --label env=staging")
        labels[key.strip()] = value.strip()
    return labels


@dataclass
class RunHistory:
    """The store-related options of one ``slokit run``, and what they do around the run."""

    spec_path: Path
    spec_text: str
    store_url: str | None
    labels: dict[str, str]
    baseline: str
    limits: RegressionLimits | None
    fail_after: int
    project: Path | None = None
    """Where the default store and the git commit are looked for; None: the spec's folder."""
    _store: RunStore | None = field(default=None, init=False)
    _unavailable: bool = field(default=False, init=False)
    _notes: list[str] = field(default_factory=list, init=False)
    """Messages for the end of the output, after the report (Rich markup)."""

    @classmethod
    def from_options(
        cls,
        spec_path: Path,
        *,
        store: str | None,
        no_store: bool,
        labels: list[str],
        baseline: str | None,
        max_regression: str | None,
        fail_after: int,
        project: Path | None = None,
    ) -> RunHistory | None:
        """Check the options before the run (UsageError); None with ``--no-store``."""
        from slokit.store import RegressionLimits

        parsed_labels = parse_labels(labels)
        limits = RegressionLimits.parse(max_regression) if max_regression is not None else None
        if baseline is not None and limits is None:
            raise UsageError(
                "--baseline says which run to compare with; --max-regression says how much "
                "worse fails: give both, e.g. --baseline last-pass --max-regression p95=10%"
            )
        if baseline is not None and not _BASELINE.fullmatch(baseline.strip().lower()):
            raise UsageError(
                f"--baseline {baseline!r}: give last-pass (the newest run that passed), last, "
                "or a run id from `slokit runs list`"
            )
        if no_store:
            used = [
                name
                for name, given in (
                    ("--store", store is not None),
                    ("--label", bool(labels)),
                    ("--baseline/--max-regression", limits is not None),
                    ("--fail-after", fail_after > 1),
                )
                if given
            ]
            if used:
                raise UsageError(f"--no-store switches the run history off: drop {used[0]}")
            return None
        try:
            spec_text = spec_path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise UsageError(f"cannot read {spec_path}: {exc}") from None
        return cls(
            spec_path=spec_path,
            spec_text=spec_text,
            store_url=store,
            labels=parsed_labels,
            baseline=(baseline or "last-pass").strip().lower(),
            limits=limits,
            fail_after=fail_after,
            project=project,
        )

    @property
    def project_dir(self) -> Path:
        return self.project or self.spec_path.resolve().parent

    def _open(self) -> RunStore | None:
        from slokit.store import open_store

        if self._store is None and not self._unavailable:
            try:
                self._store = open_store(self.store_url, project_dir=self.project_dir)
            except StoreError as exc:
                self._unavailable = True
                self._warn(f"run store unavailable: {exc}")
        return self._store

    def judge(self, results: RunResults) -> None:
        """Before the report: add regression verdicts, then hold back per ``--fail-after``."""
        if self.limits is None and self.fail_after <= 1:
            return
        store = self._open()
        if store is None:
            if self.limits is not None:
                self._warn("no regression check: the baseline comes from the unavailable run store")
            if self.fail_after > 1:
                self._warn(f"--fail-after {self.fail_after} not applied: failures count at once")
            return
        try:
            if self.limits is not None:
                self._regressions(store, self.limits, results)
            if self.fail_after > 1:
                self._hold_back(store, results)
        except StoreError as exc:
            self._warn(f"cannot read the run history: {exc}")

    def _regressions(self, store: RunStore, limits: RegressionLimits, results: RunResults) -> None:
        from slokit.store import regression_verdicts

        if results.partial:
            self._warn("no regression check: the run was aborted, its numbers are incomplete")
            return
        names = [sc.name for sc in results.scenarios]
        if self.baseline in _BASELINE_KEYWORDS:
            passed = True if self.baseline == "last-pass" else None
            found = store.last(results.service, scenarios=names, passed=passed, complete=True)
            if found is None:
                what = "passed run" if passed else "complete run"
                self._warn(
                    f"no baseline yet: no {what} of {results.service} with scenario(s) "
                    f"{', '.join(names)} in {store.where}; no regression check this time "
                    "(this run is recorded and can be the next baseline)"
                )
                return
            run_id = found.id
        else:
            run_id = store.resolve(self.baseline)
        record = store.get(run_id)
        verdicts = regression_verdicts(record.results(), results, limits, baseline_id=record.id)
        if not verdicts:
            self._warn(
                f"no regression check: run {record.id} has no request in common with this run"
            )
        by_name = {sc.name: sc for sc in results.scenarios}
        for v in verdicts:
            by_name[v.scenario].verdicts.append(v)
        commit = f", commit {record.git.short}" if record.git else ""
        started = record.started.strftime("%Y-%m-%d %H:%M UTC")
        self._notes.append(f"baseline: run {record.id} ({started}{commit})")

    def _hold_back(self, store: RunStore, results: RunResults) -> None:
        from slokit.store import apply_fail_after

        if results.partial or results.passed:
            return
        n = self.fail_after
        names = [sc.name for sc in results.scenarios]
        previous = store.list(results.service, scenarios=names, complete=True, limit=n - 1)
        report = apply_fail_after(results, [store.verdicts(r.id) for r in previous], n)
        for v, streak in report.held:
            self._warn(
                f"{v.name} failed ({streak} run(s) in a row): not failing the run until it "
                f"fails {n} in a row (--fail-after {n})"
            )
        for v, streak in report.failing:
            self._notes.append(
                f"[red]{escape(v.name)} failed {streak} runs in a row: the run fails "
                f"(--fail-after {n})[/]"
            )

    def record(self, results: RunResults) -> None:
        """After the reports are written: keep the run (a failure is only a warning), then
        say what the history did."""
        from slokit.store import git_info

        store = self._open()
        recorded = None
        try:
            if store is None:
                self._warn("this run was not recorded in the run history")
            else:
                # Recorded as the reports were written: every string writable (a lone
                # surrogate in a request name must not cost the run its record).
                record = store.record(
                    results.encodable(),
                    spec_text=self.spec_text,
                    labels=self.labels,
                    git=git_info(self.project_dir),
                )
                recorded = f"recorded as run {record.id} in {escape(store.where)}"
        except StoreError as exc:
            self._warn(f"this run was not recorded: {exc}")
        finally:
            if store is not None:
                store.close()
                self._store = None
        for note in self._notes:
            err.print(note, soft_wrap=True)
        self._notes.clear()
        if recorded is not None:
            out.print(recorded)

    def _warn(self, text: str) -> None:
        self._notes.append(f"[yellow]warning:[/] {escape(text)}")
