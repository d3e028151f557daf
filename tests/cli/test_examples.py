"""The example specs the README shows are valid, and the README shows them as they are."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests._support import ROOT, slokit_cmd

EXAMPLES = sorted((ROOT / "examples").glob("*.yaml"))


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_every_example_validates_and_is_in_the_readme(path: Path) -> None:
    done = subprocess.run(slokit_cmd("validate", str(path)), capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert path.read_text(encoding="utf-8") in readme


def test_there_are_examples() -> None:
    assert EXAMPLES
