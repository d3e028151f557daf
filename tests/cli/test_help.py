"""Every command's --help reads like a person wrote it: no Typer type labels (<bool>,
<list[str]>, {spec}), no default said twice, one help text for --store everywhere."""

from __future__ import annotations

import re

import pytest
from typer.main import get_command

from slokit.cli._app import app
from tests._support import run_slokit


def _commands() -> list[list[str]]:
    root = get_command(app)
    found: list[list[str]] = [[]]
    for name, command in getattr(root, "commands", {}).items():
        found.append([name])
        for sub in getattr(command, "commands", {}):
            found.append([name, sub])
    return found


COMMANDS = _commands()


def test_every_command_is_covered() -> None:
    names = {" ".join(c) for c in COMMANDS}
    assert {"run", "validate", "demo", "runs list", "runs compare", "dashboard"} <= names


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c) or "slokit")
def test_help_has_no_type_labels_and_no_double_defaults(command: list[str]) -> None:
    done = run_slokit(*command, "--help")
    assert done.returncode == 0, done.stdout + done.stderr
    text = done.stdout
    assert not re.search(r"<(bool|int|str|float|path|list\[[a-z]+\])>", text), text
    assert not re.search(r"\{[A-Za-z_]+\}", text.replace("${KEY}", "")), text
    # A help line that says its default in words has no "[default: ...]" as well.
    for line in text.split("--"):
        if "(default" in line or "default:" in line.split("[default:")[0]:
            assert "[default:" not in line, line
    if "--store" in text:
        assert "default $SLOKIT_STORE, else .slokit/runs.db in the project" in " ".join(
            text.replace("│", " ").split()
        )
