"""A real Prometheus for the tests: /usr/bin/prometheus on a free loopback port, scraping the
given targets every second, with its storage in a temporary directory; always stopped."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import pytest

from tests._support import free_port

PROMETHEUS = Path("/usr/bin/prometheus")


def prometheus_binary() -> Path:
    """The Prometheus binary; skips the test when there is none, unless CI is set (then a
    missing Prometheus is a failure: CI must run these tests)."""
    found = PROMETHEUS if PROMETHEUS.exists() else None
    if found is None and (which := shutil.which("prometheus")):
        found = Path(which)
    if found is None:
        if os.environ.get("CI"):
            pytest.fail(f"{PROMETHEUS} is missing and CI is set: install Prometheus")
        pytest.skip(f"{PROMETHEUS} is not installed")
    return found


class Prometheus:
    """``with Prometheus(tmp_path, {"job": "127.0.0.1:port"}) as prom: prom.url``."""

    def __init__(self, workdir: Path, targets: dict[str, str], *, start_timeout: float = 20.0):
        self.binary = prometheus_binary()
        self.workdir = workdir
        self.targets = targets
        self.start_timeout = start_timeout
        self.port = 0
        self._proc: subprocess.Popen[bytes] | None = None
        self._log = workdir / "prometheus.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> Self:
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _config(self) -> Path:
        jobs = [
            {
                "job_name": job,
                "scrape_interval": "1s",
                "scrape_timeout": "1s",
                "static_configs": [{"targets": [target]}],
            }
            for job, target in self.targets.items()
        ]
        config = {
            "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
            "scrape_configs": jobs,
        }
        path = self.workdir / "prometheus.yml"
        path.write_text(json.dumps(config, indent=2), encoding="utf-8")  # JSON is YAML
        return path

    def _start(self) -> None:
        config = self._config()
        for _attempt in range(3):  # another process may take the free port first
            self.port = free_port()
            storage = self.workdir / f"data-{self.port}"
            with self._log.open("ab") as log:
                self._proc = subprocess.Popen(
                    [
                        str(self.binary),
                        f"--config.file={config}",
                        f"--storage.tsdb.path={storage}",
                        f"--web.listen-address=127.0.0.1:{self.port}",
                        "--log.level=warn",
                    ],
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.DEVNULL,
                    stderr=log,
                )
            if self._wait_ready():
                return
            self._reap()
        tail = self._log.read_text(errors="replace")[-2000:]
        raise RuntimeError(f"Prometheus did not become ready; its log ends with:\n{tail}")

    def _wait_ready(self) -> bool:
        assert self._proc is not None
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                return False
            try:
                with urllib.request.urlopen(self.url + "/-/ready", timeout=1) as response:
                    if response.status == 200:
                        return True
            except urllib.error.HTTPError as exc:
                exc.close()  # 503 while it starts
            except OSError:
                pass
            time.sleep(0.05)
        return False

    def _reap(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)

    def stop(self) -> None:
        """SIGTERM, wait, then SIGKILL. Idempotent."""
        self._reap()

    def query(self, expr: str, at: float | None = None) -> list[dict[str, Any]]:
        """The samples of an instant query (the tests' own view, independent of slokit)."""
        params = {"query": expr} | ({"time": f"{at:.3f}"} if at is not None else {})
        url = f"{self.url}/api/v1/query?{urllib.parse.urlencode(params)}"
        with urllib.request.urlopen(url, timeout=5) as response:
            data = json.load(response)
        assert data["status"] == "success", data
        result: list[dict[str, Any]] = data["data"]["result"]
        return result

    def value(self, expr: str, at: float | None = None) -> float | None:
        """The value of a one-sample instant query; None when it is empty."""
        result = self.query(expr, at)
        assert len(result) <= 1, result
        return float(result[0]["value"][1]) if result else None

    def wait_for(
        self, expr: str, done: Callable[[float | None], bool], timeout: float = 15.0
    ) -> float | None:
        """Poll ``expr`` until ``done(value)``; fails the test after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        value = self.value(expr)
        while not done(value):
            if time.monotonic() > deadline:
                pytest.fail(f"Prometheus: {expr} is still {value} after {timeout:g} s")
            time.sleep(0.1)
            value = self.value(expr)
        return value
