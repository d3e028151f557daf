"""One percent formatter for every report: results.format_percent, which rules uses too."""

from __future__ import annotations

import pytest

from slokit.results import encodable_text, format_percent
from slokit.rules import format_share


@pytest.mark.parametrize(
    ("ratio", "text"),
    [
        (0.0, "0%"),
        (1.0, "100%"),
        (0.99512, "99.512%"),
        (0.25, "25%"),
        (3 / 3243, "0.093%"),
        (1 / 118, "0.847%"),
        (-0.5, "-50%"),
        (-0.0004, "-0.04%"),
        (-49.0, "-4900%"),
    ],
)
def test_every_share_is_written_by_one_formatter(ratio: float, text: str) -> None:
    assert format_percent(ratio) == text
    assert format_share(ratio) == text  # slokit budget and the dashboard's budgets


def test_unencodable_text_becomes_a_visible_escape() -> None:
    assert encodable_text("a\ud800b") == "a\\ud800b"
    assert encodable_text("ünïcode ✓") == "ünïcode ✓"
    encodable_text("x\udcff").encode("utf-8")
