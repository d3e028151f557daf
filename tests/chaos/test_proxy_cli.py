"""``slokit proxy`` as a real subprocess, driven over HTTP the way Toxiproxy's README does it."""

from __future__ import annotations

import contextlib
import json
import os
import select
import signal
import socket
import socketserver
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests._support import free_port, run_slokit, slokit_cmd, stop, wait_port

pytestmark = pytest.mark.timeout(60)


class _Echo(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        with contextlib.suppress(OSError):
            while data := self.request.recv(65536):
                self.request.sendall(data)


@contextlib.contextmanager
def echo_server() -> Iterator[str]:
    """A threaded TCP echo server on loopback; yields host:port."""
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _Echo)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def echoes(listen: str) -> bool:
    host, port = listen.rsplit(":", 1)
    try:
        with socket.create_connection((host, int(port)), timeout=5) as sock:
            sock.sendall(b"ping")
            return sock.recv(4) == b"ping"
    except OSError:
        return False


@contextlib.contextmanager
def slokit_proxy(*args: str) -> Iterator[subprocess.Popen[str]]:
    env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "160"}
    proc = subprocess.Popen(
        slokit_cmd("proxy", *args),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        yield proc
    finally:
        stop(proc)


def first_line(proc: subprocess.Popen[str], timeout: float = 20.0) -> str:
    assert proc.stdout is not None
    ready, _, _ = select.select([proc.stdout], [], [], timeout)
    assert ready, "slokit proxy printed nothing"
    return proc.stdout.readline()


def finish(proc: subprocess.Popen[str], signum: int) -> tuple[int, str, str]:
    proc.send_signal(signum)
    out, err = proc.communicate(timeout=15)
    return proc.returncode, out, err


def test_the_toxiproxy_readme_calls_work_against_slokit_proxy() -> None:
    port = free_port()
    with echo_server() as upstream, slokit_proxy("--listen", f"127.0.0.1:{port}") as proc:
        wait_port(port, proc)
        api = f"http://127.0.0.1:{port}"
        with httpx.Client(base_url=api, timeout=5) as http:
            # toxiproxy-cli create -l localhost:PORT -u UPSTREAM redis
            listen_port = free_port()
            created = http.post(
                "/proxies",
                json={"name": "redis", "listen": f"localhost:{listen_port}", "upstream": upstream},
            )
            assert created.status_code == 201
            proxy = created.json()
            assert proxy == {
                "name": "redis",
                "listen": f"127.0.0.1:{listen_port}",
                "upstream": upstream,
                "enabled": True,
                "toxics": [],
            }
            assert http.get("/proxies").json() == {"redis": proxy}
            assert echoes(proxy["listen"])

            # toxiproxy-cli toxic add -t latency -a latency=1000 redis
            toxic = http.post(
                "/proxies/redis/toxics", json={"type": "latency", "attributes": {"latency": 1000}}
            )
            assert toxic.status_code == 200
            assert toxic.json()["name"] == "latency_downstream"
            update = http.post(
                "/proxies/redis/toxics/latency_downstream", json={"attributes": {"latency": 50}}
            )
            assert update.json()["attributes"] == {"latency": 50, "jitter": 0}
            assert echoes(proxy["listen"])
            # toxiproxy-cli toxic remove -n latency_downstream redis
            assert http.delete("/proxies/redis/toxics/latency_downstream").status_code == 204

            # Down: POST the proxy with enabled false, and back.
            assert http.post("/proxies/redis", json={"enabled": False}).json()["enabled"] is False
            assert not echoes(proxy["listen"])
            assert http.post("/proxies/redis", json={"enabled": True}).json()["enabled"] is True
            assert echoes(proxy["listen"])

            populated = http.post(
                "/populate", json=[{"name": "web", "listen": "127.0.0.1:0", "upstream": upstream}]
            )
            assert populated.status_code == 201
            assert [p["name"] for p in populated.json()["proxies"]] == ["web"]
            http.post("/proxies/web/toxics", json={"type": "timeout", "attributes": {}})
            assert http.post("/reset").status_code == 204
            assert http.get("/proxies/web/toxics").json() == []
            assert http.get("/version").json()["version"]
            assert "slokit_proxy_connections_total" in http.get("/metrics").text

            # toxiproxy-cli delete redis
            assert http.delete("/proxies/redis").status_code == 204
            assert not echoes(proxy["listen"])

        code, out, err = finish(proc, signal.SIGTERM)
    assert code == 0, err
    assert f"fault proxy API on {api}" in out
    assert "stopped" in err


def test_a_config_file_is_loaded_at_start_and_port_zero_is_reported(tmp_path: Path) -> None:
    with echo_server() as upstream:
        config = tmp_path / "toxiproxy.json"
        proxies = [
            {"name": "web", "listen": "127.0.0.1:0", "upstream": upstream, "enabled": True},
            {"name": "db", "listen": "127.0.0.1:0", "upstream": upstream, "enabled": False},
        ]
        config.write_text(json.dumps(proxies), encoding="utf-8")
        with slokit_proxy("--listen", "127.0.0.1:0", "--config", str(config)) as proc:
            line = first_line(proc)
            assert line.startswith("fault proxy API on http://127.0.0.1:")
            api = line.split()[4]
            listed = httpx.get(f"{api}/proxies", timeout=5).json()
            assert sorted(listed) == ["db", "web"]
            assert listed["db"]["enabled"] is False
            assert echoes(listed["web"]["listen"])
            code, _, err = finish(proc, signal.SIGINT)
    assert code == 0, err
    assert "proxy web: 127.0.0.1:" in err
    assert "proxy db: 127.0.0.1:0 -> " in err
    assert "(disabled)" in err


def test_a_remote_listen_address_needs_allow_remote() -> None:
    done = run_slokit("proxy", "--listen", "0.0.0.0:8474", timeout=30)
    assert done.returncode == 2
    assert "not a loopback address" in done.stderr
    assert "--allow-remote" in done.stderr


def test_a_bad_config_file_is_a_usage_error(tmp_path: Path) -> None:
    config = tmp_path / "proxies.json"
    config.write_text('[{"name": "web", "listen": "127.0.0.1:0"}]', encoding="utf-8")
    done = run_slokit("proxy", "--listen", "127.0.0.1:0", "--config", str(config), timeout=30)
    assert done.returncode == 2
    assert "missing required field: upstream at proxy 1" in done.stderr


def test_a_busy_api_port_is_a_usage_error() -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        done = run_slokit("proxy", "--listen", f"127.0.0.1:{port}", timeout=30)
    assert done.returncode == 2
    assert f"--listen 127.0.0.1:{port}: cannot listen there" in done.stderr
