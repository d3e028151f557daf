"""Helpers the tests share: real servers on loopback and running the real CLI."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import IO

ROOT = Path(__file__).resolve().parent.parent
SERVERS = ROOT / "tests" / "servers"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def wait_port(port: int, proc: subprocess.Popen[bytes], timeout: float = 20.0) -> None:
    limit = time.monotonic() + timeout
    while time.monotonic() < limit:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited early with code {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"server on port {port} did not come up within {timeout} s")


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)
    for pipe in (proc.stdin, proc.stdout, proc.stderr):
        if pipe is not None:
            pipe.close()


class UvicornApp:
    """An ASGI app from tests/servers under real uvicorn in a subprocess."""

    def __init__(
        self,
        target: str = "asgi_app:app",
        *,
        env: dict[str, str] | None = None,
        args: Sequence[str] = (),
        stdout: int | IO[bytes] | None = subprocess.DEVNULL,
    ) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                target,
                "--app-dir",
                str(SERVERS),
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--log-level",
                "warning",
                "--no-access-log",
                *args,
            ],
            stdout=stdout,
            stderr=subprocess.PIPE,
            env={**os.environ, **(env or {})},
        )
        wait_port(self.port, self.proc)

    def kill(self) -> None:
        stop(self.proc)


def slokit_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "slokit", *args]


def run_slokit(
    *args: str, timeout: float = 90.0, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    # Wide: pytest's temporary paths (longer under xdist) must not be folded mid-word.
    env = {**os.environ, "COLUMNS": "400", "NO_COLOR": "1"}
    return subprocess.run(
        slokit_cmd(*args), capture_output=True, text=True, timeout=timeout, cwd=cwd, env=env
    )


class WsServer:
    """tests/servers/ws_server.py in a subprocess on a free loopback port."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tests.servers.ws_server", str(self.port)],
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            wait_port(self.port, self.proc)
        except BaseException:
            stop(self.proc)
            raise

    def kill(self) -> None:
        stop(self.proc)


def stop_processes_of(marker: str, grace: float = 5.0) -> None:
    """Stop every process whose command line holds ``marker`` (a Ray cluster's own
    ``--temp-dir``), and their children: ``ray stop`` would stop every cluster on the machine,
    another test's or the bench's included."""
    import psutil

    found: dict[int, psutil.Process] = {}
    for proc in psutil.process_iter(["cmdline"]):
        if marker in " ".join(proc.info["cmdline"] or ()):
            for member in (proc, *proc.children(recursive=True)):
                found[member.pid] = member
    for member in found.values():
        with contextlib.suppress(psutil.Error):
            member.terminate()
    _, alive = psutil.wait_procs(list(found.values()), timeout=grace)
    for member in alive:
        with contextlib.suppress(psutil.Error):
            member.kill()
    psutil.wait_procs(alive, timeout=grace)
