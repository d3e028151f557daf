"""README's install works verbatim on a fresh machine: the wheel that `pip wheel .` builds,
installed with its `demo` extra into an empty virtualenv, runs `slokit demo` to a verdict
(templates, the demo spec and every module a first run needs are in the wheel)."""

from __future__ import annotations

import os
import subprocess
import sys
import venv
from pathlib import Path

import pytest

from tests._support import ROOT

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]


def test_the_built_wheel_installs_and_runs_the_demo(tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(dist), str(ROOT)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert built.returncode == 0, built.stdout + built.stderr
    (wheel,) = dist.glob("slokit-*.whl")
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    python = env_dir / "bin" / "python"
    installed = subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", f"{wheel}[demo]"],
        capture_output=True,
        text=True,
        timeout=420,
    )
    assert installed.returncode == 0, installed.stdout + installed.stderr
    # Not the checkout: the test runs from an empty directory with a clean environment.
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env.update(NO_COLOR="1", COLUMNS="160")
    demo = subprocess.run(
        [str(env_dir / "bin" / "slokit"), "demo", "-d", "3s", "-w", "1", "--no-store"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
        env=env,
    )
    assert demo.returncode == 0, demo.stdout + demo.stderr
    assert "PASS" in demo.stdout
    assert (tmp_path / "slokit-report" / "report.html").is_file()
    where = subprocess.run(
        [str(python), "-c", "import slokit; print(slokit.__file__)"],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        check=True,
    )
    assert str(env_dir) in where.stdout  # the wheel's copy ran, not the source tree
