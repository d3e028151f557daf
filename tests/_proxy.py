"""``slokit proxy`` as a real subprocess with one proxy in front of a loopback upstream."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests._support import free_port, stop, wait_port


@contextmanager
def fault_proxy(name: str, upstream: int, tmp: Path) -> Iterator[tuple[str, int]]:
    """(control API URL, the proxy's listen port); the proxy is always stopped."""
    api_port, listen_port = free_port(), free_port()
    config = tmp / f"proxy-{name}.json"
    proxies = [{"name": name, "listen": f"127.0.0.1:{listen_port}",
                "upstream": f"127.0.0.1:{upstream}"}]  # fmt: skip
    config.write_text(json.dumps(proxies), encoding="utf-8")
    argv = [sys.executable, "-m", "slokit", "proxy", "--listen", f"127.0.0.1:{api_port}"]
    proc = subprocess.Popen(
        [*argv, "--config", str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        wait_port(api_port, proc)  # type: ignore[arg-type]
        wait_port(listen_port, proc)  # type: ignore[arg-type]
        yield f"http://127.0.0.1:{api_port}", listen_port
    finally:
        stop(proc)  # type: ignore[arg-type]
