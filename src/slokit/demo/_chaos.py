"""The demo wired for chaos: provider, ``slokit proxy`` in between, and the demo service.

::

    provider (python -m slokit.demo --provider)  <-  slokit proxy "provider"  <-  demo service

Each part is its own process on a free loopback port, always stopped on exit. The bundled
experiments (``experiments()``) slow the proxied provider down or cut it off while the demo's
``mixed`` scenario runs; ``slokit demo --chaos NAME`` runs one.
"""

from __future__ import annotations

import contextlib
import importlib.resources
import json
import secrets
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import TracebackType
from typing import Self

from slokit.demo._server import DemoServer, terminate
from slokit.errors import RunError

__all__ = ["DemoChaosStack", "experiments"]


def experiments() -> dict[str, Path]:
    """The bundled experiments by name (``provider-latency``, ``provider-cutoff``)."""
    folder = Path(str(importlib.resources.files("slokit.demo").joinpath("chaos")))
    return {p.stem: p for p in sorted(folder.glob("*.yaml"))}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _wait_port(port: int, proc: subprocess.Popen[bytes], timeout: float = 20.0) -> None:
    limit = time.monotonic() + timeout
    while time.monotonic() < limit:
        if proc.poll() is not None:
            raise RunError(f"slokit proxy exited with code {proc.returncode} at start")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.05)
    raise RunError(f"slokit proxy did not listen on 127.0.0.1:{port} within {timeout:g} s")


class DemoChaosStack:
    """Provider, fault proxy and demo service; ``url`` is the demo, ``proxy_api`` the proxy's
    control API (its proxy ``provider`` sits between the two)."""

    def __init__(self, seed: int = 7) -> None:
        self.seed = seed
        self.fault_token = secrets.token_urlsafe(24)
        """The fault-admin token of the demo and of its provider (their HTTP faults are on
        for this stack only)."""
        self.provider = DemoServer(provider_only=True, seed=seed, fault_token=self.fault_token)
        self.demo: DemoServer | None = None
        self.proxy_api = ""
        self._proxy: subprocess.Popen[bytes] | None = None
        self._config: Path | None = None

    @property
    def provider_url(self) -> str:
        """The provider itself (not through the proxy): where its fault endpoint is."""
        return self.provider.url

    @property
    def url(self) -> str:
        if self.demo is None:
            raise RuntimeError("DemoChaosStack is not running; use it in a `with` block")
        return self.demo.url

    def __enter__(self) -> Self:
        try:
            self.provider.start()
            api_port, listen_port = _free_port(), _free_port()
            self._start_proxy(api_port, listen_port)
            self.proxy_api = f"http://127.0.0.1:{api_port}"
            self.demo = DemoServer(
                provider_url=f"http://127.0.0.1:{listen_port}",
                seed=self.seed,
                fault_token=self.fault_token,
            )
            self.demo.start()
        except BaseException:
            self.stop()
            raise
        return self

    def _start_proxy(self, api_port: int, listen_port: int) -> None:
        upstream = f"127.0.0.1:{self.provider.port}"
        config = [{"name": "provider", "listen": f"127.0.0.1:{listen_port}", "upstream": upstream}]
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
            json.dump(config, f)
        self._config = Path(f.name)
        cmd = [sys.executable, "-m", "slokit", "proxy", "--listen", f"127.0.0.1:{api_port}"]
        cmd += ["--config", str(self._config)]
        self._proxy = subprocess.Popen(
            cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        _wait_port(api_port, self._proxy)
        _wait_port(listen_port, self._proxy)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def stop(self) -> None:
        """Stop all three processes. Idempotent."""
        if self.demo is not None:
            self.demo.stop()
            self.demo = None
        proc, self._proxy = self._proxy, None
        if proc is not None:
            terminate(proc, grace=5.0)
        if self._config is not None:
            self._config.unlink(missing_ok=True)
            self._config = None
        self.provider.stop()
