"""Real clients of real services through the fault proxy: Redis and PostgreSQL on loopback.

Redis (127.0.0.1:6379) and PostgreSQL (127.0.0.1:5432, user postgres, trust auth) tests skip
when the service is down, unless CI is set: in CI a missing service is a failure.
"""

from __future__ import annotations

import asyncio
import os
import socket
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

import asyncpg
import pytest
import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError

from slokit.chaos import FaultProxy, ProxyConfig, open_fault_proxy

T = TypeVar("T")

REDIS = "127.0.0.1:6379"
POSTGRES = "127.0.0.1:5432"

pytestmark = pytest.mark.timeout(60)


def require_service(address: str, what: str) -> None:
    host, port = address.split(":")
    try:
        socket.create_connection((host, int(port)), timeout=1.0).close()
    except OSError:
        message = f"{what} is not reachable on {address}"
        if "CI" in os.environ:
            pytest.fail(f"{message}, and CI is set: start it before the tests")
        pytest.skip(f"{message} (set CI to make this a failure)")


def run(main: Callable[[], Awaitable[T]], limit: float = 30.0) -> T:
    async def bounded() -> T:
        async with asyncio.timeout(limit):
            return await main()

    return asyncio.run(bounded())


def redis_through(fp: FaultProxy) -> aioredis.Redis:
    proxy = fp.proxy("redis")
    # No retries: a fault must reach the test as the error the application would see.
    return aioredis.Redis(
        host=proxy.host,
        port=proxy.port,
        socket_timeout=5,
        socket_connect_timeout=5,
        retry=Retry(NoBackoff(), 0),
    )


async def timed(call: Callable[[], Awaitable[object]]) -> float:
    start = time.monotonic()
    await call()
    return time.monotonic() - start


def test_redis_through_a_latency_toxic_is_at_least_that_much_slower() -> None:
    require_service(REDIS, "Redis")

    async def main() -> None:
        direct = aioredis.Redis(host="127.0.0.1", port=6379, socket_timeout=5)
        async with open_fault_proxy([ProxyConfig("redis", upstream=REDIS)], api=False) as fp:
            proxied = redis_through(fp)
            try:
                key = f"slokit-chaos-{os.getpid()}"
                assert await proxied.set(key, "pandas", ex=60)
                assert await proxied.get(key) == b"pandas"
                base = min([await timed(direct.ping) for _ in range(3)])
                await fp.add_toxic("redis", "latency", {"latency": 100})
                slow = [await timed(proxied.ping) for _ in range(3)]
                assert min(slow) >= 0.100
                assert min(slow) > base
                assert await proxied.get(key) == b"pandas"
                await fp.remove_toxic("redis", "latency_downstream")
                assert await timed(proxied.ping) < min(slow)
                await proxied.delete(key)
            finally:
                await proxied.aclose()
                await direct.aclose()

    run(main)


def test_redis_sees_a_connection_error_when_the_peer_resets() -> None:
    require_service(REDIS, "Redis")

    async def main() -> None:
        async with open_fault_proxy([ProxyConfig("redis", upstream=REDIS)], api=False) as fp:
            proxied = redis_through(fp)
            try:
                assert await proxied.ping()
                await fp.add_toxic("redis", "reset_peer", {"timeout": 0})
                with pytest.raises(RedisConnectionError):
                    await proxied.ping()
                await fp.remove_toxic("redis", "reset_peer_downstream")
                assert await proxied.ping()  # a new connection, unharmed
                await fp.set_enabled("redis", False)
                with pytest.raises(RedisConnectionError):
                    await proxied.ping()
            finally:
                await proxied.aclose()

    run(main)


async def pg_connect(fp: FaultProxy) -> asyncpg.Connection:
    proxy = fp.proxy("pg")
    return await asyncpg.connect(
        host=proxy.host, port=proxy.port, user="postgres", database="postgres", timeout=5
    )


def test_postgres_queries_work_through_the_proxy_and_fail_as_they_should() -> None:
    require_service(POSTGRES, "PostgreSQL")

    async def main() -> None:
        async with open_fault_proxy([ProxyConfig("pg", upstream=POSTGRES)], api=False) as fp:
            conn = await pg_connect(fp)
            try:
                assert await conn.fetchval("select 40 + 2") == 42
                await fp.add_toxic("pg", "latency", {"latency": 100}, stream="upstream")
                start = time.monotonic()
                assert await conn.fetchval("select 1") == 1
                assert time.monotonic() - start >= 0.100
                await fp.remove_toxic("pg", "latency_upstream")

                # A timeout toxic swallows the query: the client's own timeout must fire.
                await fp.add_toxic("pg", "timeout", {"timeout": 0})
                with pytest.raises(TimeoutError):
                    await conn.fetchval("select 1", timeout=0.5)
            finally:
                conn.terminate()
            await fp.remove_toxic("pg", "timeout_downstream")

            conn = await pg_connect(fp)
            try:
                await fp.add_toxic("pg", "reset_peer", {"timeout": 0})
                with pytest.raises(
                    (ConnectionResetError, asyncpg.exceptions.ConnectionDoesNotExistError)
                ):
                    await conn.fetchval("select 1", timeout=5)
            finally:
                conn.terminate()
            await fp.reset()

            await fp.set_enabled("pg", False)
            with pytest.raises(ConnectionRefusedError):
                await pg_connect(fp)
            await fp.set_enabled("pg", True)
            conn = await pg_connect(fp)
            try:
                assert await conn.fetchval("select 1") == 1
            finally:
                await conn.close(timeout=5)

    run(main)
