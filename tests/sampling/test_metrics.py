"""The metrics source against a real prometheus-client HTTP server in a subprocess."""

from __future__ import annotations

import http.server
import os
import re
import subprocess
import sys
import threading
from collections.abc import Iterator

import psutil
import pytest

from slokit.errors import UsageError
from slokit.sampling import ResourceSampler
from slokit.sampling._prometheus import Selector, parse_selector
from tests._support import free_port, stop, wait_port
from tests.sampling.test_process import wait_note, wait_sample

MB = 1 << 20

# prometheus-client's own server: process_* metrics for its process, and a labelled gauge.
# "close" shuts the HTTP server down (the process lives on), "open" brings it back.
SERVER = """
import sys
from prometheus_client import Gauge, start_http_server
pool = Gauge("db_pool_in_use", "Connections in use.", ["pool"])
pool.labels(pool="main").set(3)
pool.labels(pool="replica").set(4)
port = int(sys.argv[1])
server, _ = start_http_server(port, addr="127.0.0.1")
print("ready", flush=True)
for line in sys.stdin:
    if line.strip() == "close":
        server.shutdown()
        server.server_close()
    elif line.strip() == "open":
        server, _ = start_http_server(port, addr="127.0.0.1")
    print("ok", flush=True)
"""


class MetricsServer:
    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/metrics"
        self.proc = subprocess.Popen(
            [sys.executable, "-c", SERVER, str(self.port)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
        )
        assert self.proc.stdout is not None
        assert self.proc.stdout.readline().strip() == b"ready"
        wait_port(self.port, self.proc)

    def do(self, command: str) -> None:
        assert self.proc.stdin is not None
        assert self.proc.stdout is not None
        self.proc.stdin.write(command.encode() + b"\n")
        self.proc.stdin.flush()
        assert self.proc.stdout.readline().strip() == b"ok"


@pytest.fixture
def server() -> Iterator[MetricsServer]:
    s = MetricsServer()
    try:
        yield s
    finally:
        stop(s.proc)


def test_process_metrics_and_series_are_read(server: MetricsServer) -> None:
    series = {
        "main": 'db_pool_in_use{pool="main"}',
        "pools": "db_pool_in_use",  # both pools, summed
        "spaced": 'db_pool_in_use{ pool = "replica" , }',
    }
    sampler = ResourceSampler(interval=0.1, metrics=server.url, series=series)
    sampler.check()
    with sampler:
        sample = wait_sample(sampler, lambda s: "cpu" in s.values)
    first = sampler.samples[0].values
    assert "cpu" not in first  # a rate needs two scrapes
    actual = psutil.Process(server.proc.pid).memory_info().rss
    values = sample.values
    assert actual / 2 <= values["rss"] <= actual * 2
    assert values["fds"] >= 3
    assert 0.0 <= values["cpu"] <= 2.0
    assert values["main"] == 3.0
    assert values["pools"] == 7.0
    assert values["spaced"] == 4.0
    assert "threads" not in values  # prometheus-client does not export it
    assert sampler.notes == []


def test_the_process_source_wins_over_metrics(server: MetricsServer) -> None:
    ballast = b"x" * (120 * MB)  # this process is sampled; the server is far smaller
    server_rss = psutil.Process(server.proc.pid).memory_info().rss
    assert server_rss < 100 * MB
    with ResourceSampler(interval=0.1, pid=os.getpid(), metrics=server.url) as sampler:
        sample = wait_sample(sampler, lambda s: "cpu" in s.values)
    assert sample.values["rss"] >= len(ballast)
    assert "threads" in sample.values


def test_a_metrics_url_that_dies_is_noted_once_and_comes_back(server: MetricsServer) -> None:
    series = {"main": 'db_pool_in_use{pool="main"}'}
    # The server's process stays up throughout: the process source must keep going.
    sampler = ResourceSampler(interval=0.1, pid=server.proc.pid, metrics=server.url, series=series)
    with sampler:
        wait_sample(sampler, lambda s: "main" in s.values)
        server.do("close")
        down = wait_note(sampler, "stopped answering")
        mark = len(sampler.samples)
        wait_sample(sampler, lambda s: True, after=mark + 3)
        during = sampler.samples[mark:]
        server.do("open")
        up = wait_note(sampler, "answers again")
        wait_sample(sampler, lambda s: "main" in s.values, after=len(sampler.samples))
    assert down.startswith(f"resources.metrics: {server.url} stopped answering at ")
    # ConnectError; a scrape caught in the middle of the shutdown may see another httpx error.
    assert re.search(r" at [0-9.]+s \((Connect|Read|RemoteProtocol)Error\); ", down), down
    assert "missing from then on" in down
    assert up.startswith(f"resources.metrics: {server.url} answers again at ")
    assert sampler.notes == [down, up]
    assert all("rss" in s.values and "main" not in s.values for s in during)


def test_check_names_a_url_nothing_answers() -> None:
    url = f"http://127.0.0.1:{free_port()}/metrics"
    with pytest.raises(UsageError, match=r"^resources\.metrics: .* did not answer \(ConnectError"):
        ResourceSampler(metrics=url).check()


class _Pages(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        status, body = (200, b"<html><body>hello</body></html>")
        if self.path == "/missing":
            status, body = 404, b"not found"
        self.send_response(status)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def pages() -> Iterator[str]:
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Pages)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


def test_check_names_a_url_that_is_not_a_metrics_endpoint(pages: str) -> None:
    with pytest.raises(UsageError, match=r"^resources\.metrics: .* answered HTTP 404, not 200"):
        ResourceSampler(metrics=f"{pages}/missing").check()
    with pytest.raises(UsageError, match=r"^resources\.metrics: .* but not Prometheus text"):
        ResourceSampler(metrics=f"{pages}/").check()


def test_check_names_a_series_that_matches_nothing(server: MetricsServer) -> None:
    series = {
        "main": 'db_pool_in_use{pool="main"}',
        "other": 'db_pool_in_use{pool="other"}',
        "cpu_total": "process_cpu_seconds",
    }
    with pytest.raises(UsageError) as caught:
        ResourceSampler(metrics=server.url, series=series).check()
    message = str(caught.value)
    assert message.startswith("resources: 2 problems:")
    assert "resources.series.main" not in message
    assert 'resources.series.other: db_pool_in_use{pool="other"} matches no sample' in message
    assert 'pool="main"' in message  # what the endpoint does have
    assert "resources.series.cpu_total" in message
    assert "did you mean process_cpu_seconds_total?" in message


def test_selectors() -> None:
    assert parse_selector("f", "up") == Selector("up")
    assert parse_selector("f", 'a:b_c{x="1",y="q\\"uote"}') == Selector(
        "a:b_c", (("x", "1"), ("y", 'q"uote'))
    )
    assert parse_selector("f", "up{}") == Selector("up")
    for bad, why in [
        ('up{pool=~"m.*"}', "only exact label equality"),
        ('up{pool!="m"}', "only exact label equality"),
        ("up{pool=main}", "cannot read the labels"),
        ('up{a="1" b="2"}', "separate"),
        ("1up", "not a sample selector"),
        ("", "not a sample selector"),
    ]:
        with pytest.raises(UsageError, match=rf"^resources\.series\.x: .*{why}"):
            ResourceSampler(metrics="http://h/metrics", series={"x": bad})
