"""Shell commands with a hard deadline, and signals to processes found by pid file or match.

A command runs in its own process group, so a deadline (or Ctrl-C) kills everything it
started, not only the shell: a hung ``pg_ctl`` or a ``sleep`` under ``sh -c`` never outlives
its step.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
from dataclasses import dataclass
from pathlib import Path

from slokit.drill._model import ProcessAction
from slokit.errors import UsageError

__all__ = ["Shell", "run_shell", "signal_processes", "start_background"]

_OUTPUT_TAIL = 4000


@dataclass(frozen=True)
class Shell:
    code: int | None
    """None when the command was killed at its deadline."""
    output: str
    """The tail of stdout and stderr together."""


def _kill_group(proc: subprocess.Popen[str]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)


def run_shell(command: str, timeout: float, cwd: str) -> Shell:
    """Run ``command`` under ``sh -c``; kill its whole process group at ``timeout``."""
    proc = subprocess.Popen(
        command,
        shell=True,
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        text=True,
        errors="replace",
        start_new_session=True,
    )
    try:
        output, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill_group(proc)
        output, _ = proc.communicate()
        return Shell(None, (output or "")[-_OUTPUT_TAIL:])
    except BaseException:
        # Ctrl-C (KeyboardInterrupt) while the command runs: take it down with us.
        _kill_group(proc)
        proc.wait()
        raise
    return Shell(proc.returncode, (output or "")[-_OUTPUT_TAIL:])


def start_background(command: str, cwd: str, log: Path) -> int:
    """Start ``command`` detached (its own session, output to ``log``); its pid."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as sink:
        proc = subprocess.Popen(
            command,
            shell=True,
            cwd=cwd,
            stdout=sink,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    return proc.pid


def _from_pidfile(path: Path) -> int:
    try:
        first = path.read_text(encoding="utf-8", errors="replace").split("\n", 1)[0].strip()
    except OSError as exc:
        raise UsageError(f"cannot read pid file {path}: {exc.strerror}") from None
    if not first.isdigit():
        raise UsageError(f"pid file {path} does not start with a pid (it starts {first[:40]!r})")
    return int(first)


def _matching(pattern: str) -> list[int]:
    import psutil

    found = re.compile(pattern)
    me = os.getpid()
    pids = []
    for proc in psutil.process_iter(["pid", "cmdline"]):
        cmdline = " ".join(proc.info["cmdline"] or [])
        if proc.info["pid"] != me and cmdline and found.search(cmdline):
            pids.append(int(proc.info["pid"]))
    return pids


def signal_processes(action: ProcessAction, base: Path) -> list[int]:
    """Send the action's signal; the pids it reached. Raises UsageError when none is found."""
    if action.pidfile is not None:
        path = Path(action.pidfile)
        pids = [_from_pidfile(path if path.is_absolute() else base / path)]
    elif action.pid is not None:
        pids = [action.pid]
    else:
        assert action.match is not None
        pids = _matching(action.match)
        if not pids:
            raise UsageError(f"no running process matches {action.match!r}")
    number = getattr(signal, f"SIG{action.signal}")
    reached = []
    for pid in pids:
        try:
            os.kill(pid, number)
        except ProcessLookupError:
            continue
        except PermissionError:
            raise UsageError(
                f"not allowed to signal pid {pid}; run the drill as its owner"
            ) from None
        reached.append(pid)
    if not reached:
        raise UsageError(f"{action.label}: no such process (pid {', '.join(map(str, pids))})")
    return reached
