"""The per-origin keep-alive pool: concurrency, LIFO reuse, the optional cap and its queue."""

from __future__ import annotations

import asyncio
import time

import pytest

from slokit.errors import RequestTimeout
from slokit.load._http import HttpClient
from tests.servers.raw import RawServer, run

LOOPS = ["asyncio", "uvloop"]


@pytest.mark.parametrize("loop_kind", LOOPS)
def test_fifty_concurrent_requests_use_fifty_connections(loop_kind: str) -> None:
    async def main(srv: RawServer) -> tuple[float, float]:
        async with HttpClient(timeout=20) as client:
            prepared = client.prepare("GET", srv.url + "/slow?ms=200")
            started = time.perf_counter()
            await client.send(prepared)
            one = time.perf_counter() - started
            started = time.perf_counter()
            responses = await asyncio.gather(*(client.send(prepared) for _ in range(50)))
            fifty = time.perf_counter() - started
            assert all(r.status == 200 for r in responses)
            # A second burst reuses the same fifty connections.
            await asyncio.gather(*(client.send(prepared) for _ in range(50)))
            assert client.connections_opened == 50
            return one, fifty

    with RawServer() as srv:
        one, fifty = run(main(srv), loop_kind)
        assert srv.connections == 50
        assert srv.requests == 101
    # Concurrent, not serialised: 50 requests take about as long as one, far from 50x.
    assert fifty < 10 * one


def test_idle_connections_are_reused_last_in_first_out() -> None:
    async def main(srv: RawServer) -> list[int]:
        async with HttpClient(timeout=5) as client:
            url = srv.url + "/slow?ms=100"
            await asyncio.gather(*(client.request("GET", url) for _ in range(3)))
            seen = []
            for _ in range(5):
                response = await client.request("GET", srv.url + "/echo")
                seen.append(response.json()["connection"])
            return seen

    with RawServer() as srv:
        seen = run(main(srv))
        assert srv.connections == 3
    assert len(set(seen)) == 1


def test_cap_limits_connections_and_waiters_are_served_in_order() -> None:
    async def main(srv: RawServer) -> list[int]:
        async with HttpClient(timeout=10, max_connections_per_host=1) as client:
            order: list[int] = []

            async def one(i: int) -> None:
                await client.request("GET", srv.url + "/slow?ms=20")
                order.append(i)

            tasks = []
            for i in range(8):
                tasks.append(asyncio.create_task(one(i)))
                await asyncio.sleep(0.002)  # enqueue in a known order
            await asyncio.gather(*tasks)
            return order

    with RawServer() as srv:
        order = run(main(srv))
        assert srv.connections == 1
    assert order == list(range(8))


@pytest.mark.parametrize("loop_kind", LOOPS)
def test_cap_with_many_users(loop_kind: str) -> None:
    async def main(srv: RawServer) -> None:
        async with HttpClient(timeout=10, max_connections_per_host=3) as client:
            url = srv.url + "/slow?ms=10"
            responses = await asyncio.gather(*(client.request("GET", url) for _ in range(30)))
            assert [r.status for r in responses] == [200] * 30

    with RawServer() as srv:
        run(main(srv), loop_kind)
        assert srv.connections == 3


def test_waiting_for_a_slot_counts_against_the_timeout() -> None:
    async def main(srv: RawServer) -> None:
        async with HttpClient(timeout=10, max_connections_per_host=1) as client:
            holder = asyncio.create_task(client.request("GET", srv.url + "/slow?ms=800"))
            await asyncio.sleep(0.05)
            with pytest.raises(RequestTimeout, match="no free connection"):
                await client.request("GET", srv.url + "/ok", timeout=0.2)
            assert (await holder).status == 200
            assert (await client.request("GET", srv.url + "/ok")).status == 200

    with RawServer() as srv:
        run(main(srv))
        assert srv.connections == 1


def test_cancelled_waiter_does_not_leak_its_slot() -> None:
    async def main(srv: RawServer) -> None:
        async with HttpClient(timeout=10, max_connections_per_host=1) as client:
            holder = asyncio.create_task(client.request("GET", srv.url + "/slow?ms=200"))
            await asyncio.sleep(0.05)
            waiter = asyncio.create_task(client.request("GET", srv.url + "/ok"))
            await asyncio.sleep(0.05)
            waiter.cancel()
            with pytest.raises(asyncio.CancelledError):
                await waiter
            await holder
            for _ in range(3):
                assert (await client.request("GET", srv.url + "/ok")).status == 200

    with RawServer() as srv:
        run(main(srv))
        assert srv.connections == 1


def test_slots_freed_by_closed_connections_go_to_waiters() -> None:
    async def main(srv: RawServer) -> None:
        async with HttpClient(timeout=10, max_connections_per_host=2) as client:
            url = srv.url + "/close"
            responses = await asyncio.gather(*(client.request("GET", url) for _ in range(10)))
            assert all(r.body == b"closing" for r in responses)

    with RawServer() as srv:
        run(main(srv))
        assert srv.connections == 10


def test_each_origin_has_its_own_pool() -> None:
    async def main(first: RawServer, second: RawServer) -> None:
        async with HttpClient(timeout=5, max_connections_per_host=1) as client:
            for _ in range(3):
                a, b = await asyncio.gather(
                    client.request("GET", first.url + "/slow?ms=50"),
                    client.request("GET", second.url + "/slow?ms=50"),
                )
                assert a.status == b.status == 200
            # "localhost" is another origin than "127.0.0.1", even on the same port.
            local = first.url.replace("127.0.0.1", "localhost")
            assert (await client.request("GET", local + "/ok")).status == 200

    with RawServer() as first, RawServer() as second:
        run(main(first, second))
        assert first.connections == 2
        assert second.connections == 1
