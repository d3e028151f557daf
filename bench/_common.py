"""Plumbing shared by the benchmark legs: CPU pinning, ports, and processes that always stop.

Every process a leg starts runs in its own session, so stopping it (SIGTERM, then SIGKILL after
a grace period) reaches its children too: nginx's worker, slokit's worker processes.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Self

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
LOOPBACK = "127.0.0.1"


@dataclass(frozen=True)
class Cores:
    """Where the load generators and the servers run; None when there is no second core."""

    generator: int | None
    server: int | None

    @classmethod
    def pick(cls) -> Cores:
        allowed = sorted(os.sched_getaffinity(0))
        if len(allowed) < 2 or shutil.which("taskset") is None:
            return cls(None, None)
        return cls(allowed[0], allowed[1])

    def describe(self) -> str:
        if self.generator is None:
            return "not pinned (needs 2 cores and taskset): numbers are noisier"
        return f"load generators on core {self.generator}, servers on core {self.server}"


def pinned(cmd: list[str], core: int | None) -> list[str]:
    return cmd if core is None else ["taskset", "-c", str(core), *cmd]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((LOOPBACK, 0))
        port: int = sock.getsockname()[1]
        return port


def tail(path: Path, lines: int = 12) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return ""
    return "\n".join(text.strip().splitlines()[-lines:])


def _stop_group(proc: subprocess.Popen[bytes], grace: float) -> None:
    """SIGTERM the process group, then SIGKILL it if the leader is still there after grace."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=grace)
    # Children (nginx workers, slokit workers) may outlive the leader: sweep the group.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=grace)


class Background:
    """A server process for the length of a ``with`` block, output in ``log``."""

    def __init__(self, name: str, cmd: list[str], log: Path, *, grace: float = 5.0) -> None:
        self.name, self.cmd, self.log, self.grace = name, cmd, log, grace
        self.proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Self:
        with self.log.open("wb") as out:
            self.proc = subprocess.Popen(
                self.cmd,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self.proc is not None:
            _stop_group(self.proc, self.grace)

    def wait_port(self, port: int, timeout: float = 15.0) -> None:
        """Return once ``port`` accepts connections; RuntimeError with the log tail otherwise."""
        assert self.proc is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"{self.name} exited with code {self.proc.returncode}:\n{tail(self.log)}"
                )
            try:
                with socket.create_connection((LOOPBACK, port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"{self.name} did not listen on {port} within {timeout:g} s")


@dataclass(frozen=True)
class Finished:
    returncode: int | None
    """None when the command timed out and was stopped."""
    output: str


def run_to_end(
    cmd: list[str], log: Path, timeout: float, env: dict[str, str] | None = None
) -> Finished:
    """Run a load generator to completion; on timeout, error or Ctrl-C, stop its whole group.

    ``env`` is added to this process's environment for the command."""
    with log.open("wb") as out:
        proc = subprocess.Popen(
            cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True, env={**os.environ, **(env or {})},
        )  # fmt: skip
    try:
        code: int | None = proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        code = None
    finally:
        _stop_group(proc, grace=10.0)
    return Finished(code, log.read_text(errors="replace"))
