"""The live progress line: one line per scenario running at the time."""

from __future__ import annotations

import io

from rich.console import Console

from slokit.cli._live import LiveProgress
from slokit.load import LiveTick


def _tick(scenario: str, second: int) -> LiveTick:
    return LiveTick(
        scenario=scenario,
        second=second,
        duration=60.0,
        warmup=False,
        requests=100,
        failures=0,
        dropped=0,
        vus=2,
        p95_ms=1.5,
    )


def test_scenarios_side_by_side_each_keep_a_line() -> None:
    sink = io.StringIO()
    console = Console(file=sink, force_terminal=True, width=120, color_system=None)
    with LiveProgress(console) as live:
        live(_tick("bulk", 0))
        live(_tick("quotes", 0))
        live(_tick("bulk", 1))
        screen = sink.getvalue()
    # Each refresh starts with an erase-line; the last frame shows both scenarios.
    frame = screen.rsplit("\x1b[2K", 1)[1]
    assert frame.splitlines() == [
        "bulk 2s ETA 58s | 100 req/s | p95 1.5ms | errors 0.0% | dropped 0 | VUs 2",
        "quotes 1s ETA 59s | 100 req/s | p95 1.5ms | errors 0.0% | dropped 0 | VUs 2",
    ]


def test_plain_output_prints_every_fifth_second_of_each_scenario() -> None:
    sink = io.StringIO()
    console = Console(file=sink, force_terminal=False, width=120)
    with LiveProgress(console) as live:
        for second in range(10):
            live(_tick("bulk", second))
            live(_tick("quotes", second))
    lines = sink.getvalue().splitlines()
    assert [line.split()[:2] for line in lines] == [
        ["bulk", "5s"],
        ["quotes", "5s"],
        ["bulk", "10s"],
        ["quotes", "10s"],
    ]
