"""The git commit and branch a run was made from, when it was made inside a git work tree."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from slokit.store._model import GitInfo

__all__ = ["git_info"]

# CI systems check out a detached HEAD; they name the branch in their environment.
_BRANCH_VARIABLES = ("GITHUB_HEAD_REF", "GITHUB_REF_NAME", "CI_COMMIT_REF_NAME")


def _git(directory: Path, *args: str) -> str | None:
    try:
        done = subprocess.run(
            ["git", *args],
            cwd=directory,
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    value = done.stdout.strip()
    return value if done.returncode == 0 and value else None


def git_info(directory: Path) -> GitInfo | None:
    """``git rev-parse`` in ``directory``; None outside a work tree or without git.

    A detached HEAD has no branch, unless the CI's environment names one
    (``GITHUB_HEAD_REF``, ``GITHUB_REF_NAME``, ``CI_COMMIT_REF_NAME``).
    """
    commit = _git(directory, "rev-parse", "--verify", "-q", "HEAD")
    if commit is None:
        return None
    branch = _git(directory, "rev-parse", "--abbrev-ref", "HEAD")
    if branch in (None, "HEAD"):
        branch = next((os.environ[v] for v in _BRANCH_VARIABLES if os.environ.get(v)), None)
    return GitInfo(commit=commit, branch=branch)
