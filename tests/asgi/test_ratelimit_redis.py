"""Rate limits shared through a real Redis, on a real uvicorn service: exact admission under
hundreds of concurrent clients, keys that belong to one service and survive a reordering of
the rules, a Redis that dies and comes back, and the warning for per-worker memory limits."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
import redis

from slokit.asgi._guards import several_workers
from tests._support import free_port, stop, wait_port
from tests.asgi._service import call, metric, service

REDIS_URL = "redis://127.0.0.1:6379/0"


@pytest.fixture
def shared_redis() -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(REDIS_URL)
    try:
        client.ping()
    except redis.RedisError:
        if os.environ.get("CI"):
            pytest.fail(f"Redis is not reachable at {REDIS_URL} and CI is set: start Redis")
        pytest.skip(f"Redis is not reachable at {REDIS_URL} (set CI to make this a failure)")
    try:
        yield client
    finally:
        client.close()


def _service_name() -> str:
    # A service name of its own per test: Redis state outlives the service under test.
    return "t" + uuid.uuid4().hex[:12]


def _dir(tmp_path: Path, name: str) -> Path:
    path = tmp_path / name
    path.mkdir()
    return path


def _spec(name: str) -> str:
    return f"service: {name}\n"


def _keys(client: redis.Redis, pattern: str) -> list[str]:
    return sorted(k.decode() for k in client.scan_iter(match=pattern, count=1000))


async def _storm(url: str, clients: int, requests: int, headers: dict[str, str]) -> list[int]:
    """`requests` GETs from `clients` connections at once; every status, in no order."""
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(requests):
        queue.put_nowait(i)
    statuses: list[int] = []
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=30.0) as client:

        async def worker() -> None:
            while True:
                try:
                    queue.get_nowait()
                except asyncio.QueueEmpty:
                    return
                try:
                    response = await client.get("/items/7", headers=headers)
                except httpx.RemoteProtocolError:
                    # A kept-alive connection the server closed as it was reused (seen once
                    # on a loaded machine): that request never reached the app; send it again.
                    response = await client.get("/items/7", headers=headers)
                statuses.append(response.status_code)

        await asyncio.gather(*(worker() for _ in range(clients)))
    return statuses


def test_256_concurrent_clients_get_exactly_the_quota_and_redis_never_fails(
    tmp_path: Path, shared_redis: redis.Redis
) -> None:
    name = _service_name()
    rules = [{"route": "GET /items/{id}", "limit": "100/hour", "key": "header:X-User"}]
    # 100/hour restores one request every 36 s: none comes back during the storm.
    options = {"access_log": False, "redis_url": REDIS_URL, "rate_limits": rules}
    with service(tmp_path, _spec(name), **options) as srv:
        statuses = asyncio.run(_storm(srv.url, 256, 600, {"X-User": "ann"}))
        text = call(srv.url, "/metrics")[2].decode()
    # Not one hit timed out and failed open: a busy service is not a Redis outage.
    assert metric(text, "slokit_rate_limit_store_errors_total") == 0
    assert len(statuses) == 600
    assert statuses.count(200) == 100
    assert statuses.count(429) == 500
    keys = _keys(shared_redis, f"slokit:rl:{name}:*")
    assert len(keys) == 1
    assert keys[0].endswith(":ann")


def test_two_services_on_one_redis_keep_their_own_counters(
    tmp_path: Path, shared_redis: redis.Redis
) -> None:
    first, second = _service_name(), _service_name()
    rules = [{"route": "GET /items/{id}", "limit": "2/hour", "key": "header:X-User"}]
    options = {"access_log": False, "redis_url": REDIS_URL, "rate_limits": rules}
    user = {"X-User": "ann"}
    with (
        service(_dir(tmp_path, "a"), _spec(first), **options) as a,
        service(_dir(tmp_path, "b"), _spec(second), **options) as b,
    ):
        assert [call(a.url, "/items/1", headers=user)[0] for _ in range(3)] == [200, 200, 429]
        # The same rule and the same user on another service: a quota of its own.
        assert [call(b.url, "/items/1", headers=user)[0] for _ in range(3)] == [200, 200, 429]
    assert len(_keys(shared_redis, f"slokit:rl:{first}:*")) == 1
    assert len(_keys(shared_redis, f"slokit:rl:{second}:*")) == 1


def test_replicas_of_one_service_share_one_quota(tmp_path: Path, shared_redis: redis.Redis) -> None:
    name = _service_name()
    rules = [{"route": "GET /items/{id}", "limit": "3/hour", "key": "header:X-User"}]
    options = {"access_log": False, "redis_url": REDIS_URL, "rate_limits": rules}
    user = {"X-User": "ann"}
    with (
        service(_dir(tmp_path, "a"), _spec(name), **options) as a,
        service(_dir(tmp_path, "b"), _spec(name), **options) as b,
    ):
        statuses = [call(srv.url, "/items/1", headers=user)[0] for srv in (a, b, a, b, a, b)]
    assert statuses == [200, 200, 200, 429, 429, 429]


def test_rate_limit_prefix_names_where_the_keys_live(
    tmp_path: Path, shared_redis: redis.Redis
) -> None:
    prefix = f"custom:{uuid.uuid4().hex[:8]}:"
    rules = [{"route": "GET /items/{id}", "limit": "5/hour", "key": "header:X-User"}]
    with service(
        tmp_path,
        _spec(_service_name()),
        access_log=False,
        redis_url=REDIS_URL,
        rate_limits=rules,
        rate_limit_prefix=prefix,
    ) as srv:
        assert call(srv.url, "/items/1", headers={"X-User": "ann"})[0] == 200
    keys = _keys(shared_redis, prefix + "*")
    assert len(keys) == 1
    assert keys[0].startswith(prefix)


def test_reordering_rules_keeps_their_state_and_a_changed_limit_starts_afresh(
    tmp_path: Path, shared_redis: redis.Redis
) -> None:
    name = _service_name()
    items = {"route": "GET /items/{id}", "limit": "2/hour", "key": "header:X-User"}
    uploads = {"route": "POST /upload", "limit": "5/hour", "key": "header:X-User"}
    user = {"X-User": "ann"}
    common = {"access_log": False, "redis_url": REDIS_URL}
    with service(tmp_path, _spec(name), rate_limits=[items, uploads], **common) as srv:
        assert [call(srv.url, "/items/1", headers=user)[0] for _ in range(3)] == [200, 200, 429]
    # A deploy that lists the rules the other way round: the user is still out of quota.
    with service(tmp_path, _spec(name), rate_limits=[uploads, items], **common) as srv:
        assert call(srv.url, "/items/1", headers=user)[0] == 429
        assert call(srv.url, "/upload", method="POST", body=b"x", headers=user)[0] == 200
    # A deploy that raises the limit is a new rule with state of its own.
    raised = {**items, "limit": "3/hour"}
    with service(tmp_path, _spec(name), rate_limits=[uploads, raised], **common) as srv:
        assert call(srv.url, "/items/1", headers=user)[0] == 200


def _redis_server(port: int, workdir: Path) -> subprocess.Popen[bytes]:
    binary = shutil.which("redis-server")
    if binary is None:
        if os.environ.get("CI"):
            pytest.fail("redis-server is not installed and CI is set: install redis-server")
        pytest.skip("redis-server is not installed (set CI to make this a failure)")
    proc = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        cwd=workdir,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wait_port(port, proc)
    return proc


def _wait_until(predicate: Callable[[], bool], seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return False


def test_a_redis_that_dies_fails_open_at_once_and_limiting_resumes_when_it_is_back(
    tmp_path: Path,
) -> None:
    port = free_port()
    url = f"redis://127.0.0.1:{port}/0"
    rules = [{"route": "GET /items/{id}", "limit": "2/hour", "key": "header:X-User"}]
    user = {"X-User": "ann"}
    own = _redis_server(port, tmp_path)
    try:
        with service(
            tmp_path, _spec(_service_name()), access_log=False, redis_url=url, rate_limits=rules
        ) as srv:
            assert [call(srv.url, "/items/1", headers=user)[0] for _ in range(3)] == [
                200,
                200,
                429,
            ]
            stop(own)
            # Redis is gone: every request is let through (fail open) and counted.
            during = [call(srv.url, "/items/1", headers=user)[0] for _ in range(20)]
            errors = metric(
                call(srv.url, "/metrics")[2].decode(), "slokit_rate_limit_store_errors_total"
            )
            own = _redis_server(port, tmp_path)  # empty: the state died with it
            # After the back-off the store asks Redis again, and limits apply again. Each try
            # is a new user: a try that began while the store still backed off has counted
            # some of its calls, and must not spoil the next.
            tries = iter(range(10_000))

            def limited_again() -> bool:
                who = {"X-User": f"bob-{next(tries)}"}
                codes = [call(srv.url, "/items/1", headers=who)[0] for _ in range(3)]
                return codes == [200, 200, 429]

            back = _wait_until(limited_again, 15.0)
    finally:
        stop(own)
    assert during == [200] * 20
    assert errors == 20
    assert back, "limiting did not resume once Redis was back"


def test_a_dead_redis_fails_closed_with_503_when_asked(tmp_path: Path) -> None:
    closed = f"redis://127.0.0.1:{free_port()}/0"
    rules = [{"route": "GET /items/{id}", "limit": "1/hour"}]
    with service(
        tmp_path,
        _spec(_service_name()),
        access_log=False,
        redis_url=closed,
        rate_limits=rules,
        on_store_error="closed",
    ) as srv:
        answers = [call(srv.url, "/items/1") for _ in range(5)]
        other = call(srv.url, "/api/things/1")[0]
    assert [status for status, _, _ in answers] == [503] * 5
    assert all(headers["retry-after"] == "1" for _, headers, _ in answers)
    assert other != 503  # routes without a rule never touch the store


# --- memory limits under several workers ----------------------------------------------


def _stderr_after_stop(proc: subprocess.Popen[bytes]) -> str:
    proc.terminate()
    try:
        _, err = proc.communicate(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        _, err = proc.communicate(timeout=5)
    return err.decode("utf-8", "replace")


def test_memory_limits_under_two_uvicorn_workers_warn_at_start_up(tmp_path: Path) -> None:
    rules = [{"route": "GET /items/{id}", "limit": "5/min"}]
    with service(tmp_path, _spec("g"), workers=2, access_log=False, rate_limits=rules) as srv:
        # Both workers are up once each has answered; asking a few times reaches both.
        for _ in range(6):
            call(srv.url, "/healthz")
        err = _stderr_after_stop(srv.proc)
    assert "rate limits are kept in this process's memory" in err
    assert "runs uvicorn with 2 workers" in err
    assert "pass redis_url=" in err


def test_memory_limits_in_one_worker_and_redis_limits_under_two_do_not_warn(
    tmp_path: Path, shared_redis: redis.Redis
) -> None:
    rules = [{"route": "GET /items/{id}", "limit": "5/min"}]
    with service(tmp_path, _spec("g"), access_log=False, rate_limits=rules) as one:
        call(one.url, "/healthz")
        alone = _stderr_after_stop(one.proc)
    with service(
        tmp_path,
        _spec(_service_name()),
        workers=2,
        access_log=False,
        rate_limits=rules,
        redis_url=REDIS_URL,
    ) as two:
        call(two.url, "/healthz")
        shared = _stderr_after_stop(two.proc)
    assert "kept in this process's memory" not in alone
    assert "kept in this process's memory" not in shared


@pytest.mark.parametrize(
    ("environ", "cmdline", "expected"),
    [
        ({"WEB_CONCURRENCY": "4"}, b"", "WEB_CONCURRENCY=4"),
        ({"WEB_CONCURRENCY": "1"}, b"", None),
        ({"PROMETHEUS_MULTIPROC_DIR": "/tmp/x"}, b"", "PROMETHEUS_MULTIPROC_DIR is set"),
        ({}, b"/usr/bin/gunicorn\0-w\0003\0app:app\0", "runs gunicorn with 3 workers"),
        ({}, b"python\0-m\0uvicorn\0app:app\0--workers=2\0", "runs uvicorn with 2 workers"),
        ({}, b"python\0-m\0uvicorn\0app:app\0--workers\0001\0", None),
        ({}, b"/bin/bash\0-w\0004\0", None),  # not a server: its flags mean something else
    ],
)
def test_several_workers_reads_the_environment_and_the_parent_command_line(
    tmp_path: Path, environ: dict[str, str], cmdline: bytes, expected: str | None
) -> None:
    parent = tmp_path / str(os.getppid())
    parent.mkdir()
    (parent / "cmdline").write_bytes(cmdline)
    reason = several_workers(environ, tmp_path)
    if expected is None:
        assert reason is None
    else:
        assert reason is not None
        assert expected in reason


def test_several_workers_without_proc_says_nothing(tmp_path: Path) -> None:
    assert several_workers({}, tmp_path / "missing") is None
