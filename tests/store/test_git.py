"""git_info in a real temporary git repository."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from slokit.store import GitInfo, git_info

GIT_ENV = {
    "GIT_AUTHOR_NAME": "t",
    "GIT_AUTHOR_EMAIL": "t@example.invalid",
    "GIT_COMMITTER_NAME": "t",
    "GIT_COMMITTER_EMAIL": "t@example.invalid",
    "GIT_CONFIG_GLOBAL": "/dev/null",
    "GIT_CONFIG_NOSYSTEM": "1",
}


def git(repo: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", *args],
        cwd=repo,
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, **GIT_ENV},
    )
    return done.stdout.strip()


def make_repo(path: Path, branch: str = "feature/x") -> str:
    """A repository with one commit on ``branch``; returns the commit."""
    path.mkdir(parents=True, exist_ok=True)
    git(path, "init", "-q", "-b", branch)
    (path / "slokit.yaml").write_text("service: s\n")
    git(path, "add", "slokit.yaml")
    git(path, "commit", "-q", "-m", "spec")
    return git(path, "rev-parse", "HEAD")


def test_commit_and_branch_inside_a_work_tree(tmp_path: Path) -> None:
    commit = make_repo(tmp_path / "repo")
    (tmp_path / "repo" / "sub").mkdir()
    assert git_info(tmp_path / "repo" / "sub") == GitInfo(commit=commit, branch="feature/x")
    assert len(commit) == 40


def test_detached_head_has_no_branch_unless_ci_names_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    commit = make_repo(tmp_path)
    git(tmp_path, "checkout", "-q", "--detach")
    for name in ("GITHUB_HEAD_REF", "GITHUB_REF_NAME", "CI_COMMIT_REF_NAME"):
        monkeypatch.delenv(name, raising=False)
    assert git_info(tmp_path) == GitInfo(commit=commit, branch=None)
    monkeypatch.setenv("GITHUB_REF_NAME", "main")
    assert git_info(tmp_path) == GitInfo(commit=commit, branch="main")


def test_outside_a_repository_or_before_the_first_commit(tmp_path: Path) -> None:
    assert git_info(tmp_path) is None
    git(tmp_path, "init", "-q")
    assert git_info(tmp_path) is None
