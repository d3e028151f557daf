"""What k6 and Locust users type, answered: their flags that slokit spells otherwise.

Click's "Did you mean --out?" for ``--users`` sends them the wrong way; a command built
with :class:`ForeignFlags` names slokit's equivalent instead.
"""

from __future__ import annotations

# Typer 0.29 vendors Click; its parse errors are these classes, not the click package's.
from typer._click.core import Context
from typer._click.exceptions import NoSuchOption
from typer.core import TyperCommand

__all__ = ["FOREIGN_FLAGS", "ForeignFlags", "k6_output"]

FOREIGN_FLAGS = {
    # Locust
    "--users": "Locust's --users is -u/--vus here",
    "--spawn-rate": (
        "Locust's spawn rate is a ramp here: a ramping-vus scenario with "
        "stages: [{to: 100, over: 30s}] (-u scales its peak, -d its length)"
    ),
    "-r": (
        "Locust's -r (spawn rate) is a ramp here: a ramping-vus scenario with "
        "stages: [{to: 100, over: 30s}] (-u scales its peak, -d its length)"
    ),
    "--headless": "slokit run is always headless: live progress goes to stderr, -q hides it",
    "--locustfile": "the spec names the Python journey: script: file.py:function",
    "-f": "the spec file is the argument; a Python journey is script: file.py:function in it",
    "--csv": "--out DIR writes stats.csv and history.csv (and results.json) there",
    "--html": "--out DIR writes report.html there",
    "--tags": "a scenario picks its steps; run some scenarios with -s NAME",
    # k6
    "--stage": (
        "stages live in the spec: a ramping-vus scenario's stages: [{to: 50, over: 30s}]; "
        "-d scales them"
    ),
    "--summary-export": "--out DIR writes results.json with every number (schema in README)",
    "--no-thresholds": "gate: false in a scenario reports its gates without failing the run",
    "--tag": "--label KEY=VALUE labels the recorded run",
    "--vu": "-u/--vus",
}

_K6_OUTPUTS = ("json", "csv", "cloud", "influxdb", "statsd", "kafka", "experimental-")


def k6_output(value: str) -> str | None:
    """Why ``--out json=file.json`` is not a directory, or None when it may be one."""
    kind, sep, _ = value.partition("=")
    if sep and kind.startswith(_K6_OUTPUTS):
        return (
            f"--out is a directory here, got k6's {value!r}: results.json, junit.xml, "
            "summary.md, report.html and CSVs are written in it (--out results)"
        )
    return None


class ForeignFlags(TyperCommand):
    """A command whose unknown-option error names slokit's way for k6/Locust flags."""

    def parse_args(self, ctx: Context, args: list[str]) -> list[str]:
        try:
            return super().parse_args(ctx, args)
        except NoSuchOption as exc:
            flag = exc.option_name.split("=", 1)[0]
            hint = FOREIGN_FLAGS.get(flag)
            if hint is None:
                raise
            raise NoSuchOption(
                flag, message=f"No such option: {flag}. {hint}.", ctx=exc.ctx
            ) from None
