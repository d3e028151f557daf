"""Running the demo: in the foreground (:func:`serve`) or in a subprocess (:class:`DemoServer`).

The subprocess keeps the demo's event loop and CPU apart from the load generator's, as a real
service would be. It is always stopped: on ``__exit__``, on a failed start, at interpreter exit,
and, should the parent be killed outright, by the child itself when its stdin pipe closes.
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import errno
import http.client
import importlib.resources
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import IO, Self

from slokit.errors import RunError

__all__ = ["EXIT_ADDRESS_IN_USE", "DemoServer", "main", "serve", "spec_path", "terminate"]

EXIT_ADDRESS_IN_USE = 98
"""Exit code of ``python -m slokit.demo`` when its port is taken (DemoServer then retries)."""

_PORT_ATTEMPTS = 5


def spec_path() -> Path:
    """Path of the demo's packaged spec, ``slokit.yaml``."""
    ref = importlib.resources.files("slokit.demo").joinpath("slokit.yaml")
    # The package is installed as plain files (editable or wheel), never zipped.
    return Path(str(ref))


def _bind(host: str, port: int) -> socket.socket:
    family, kind, proto, _, address = socket.getaddrinfo(
        host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
    )[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
    except BaseException:
        sock.close()
        raise
    return sock


def _url(host: str, port: int) -> str:
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def serve(
    host: str = "127.0.0.1",
    port: int = 8000,
    *,
    broken: bool = False,
    outage: tuple[float, float] | None = None,
    seed: int = 7,
    provider_url: str | None = None,
    provider_only: bool = False,
) -> None:
    """Serve the demo with uvicorn in the foreground until SIGINT/SIGTERM.

    ``port=0`` picks a free port and prints the URL to stderr. Raises RunError (caused by
    the OSError) when the address cannot be bound. ``provider_only=True`` serves the quote
    provider alone; ``provider_url`` makes the demo price through such a remote provider.
    """
    # Bind before the heavy imports so a taken port fails fast.
    try:
        sock = _bind(host, port)
    except OSError as exc:
        raise RunError(f"the demo service cannot listen on {host}:{port}: {exc}") from exc
    with sock:
        import importlib.util

        import uvicorn

        from slokit.demo._app import create_app

        if port == 0:
            url = _url(host, sock.getsockname()[1])
            print(f"slokit demo listening on {url}", file=sys.stderr, flush=True)
        if provider_only:
            from slokit.demo._provider import BROKEN, HEALTHY
            from slokit.demo._remote import provider_app

            profile = BROKEN if broken else HEALTHY
            app = provider_app(seed=seed, profile=profile, outage=outage)
        else:
            app = create_app(broken=broken, outage=outage, seed=seed, provider_url=provider_url)
        config = uvicorn.Config(
            app,
            log_level="warning",
            access_log=False,
            loop="uvloop" if importlib.util.find_spec("uvloop") else "auto",
            http="httptools",
            # Load generators pool connections: a short idle timeout (uvicorn's default is 5 s)
            # makes the server close them just as they are reused, which shows up as errors.
            timeout_keep_alive=75,
            # Keep-alive clients must not hold a stop hostage.
            timeout_graceful_shutdown=2,
        )
        uvicorn.Server(config).run(sockets=[sock])


def _exit_when_stdin_closes() -> None:
    """Stop this process when the parent's pipe closes: the parent died or let go of us."""

    def watch() -> None:
        # os.read, not sys.stdin: a daemon thread blocked inside a buffered reader holds its
        # lock, and the interpreter aborts when it tries to take that lock at exit.
        with contextlib.suppress(OSError):
            while os.read(0, 4096):
                pass
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=watch, name="slokit-demo-parent-watch", daemon=True).start()


def _window(text: str) -> tuple[float, float]:
    start, sep, end = text.partition(":")
    try:
        window = (float(start), float(end))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected START:END in seconds, got {text!r}") from None
    if not sep or window[0] < 0 or window[1] <= window[0]:
        raise argparse.ArgumentTypeError(f"expected 0 <= START < END, got {text!r}")
    return window


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m slokit.demo``."""
    parser = argparse.ArgumentParser(
        prog="python -m slokit.demo",
        description="Serve the slokit demo service (orders API, flaky provider) with uvicorn.",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000, help="0 picks a free port")
    parser.add_argument("--break", dest="broken", action="store_true", help="flaky provider")
    parser.add_argument(
        "--outage",
        type=_window,
        help="START:END seconds after the provider's first call during which it is broken",
    )
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--provider-url", help="price through a remote provider (one served with --provider)"
    )
    parser.add_argument(
        "--provider", action="store_true", help="serve only the quote provider (GET /quotes/SKU)"
    )
    parser.add_argument("--watch-stdin", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.watch_stdin:
        _exit_when_stdin_closes()
    try:
        serve(
            args.host,
            args.port,
            broken=args.broken,
            outage=args.outage,
            seed=args.seed,
            provider_url=args.provider_url,
            provider_only=args.provider,
        )
    except RunError as exc:
        print(f"slokit demo: {exc}", file=sys.stderr)
        cause = exc.__cause__
        in_use = isinstance(cause, OSError) and cause.errno == errno.EADDRINUSE
        return EXIT_ADDRESS_IN_USE if in_use else 1
    except KeyboardInterrupt:
        pass
    return 0


def terminate(proc: subprocess.Popen[bytes], grace: float) -> None:
    """SIGTERM, then SIGKILL after ``grace`` seconds; waits for the process either way."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _free_port(host: str) -> int:
    with _bind(host, 0) as sock:
        port: int = sock.getsockname()[1]
        return port


def _livez(host: str, port: int) -> bool:
    conn = http.client.HTTPConnection(host, port, timeout=1.0)
    try:
        conn.request("GET", "/livez")
        return conn.getresponse().status == 200
    except (OSError, http.client.HTTPException):
        return False
    finally:
        conn.close()


class DemoServer:
    """The demo service in a subprocess on a free loopback port, for ``with`` blocks.

    >>> with DemoServer() as server:       # doctest: +SKIP
    ...     urllib.request.urlopen(server.url + "/livez")
    """

    def __init__(
        self,
        *,
        broken: bool = False,
        outage: tuple[float, float] | None = None,
        seed: int = 7,
        host: str = "127.0.0.1",
        port: int | None = None,
        startup_timeout: float = 20.0,
        grace: float = 5.0,
        provider_url: str | None = None,
        provider_only: bool = False,
        fault_token: str | None = None,
    ) -> None:
        self.fault_token = fault_token
        self.provider_url = provider_url
        self.provider_only = provider_only
        self.broken = broken
        self.outage = outage
        self.seed = seed
        self.host = host
        self._wanted_port = port
        self.startup_timeout = startup_timeout
        self.grace = grace
        self._port: int | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._stderr: IO[bytes] | None = None

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("DemoServer is not running; use it in a `with` block")
        return self._port

    @property
    def url(self) -> str:
        return _url(self.host, self.port)

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def start(self) -> None:
        """Start the subprocess and wait until ``/livez`` answers; RunError when it does not."""
        if self._proc is not None:
            raise RuntimeError("DemoServer is already running")
        atexit.register(self.stop)
        try:
            attempts = 1 if self._wanted_port is not None else _PORT_ATTEMPTS
            for attempt in range(attempts):
                port = self._wanted_port if self._wanted_port is not None else _free_port(self.host)
                self._launch(port)
                if self._wait_ready(port):
                    self._port = port
                    return
                retry = (
                    self._proc is not None
                    and self._proc.returncode == EXIT_ADDRESS_IN_USE
                    and attempt + 1 < attempts
                )
                if not retry:
                    raise RunError(self._startup_failure(port))
                self._reap()
        except BaseException:
            self.stop()
            raise

    def _launch(self, port: int) -> None:
        cmd = [sys.executable, "-m", "slokit.demo", "--host", self.host, "--port", str(port)]
        cmd += ["--seed", str(self.seed), "--watch-stdin"]
        if self.broken:
            cmd.append("--break")
        if self.outage is not None:
            cmd += ["--outage", f"{self.outage[0]:g}:{self.outage[1]:g}"]
        if self.provider_url is not None:
            cmd += ["--provider-url", self.provider_url]
        if self.provider_only:
            cmd.append("--provider")
        # A file, not a pipe: nobody reads stderr while the server runs, and a full pipe blocks.
        # It lives as long as the process and is closed by _reap().
        self._stderr = tempfile.TemporaryFile()  # noqa: SIM115
        env = dict(os.environ)
        env.pop("SLOKIT_FAULT_TOKEN", None)
        if self.fault_token is not None:
            env["SLOKIT_FAULT_TOKEN"] = self.fault_token
        self._proc = subprocess.Popen(
            cmd, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=self._stderr, env=env
        )

    def _wait_ready(self, port: int) -> bool:
        assert self._proc is not None
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                return False
            if _livez(self.host, port):
                return True
            time.sleep(0.05)
        return False

    def _stderr_tail(self, lines: int = 20) -> str:
        if self._stderr is None:
            return ""
        self._stderr.seek(0)
        text = self._stderr.read().decode(errors="replace")
        return "\n".join(text.strip().splitlines()[-lines:])

    def _startup_failure(self, port: int) -> str:
        assert self._proc is not None
        code = self._proc.poll()
        if code is None:
            head = f"the demo service did not answer /livez within {self.startup_timeout:g} s"
        else:
            head = f"the demo service exited with code {code} before answering /livez"
        tail = self._stderr_tail()
        where = f" on {self.host}:{port}"
        return f"{head}{where}" + (f"; its stderr ends with:\n{tail}" if tail else "")

    def _reap(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None:
            terminate(proc, self.grace)
            if proc.stdin is not None:
                with contextlib.suppress(OSError):
                    proc.stdin.close()
        if self._stderr is not None:
            self._stderr.close()
            self._stderr = None

    def stop(self) -> None:
        """Stop the subprocess: SIGTERM, then SIGKILL after ``grace`` seconds. Idempotent."""
        atexit.unregister(self.stop)
        self._port = None
        self._reap()
