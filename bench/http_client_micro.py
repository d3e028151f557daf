"""Micro-benchmark of slokit's HTTP client alone (no engine, no recording).

Starts a minimal keep-alive HTTP server (raw uvloop protocol, no framework) in a subprocess
on loopback, then measures the client on uvloop for ``--seconds`` each: one connection
sending sequentially, then 50 concurrent requests on 50 connections. Prints req/s.

    .venv/bin/python bench/http_client_micro.py                 # raw server
    .venv/bin/python bench/http_client_micro.py --server nginx  # nginx (if installed)
    .venv/bin/python bench/http_client_micro.py --wrk           # also wrk on the same server
    .venv/bin/python bench/http_client_micro.py --profile       # cProfile the 50-way run

With two or more cores and ``taskset``, the client runs on the first core and the server
on the second, so the figure is the client's one-core throughput.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import os
import pstats
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESPONSE = (
    b"HTTP/1.1 200 OK\r\nServer: micro\r\nDate: Mon, 23 Nov 2026 00:00:00 GMT\r\n"
    b"Content-Type: text/plain\r\nContent-Length: 2\r\nConnection: keep-alive\r\n\r\nok"
)
NGINX_CONF = """
worker_processes 1;
daemon off;
master_process off;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    keepalive_requests 1000000;
    client_body_temp_path {prefix}/body;
    proxy_temp_path {prefix}/proxy;
    fastcgi_temp_path {prefix}/fastcgi;
    uwsgi_temp_path {prefix}/uwsgi;
    scgi_temp_path {prefix}/scgi;
    server {{
        listen 127.0.0.1:{port} backlog=1024;
        location / {{ default_type text/plain; return 200 "ok"; }}
    }}
}}
"""


def serve(port: int) -> None:
    """The raw server: answer every request (GET, no body) with the same bytes."""
    import uvloop

    class Answer(asyncio.Protocol):
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            self.transport: asyncio.Transport = transport  # type: ignore[assignment]

        def data_received(self, data: bytes) -> None:
            count = data.count(b"\r\n\r\n")
            if count:
                self.transport.write(RESPONSE * count)

    async def main() -> None:
        loop = asyncio.get_running_loop()
        server = await loop.create_server(Answer, "127.0.0.1", port, backlog=1024)
        async with server:
            await server.serve_forever()

    uvloop.run(main())


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _cores() -> tuple[list[str], list[str]]:
    allowed = sorted(os.sched_getaffinity(0))
    if len(allowed) < 2 or shutil.which("taskset") is None:
        return [], []
    return ["taskset", "-c", str(allowed[0])], ["taskset", "-c", str(allowed[1])]


def _wait_port(port: int, proc: subprocess.Popen[bytes]) -> None:
    limit = time.monotonic() + 15
    while time.monotonic() < limit:
        if proc.poll() is not None:
            raise SystemExit(f"server exited with code {proc.returncode}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.05)
    raise SystemExit("server did not start")


@contextlib.contextmanager
def running_server(kind: str, server_pin: list[str]) -> Iterator[str]:
    port = _free_port()
    with tempfile.TemporaryDirectory() as tmp:
        if kind == "nginx":
            nginx = shutil.which("nginx") or "/usr/sbin/nginx"
            conf = Path(tmp) / "nginx.conf"
            conf.write_text(NGINX_CONF.format(prefix=tmp, port=port))
            cmd = [nginx, "-p", tmp, "-c", str(conf), "-e", f"{tmp}/error.log"]
        else:
            cmd = [sys.executable, __file__, "--serve", str(port)]
        proc = subprocess.Popen([*server_pin, *cmd], start_new_session=True)
        try:
            _wait_port(port, proc)
            yield f"http://127.0.0.1:{port}/"
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(5)


async def _load(url: str, concurrency: int, seconds: float) -> float:
    from slokit.load._http import HttpClient

    async with HttpClient() as client:
        prepared = client.prepare("GET", url)
        done = 0
        stop = 0.0

        async def user() -> None:
            nonlocal done
            send = client.send
            clock = time.perf_counter
            while clock() < stop:
                response = await send(prepared)
                if response.status != 200:
                    raise SystemExit(f"unexpected status {response.status}")
                done += 1

        stop = time.perf_counter() + 0.3  # warm-up: connections opened, caches hot
        await asyncio.gather(*(user() for _ in range(concurrency)))
        done = 0
        started = time.perf_counter()
        stop = started + seconds
        await asyncio.gather(*(user() for _ in range(concurrency)))
        return done / (time.perf_counter() - started)


def measure(url: str, concurrency: int, seconds: float, profile: bool = False) -> float:
    import uvloop

    if not profile:
        return uvloop.run(_load(url, concurrency, seconds))
    profiler = cProfile.Profile()
    profiler.enable()
    rate = uvloop.run(_load(url, concurrency, seconds))
    profiler.disable()
    pstats.Stats(profiler).sort_stats("tottime").print_stats(25)
    return rate


def run_wrk(url: str, seconds: float, pin: list[str]) -> float | None:
    if shutil.which("wrk") is None:
        return None
    out = subprocess.run(
        [*pin, "wrk", "-t1", "-c50", f"-d{seconds:g}s", url],
        capture_output=True,
        text=True,
        timeout=seconds + 30,
        check=False,
    ).stdout
    match = re.search(r"Requests/sec:\s+([\d.]+)", out)
    return float(match.group(1)) if match else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--server", choices=["raw", "nginx"], default="raw")
    parser.add_argument("--wrk", action="store_true", help="also measure wrk -t1 -c50")
    parser.add_argument("--profile", action="store_true", help="cProfile the 50-way run")
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve)
        return
    client_pin, server_pin = _cores()
    if client_pin:
        os.sched_setaffinity(0, {int(client_pin[-1])})
    with running_server(args.server, server_pin) as url:
        sequential = measure(url, 1, args.seconds)
        print(f"sequential (1 connection):      {sequential:10,.0f} req/s")
        concurrent = measure(url, 50, args.seconds, args.profile)
        print(f"concurrent (50 connections):    {concurrent:10,.0f} req/s")
        if args.wrk:
            wrk = run_wrk(url, args.seconds, client_pin)
            if wrk is None:
                print("wrk: not installed or no result")
            else:
                print(f"wrk -t1 -c50 (same server):     {wrk:10,.0f} req/s")
                print(f"client / wrk:                   {concurrent / wrk:10.2f}")


if __name__ == "__main__":
    main()
