"""Dependency checks against real servers: PostgreSQL, Redis, and servers started here.

PostgreSQL (127.0.0.1:5432, user postgres, trust auth) and Redis (127.0.0.1:6379) tests skip
when the service is down, unless CI is set: in CI a missing service is a failure.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import socket
import sys
import threading
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TypeVar

import pytest

from slokit.asgi._checks import (
    CheckResult,
    CheckSpec,
    HealthChecks,
    checks_from_spec,
    health_document,
    overall_status,
)
from slokit.errors import UsageError
from slokit.spec import parse_spec
from tests._support import free_port

T = TypeVar("T")

POSTGRES = "postgresql://postgres@127.0.0.1:5432/postgres"
REDIS = "redis://127.0.0.1:6379/0"
SECRET = "s3cr3t-Pa55"
ISO_UTC_MS = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")


def require_service(port: int, what: str) -> None:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1.0).close()
    except OSError:
        message = f"{what} is not reachable on 127.0.0.1:{port}"
        if "CI" in os.environ:
            pytest.fail(f"{message}, and CI is set: start it before the tests")
        pytest.skip(f"{message} (set CI to make this a failure)")


def run(main: Callable[[], Awaitable[T]]) -> T:
    async def wrapper() -> T:
        return await main()

    return asyncio.run(wrapper())


def check_all(*specs: CheckSpec) -> list[CheckResult]:
    async def main() -> list[CheckResult]:
        checks = HealthChecks(specs, ttl=0.0)
        try:
            return await checks.run()
        finally:
            await checks.aclose()

    return run(main)


def check_one(spec: CheckSpec) -> CheckResult:
    (result,) = check_all(spec)
    return result


async def _close(writer: asyncio.StreamWriter) -> None:
    writer.close()
    with contextlib.suppress(ConnectionError):
        await writer.wait_closed()


@contextlib.asynccontextmanager
async def http_server(seen: list[bytes] | None = None) -> AsyncIterator[int]:
    """Answers 200 on /ok, 301 on /moved, 503 on /down, 404 elsewhere; yields the port."""
    statuses = {b"/ok": b"200 OK", b"/moved": b"301 Moved Permanently", b"/down": b"503 Down"}

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            request = await reader.readuntil(b"\r\n\r\n")
            if seen is not None:
                seen.append(request)
            path = request.split(b" ", 2)[1].partition(b"?")[0]
            status = statuses.get(path, b"404 Not Found")
            writer.write(b"HTTP/1.1 " + status + b"\r\nContent-Length: 0\r\n\r\n")
            await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            await _close(writer)

    async with serving(answer) as port:
        yield port


@contextlib.asynccontextmanager
async def silent_server() -> AsyncIterator[int]:
    """Accepts connections and never says a word, until the client gives up."""

    async def hold(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while await reader.read(65536):
                pass
        except ConnectionError:
            pass
        finally:
            await _close(writer)

    async with serving(hold) as port:
        yield port


@contextlib.asynccontextmanager
async def serving(
    handler: Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]],
) -> AsyncIterator[int]:
    server = await asyncio.start_server(handler, "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()
        await server.wait_closed()


# --- each kind passes against a real server ---------------------------------------------


def test_postgres_passes_against_the_real_server() -> None:
    require_service(5432, "PostgreSQL")
    # trust auth ignores the password, which lets this also prove a URL with one works
    with_password = f"postgresql://postgres:{SECRET}@127.0.0.1:5432/postgres"
    results = check_all(
        CheckSpec("db", "postgres", POSTGRES), CheckSpec("db2", "postgres", with_password)
    )
    assert [(r.status, r.output) for r in results] == [("pass", ""), ("pass", "")]


def test_postgres_reports_what_the_server_said() -> None:
    require_service(5432, "PostgreSQL")
    no_db = check_one(CheckSpec("db", "postgres", "postgresql://postgres@127.0.0.1:5432/nope"))
    no_role = check_one(CheckSpec("db", "postgres", "postgresql://ghost@127.0.0.1:5432/postgres"))
    assert no_db.status == "fail"
    assert 'database "nope" does not exist' in no_db.output
    assert no_db.output.startswith("postgresql://postgres@127.0.0.1:5432/nope failed:")
    assert 'role "ghost" does not exist' in no_role.output


def test_redis_passes_against_the_real_server() -> None:
    require_service(6379, "Redis")
    result = check_one(CheckSpec("cache", "redis", REDIS))
    assert (result.status, result.output, result.kind) == ("pass", "", "redis")


def test_tcp_passes_with_or_without_the_scheme() -> None:
    async def main() -> list[CheckResult]:
        async with http_server() as port:
            checks = HealthChecks(
                [
                    CheckSpec("a", "tcp", f"127.0.0.1:{port}"),
                    CheckSpec("b", "tcp", f"tcp://127.0.0.1:{port}"),
                ]
            )
            try:
                return await checks.run()
            finally:
                await checks.aclose()

    assert [r.status for r in run(main)] == ["pass", "pass"]


def test_http_passes_on_2xx_and_3xx_and_fails_on_anything_else() -> None:
    async def main() -> dict[str, CheckResult]:
        async with http_server() as port:
            base = f"http://127.0.0.1:{port}"
            paths = ["/ok", "/moved", "/down", "/missing"]
            checks = HealthChecks([CheckSpec(p, "http", base + p) for p in paths])
            try:
                return {r.name: r for r in await checks.run()}
            finally:
                await checks.aclose()

    results = run(main)
    assert results["/ok"].status == "pass"
    assert results["/moved"].status == "pass"
    assert results["/down"].status == "fail"
    assert re.fullmatch(r"GET http://127\.0\.0\.1:\d+/down answered 503", results["/down"].output)
    assert results["/missing"].output.endswith("answered 404")


def test_http_sends_a_well_formed_request_with_basic_auth() -> None:
    seen: list[bytes] = []

    async def main() -> CheckResult:
        async with http_server(seen) as port:
            url = f"http://probe:{SECRET}@127.0.0.1:{port}/ok?deep=1"
            checks = HealthChecks([CheckSpec("api", "http", url)])
            try:
                (result,) = await checks.run()
                return result
            finally:
                await checks.aclose()

    assert run(main).status == "pass"
    (request,) = seen
    head, *headers = request.decode("ascii").strip().split("\r\n")
    assert head == "GET /ok?deep=1 HTTP/1.1"
    assert "Connection: close" in headers
    assert any(h.startswith("Host: 127.0.0.1:") for h in headers)
    assert "Authorization: Basic cHJvYmU6czNjcjN0LVBhNTU=" in headers  # probe:s3cr3t-Pa55


def test_http_fails_when_the_server_hangs_up_without_answering() -> None:
    async def hang_up(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        await _close(writer)

    async def main() -> CheckResult:
        async with serving(hang_up) as port:
            checks = HealthChecks([CheckSpec("api", "http", f"http://127.0.0.1:{port}/")])
            try:
                (result,) = await checks.run()
                return result
            finally:
                await checks.aclose()

    result = run(main)
    assert result.status == "fail"
    assert "closed the connection without answering" in result.output


def test_https_against_a_plain_http_server_fails_with_a_tls_reason() -> None:
    async def plain(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        # what a plain-HTTP server says to bytes it cannot read, here before any are sent
        writer.write(b"HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n")
        await _close(writer)

    async def main() -> CheckResult:
        async with serving(plain) as port:
            checks = HealthChecks([CheckSpec("api", "http", f"https://127.0.0.1:{port}/ok")])
            try:
                (result,) = await checks.run()
                return result
            finally:
                await checks.aclose()

    result = run(main)
    assert result.status == "fail"
    assert "TLS failed" in result.output


# --- failures ---------------------------------------------------------------------------


def closed_port_specs(port: int, *, critical: bool) -> list[CheckSpec]:
    return [
        CheckSpec(
            "db", "postgres", f"postgresql://postgres@127.0.0.1:{port}/postgres", critical=critical
        ),
        CheckSpec("cache", "redis", f"redis://127.0.0.1:{port}/0", critical=critical),
        CheckSpec("api", "http", f"http://127.0.0.1:{port}/ok", critical=critical),
        CheckSpec("socket", "tcp", f"127.0.0.1:{port}", critical=critical),
    ]


@pytest.mark.parametrize(
    ("critical", "status", "code"), [(True, "fail", 503), (False, "warn", 200)]
)
def test_every_kind_fails_cleanly_against_a_closed_port(
    critical: bool, status: str, code: int
) -> None:
    port = free_port()
    results = check_all(*closed_port_specs(port, critical=critical))
    assert [r.status for r in results] == [status] * 4
    for result in results:
        assert f"127.0.0.1:{port}" in result.output, result.output
        assert "connection refused" in result.output, result.output
        assert result.critical is critical
    assert overall_status(results) == status
    http_code, body = health_document(results, service="shop")
    assert (http_code, body["status"]) == (code, status)


def test_a_failing_non_critical_check_only_warns_next_to_passing_ones() -> None:
    port = free_port()
    results = check_all(
        CheckSpec("ok", "custom", lambda: True),
        CheckSpec("optional", "tcp", f"127.0.0.1:{port}", critical=False),
    )
    assert [r.status for r in results] == ["pass", "warn"]
    assert overall_status(results) == "warn"
    assert health_document(results, service="shop")[0] == 200


@pytest.mark.parametrize("kind", ["postgres", "redis", "http"])
def test_a_server_that_never_answers_times_out(kind: str) -> None:
    async def main() -> CheckResult:
        async with silent_server() as port:
            url = {
                "postgres": f"postgresql://postgres@127.0.0.1:{port}/postgres",
                "redis": f"redis://127.0.0.1:{port}/0",
                "http": f"http://127.0.0.1:{port}/ok",
            }[kind]
            checks = HealthChecks([CheckSpec("slow", kind, url, timeout=0.3)])  # type: ignore[arg-type]
            try:
                (result,) = await checks.run()
                return result
            finally:
                await checks.aclose()

    result = run(main)
    assert result.status == "fail"
    assert "timed out" in result.output, result.output
    assert "127.0.0.1" in result.output


def test_a_slow_custom_check_times_out_without_holding_up_the_run() -> None:
    finished = asyncio.Event()

    async def sleepy() -> None:
        await asyncio.sleep(10)
        finished.set()

    async def main() -> tuple[CheckResult, bool]:
        checks = HealthChecks([CheckSpec("sleepy", "custom", sleepy, timeout=0.2)])
        try:
            (result,) = await checks.run()
        finally:
            await checks.aclose()
        return result, finished.is_set()

    result, sleeper_finished = run(main)
    assert result.output == "custom check sleepy timed out after 0.2s"
    assert not sleeper_finished  # run() came back as soon as the timeout expired


def test_custom_checks_fail_on_false_or_an_exception_and_pass_on_anything_else() -> None:
    def boom() -> None:
        raise RuntimeError("cache is cold")

    async def async_boom() -> None:
        raise LookupError("no such queue")

    async def async_false() -> bool:
        return False

    results = check_all(
        CheckSpec("false", "custom", lambda: False),
        CheckSpec("async-false", "custom", async_false),
        CheckSpec("boom", "custom", boom),
        CheckSpec("async-boom", "custom", async_boom),
        CheckSpec("none", "custom", lambda: None),
        CheckSpec("true", "custom", lambda: True),
        CheckSpec("text", "custom", lambda: "anything"),
        CheckSpec("zero", "custom", lambda: 0),  # only False itself fails
        CheckSpec("coroutine", "custom", lambda: async_false()),  # awaited, then judged
    )
    by_name = {r.name: r for r in results}
    assert {name for name, r in by_name.items() if r.status == "fail"} == {
        "false",
        "async-false",
        "boom",
        "async-boom",
        "coroutine",
    }
    assert by_name["false"].output == "custom check false returned False"  # lambda: its check name
    assert by_name["boom"].output.endswith("boom failed: RuntimeError: cache is cold")
    assert by_name["async-boom"].output.endswith("failed: LookupError: no such queue")
    assert all(r.output == "" for r in results if r.status == "pass")


def test_a_check_that_raises_cancelled_error_fails_without_cancelling_the_run() -> None:
    async def cancelled_inside() -> None:
        raise asyncio.CancelledError

    results = check_all(
        CheckSpec("odd", "custom", cancelled_inside), CheckSpec("fine", "custom", lambda: True)
    )
    assert [r.status for r in results] == ["fail", "pass"]
    assert "cancelled" in results[0].output


@pytest.mark.parametrize(("module", "extra"), [("asyncpg", "postgres"), ("redis.asyncio", "redis")])
def test_a_missing_driver_says_which_extra_to_install(
    monkeypatch: pytest.MonkeyPatch, module: str, extra: str
) -> None:
    monkeypatch.setitem(sys.modules, module, None)  # what `import` sees when it is not installed
    url = {"postgres": POSTGRES, "redis": REDIS}[extra]
    result = check_one(CheckSpec("dep", extra, url))  # type: ignore[arg-type]
    assert result.status == "fail"
    assert f"pip install 'slokit[{extra}]'" in result.output


# --- concurrency, threads, caching ------------------------------------------------------


def test_checks_run_concurrently() -> None:
    arrived = 0
    everyone_here = asyncio.Event()

    async def meet() -> bool:
        # Passes only if the other check is running at the same time: run one after the
        # other, the first would wait for the second until it timed out.
        nonlocal arrived
        arrived += 1
        if arrived == 2:
            everyone_here.set()
        await everyone_here.wait()
        return True

    results = check_all(
        CheckSpec("a", "custom", meet, timeout=5), CheckSpec("b", "custom", meet, timeout=5)
    )
    assert [r.status for r in results] == ["pass", "pass"]


def test_sync_checks_run_concurrently_in_threads() -> None:
    barrier = threading.Barrier(2, timeout=5)
    threads: set[int] = set()

    def meet() -> None:
        threads.add(threading.get_ident())
        barrier.wait()  # BrokenBarrierError unless both run at once

    results = check_all(
        CheckSpec("a", "custom", meet, timeout=10), CheckSpec("b", "custom", meet, timeout=10)
    )
    assert [r.status for r in results] == ["pass", "pass"]
    assert len(threads) == 2
    assert threading.get_ident() not in threads


def test_a_blocking_sync_check_leaves_the_event_loop_free() -> None:
    released = threading.Event()
    ran_in: list[int] = []

    def blocking() -> bool:
        ran_in.append(threading.get_ident())
        return released.wait(5)  # False (a failure) unless the loop gets to release it

    async def release_from_the_loop() -> None:
        await asyncio.sleep(0.01)
        released.set()

    async def main() -> list[CheckResult]:
        checks = HealthChecks([CheckSpec("blocking", "custom", blocking, timeout=10)])
        try:
            results, _ = await asyncio.gather(checks.run(), release_from_the_loop())
            return results
        finally:
            await checks.aclose()

    (result,) = run(main)
    assert result.status == "pass"
    assert ran_in != [threading.get_ident()]


def test_a_stuck_sync_check_is_not_started_again_until_its_thread_returns() -> None:
    release = threading.Event()
    calls = 0

    def stuck() -> None:
        nonlocal calls
        calls += 1
        release.wait(10)

    async def main() -> tuple[CheckResult, CheckResult, CheckResult]:
        checks = HealthChecks([CheckSpec("stuck", "custom", stuck, timeout=0.2)], ttl=0.0)
        try:
            (first,) = await checks.run()
            (second,) = await checks.run()
            release.set()
            for _ in range(500):  # until the thread has returned and been noticed
                (third,) = await checks.run()
                if third.status == "pass":
                    break
                await asyncio.sleep(0.01)
            return first, second, third
        finally:
            release.set()
            await checks.aclose()

    first, second, third = run(main)
    assert "timed out after 0.2s" in first.output
    assert "still running in its thread" in second.output
    assert third.status == "pass"
    assert calls == 2  # the second run did not start another thread


def counting_check(calls: list[int], gate: asyncio.Event | None = None) -> CheckSpec:
    async def counted() -> None:
        calls.append(1)
        if gate is not None:
            await gate.wait()

    return CheckSpec("counted", "custom", counted, timeout=10)


def test_results_are_cached_for_ttl_seconds() -> None:
    now = [1000.0]
    calls: list[int] = []

    async def main() -> list[int]:
        checks = HealthChecks([counting_check(calls)], ttl=2.0, clock=lambda: now[0])
        seen = []
        try:
            first = await checks.run()
            assert await checks.run() == first
            seen.append(len(calls))
            now[0] += 1.9
            await checks.run()
            seen.append(len(calls))
            now[0] += 0.2  # 2.1 s after the first run: stale
            await checks.run()
            seen.append(len(calls))
        finally:
            await checks.aclose()
        return seen

    assert run(main) == [1, 1, 2]


def test_concurrent_callers_share_one_run() -> None:
    calls: list[int] = []
    gate = asyncio.Event()

    async def main() -> list[list[CheckResult]]:
        checks = HealthChecks([counting_check(calls, gate)], ttl=0.0)  # no cache: only sharing
        try:
            callers = [asyncio.create_task(checks.run()) for _ in range(10)]
            await asyncio.sleep(0)  # every caller is now waiting on the run
            gate.set()
            return await asyncio.gather(*callers)
        finally:
            await checks.aclose()

    answers = run(main)
    assert len(calls) == 1
    assert all(answer == answers[0] for answer in answers)
    assert answers[0][0].status == "pass"


def test_a_caller_that_gives_up_does_not_cancel_the_shared_run() -> None:
    calls: list[int] = []
    gate = asyncio.Event()

    async def main() -> tuple[bool, list[CheckResult]]:
        checks = HealthChecks([counting_check(calls, gate)], ttl=0.0)
        try:
            quitter = asyncio.create_task(checks.run())
            stayer = asyncio.create_task(checks.run())
            await asyncio.sleep(0)
            quitter.cancel()
            await asyncio.wait([quitter])
            gate.set()
            return quitter.cancelled(), await stayer
        finally:
            await checks.aclose()

    quitter_cancelled, results = run(main)
    assert quitter_cancelled
    assert [r.status for r in results] == ["pass"]
    assert len(calls) == 1


def test_aclose_stops_the_run_in_flight_and_refuses_new_runs() -> None:
    started = asyncio.Event()
    stopped = []

    async def forever() -> None:
        started.set()
        try:
            await asyncio.Event().wait()
        finally:
            stopped.append(True)

    async def main() -> None:
        checks = HealthChecks([CheckSpec("forever", "custom", forever, timeout=60)])
        waiter = asyncio.create_task(checks.run())
        await started.wait()
        await checks.aclose()
        await asyncio.wait([waiter])
        assert waiter.cancelled()
        with pytest.raises(RuntimeError, match="after aclose"):
            await checks.run()

    run(main)
    assert stopped == [True]


# --- secrets ----------------------------------------------------------------------------


def test_passwords_never_appear_in_outputs_or_reprs() -> None:
    port = free_port()

    def leaky() -> None:
        raise ConnectionError(f"could not reach redis://admin:{SECRET}@cache:6379/0")

    specs = [
        CheckSpec("db", "postgres", f"postgresql://app:{SECRET}@127.0.0.1:{port}/app"),
        CheckSpec("cache", "redis", f"redis://:{SECRET}@127.0.0.1:{port}/0"),
        CheckSpec("api", "http", f"http://probe:{SECRET}@127.0.0.1:{port}/ok"),
        CheckSpec("leaky", "custom", leaky),
    ]
    results = check_all(*specs)
    outputs = [r.output for r in results]
    assert all(r.status == "fail" for r in results)
    assert not any(SECRET in text for text in outputs), outputs
    assert outputs[0].startswith(f"postgresql://app:***@127.0.0.1:{port}/app failed")
    assert outputs[1].startswith(f"redis://:***@127.0.0.1:{port}/0 failed")
    assert outputs[2].startswith(f"GET http://probe:***@127.0.0.1:{port}/ok failed")
    assert "redis://admin:***@cache:6379/0" in outputs[3]
    assert not any(SECRET in repr(spec) for spec in specs)
    assert SECRET not in str(health_document(results, service="shop")[1])


def test_a_password_with_an_at_sign_is_hidden_whole() -> None:
    port = free_port()
    result = check_one(CheckSpec("db", "postgres", f"postgresql://app:p@ss@127.0.0.1:{port}/app"))
    assert "p@ss" not in result.output
    assert "ss@" not in result.output
    assert "app:***@127.0.0.1" in result.output


# --- documents and statuses -------------------------------------------------------------


def result(name: str, status: str, *, kind: str = "custom", critical: bool = True) -> CheckResult:
    output = "" if status == "pass" else f"{name} is down"
    return CheckResult(name, kind, status, critical, 1.5, "2026-11-23T08:00:00.123Z", output)  # type: ignore[arg-type]


def test_overall_status_is_the_worst_of_the_checks() -> None:
    assert overall_status([]) == "pass"
    assert overall_status([result("a", "pass")]) == "pass"
    assert overall_status([result("a", "pass"), result("b", "warn", critical=False)]) == "warn"
    assert overall_status([result("a", "warn", critical=False), result("b", "fail")]) == "fail"


def test_health_document_follows_the_health_check_draft() -> None:
    results = [
        result("db", "pass", kind="postgres"),
        result("search", "warn", kind="http", critical=False),
    ]
    code, body = health_document(results, service="shop", version="1.4.2", notes=["canary"])
    assert code == 200
    assert body == {
        "status": "warn",
        "serviceId": "shop",
        "version": "1.4.2",
        "notes": ["canary"],
        "checks": {
            "db:postgres": [
                {
                    "componentId": "db",
                    "componentType": "datastore",
                    "status": "pass",
                    "observedValue": 1.5,
                    "observedUnit": "ms",
                    "time": "2026-11-23T08:00:00.123Z",
                }
            ],
            "search:http": [
                {
                    "componentId": "search",
                    "componentType": "component",
                    "status": "warn",
                    "observedValue": 1.5,
                    "observedUnit": "ms",
                    "time": "2026-11-23T08:00:00.123Z",
                    "output": "search is down",
                }
            ],
        },
    }


def test_health_document_leaves_out_what_was_not_given() -> None:
    code, body = health_document([], service="shop")
    assert (code, body) == (200, {"status": "pass", "serviceId": "shop", "checks": {}})


@pytest.mark.parametrize(
    ("checks", "extra", "status", "code"),
    [
        ("pass", "fail", "fail", 503),  # starting up or draining
        ("pass", "warn", "warn", 200),
        ("fail", "pass", "fail", 503),  # extra status never hides a failure
        ("warn", None, "warn", 200),
    ],
)
def test_extra_status_can_only_make_things_worse(
    checks: str, extra: str | None, status: str, code: int
) -> None:
    results = [result("db", checks, critical=checks != "warn")]
    got = health_document(results, service="shop", extra_status=extra)  # type: ignore[arg-type]
    assert (got[0], got[1]["status"]) == (code, status)


def test_results_carry_when_and_how_long() -> None:
    (first,) = check_all(CheckSpec("quick", "custom", lambda: None, critical=False))
    assert ISO_UTC_MS.fullmatch(first.time), first.time
    assert first.observed_ms >= 0
    assert (first.name, first.kind, first.critical) == ("quick", "custom", False)


# --- building specs ---------------------------------------------------------------------


def test_checks_from_spec_keeps_every_field_and_the_order() -> None:
    spec = parse_spec(
        "service: shop\n"
        "dependencies:\n"
        "  db: {kind: postgres, url: 'postgresql://app@db:5432/app', timeout: 500ms}\n"
        "  search: {kind: http, url: 'http://search:9200/_cluster/health', critical: false}\n"
        "  queue: {kind: tcp, url: 'mq:5672'}\n"
    )
    checks = checks_from_spec(spec.dependencies)
    assert checks == [
        CheckSpec("db", "postgres", "postgresql://app@db:5432/app", timeout=0.5),
        CheckSpec("search", "http", "http://search:9200/_cluster/health", critical=False),
        CheckSpec("queue", "tcp", "mq:5672"),
    ]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("x", "mysql", "mysql://db"), "unknown kind 'mysql'"),
        (("x", "tcp", "db:5432", 0), "timeout must be a positive number"),
        (("x", "custom", "not callable"), "needs a callable"),
        (("x", "redis", ""), "needs a URL"),
        (("x", "tcp", "db"), "expected host:port"),
        (("x", "tcp", "db:http"), "invalid port"),
        (("x", "http", "ftp://files/x"), "expected http://"),
        (("x", "http", "http://:80/"), "expected http://"),
    ],
)
def test_invalid_checks_are_refused_up_front(args: tuple[object, ...], message: str) -> None:
    with pytest.raises(UsageError, match=re.escape(message)):
        CheckSpec(*args)  # type: ignore[arg-type]


def test_a_negative_ttl_is_refused() -> None:
    with pytest.raises(UsageError, match="ttl"):
        HealthChecks([], ttl=-1)
