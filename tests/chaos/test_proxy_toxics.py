"""Every toxic on real TCP traffic: servers on loopback, the proxy in the same event loop.

Timings are asserted as lower bounds (a delay the toxic guarantees) or against each other
(the delayed leg against the other one), never as tight absolute ceilings.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

import pytest

from slokit.chaos import FaultProxy, ProxyConfig, open_fault_proxy

T = TypeVar("T")
Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]
Pair = tuple[asyncio.StreamReader, asyncio.StreamWriter]

pytestmark = pytest.mark.timeout(60)


def run(main: Callable[[], Awaitable[T]], limit: float = 20.0) -> T:
    async def bounded() -> T:
        async with asyncio.timeout(limit):
            return await main()

    return asyncio.run(bounded())


async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    while data := await reader.read(65536):
        writer.write(data)
        await writer.drain()


@contextlib.asynccontextmanager
async def serving(handle: Handler = echo) -> AsyncIterator[str]:
    """A TCP server on a free loopback port running ``handle`` per connection; yields host:port."""
    writers: set[asyncio.StreamWriter] = set()

    async def guarded(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writers.add(writer)
        try:
            await handle(reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()
            writers.discard(writer)

    server = await asyncio.start_server(guarded, "127.0.0.1", 0)
    try:
        yield f"127.0.0.1:{server.sockets[0].getsockname()[1]}"
    finally:
        server.close()
        for writer in list(writers):
            writer.transport.abort()
        await server.wait_closed()
        for _ in range(3):  # let the handlers see their connections go
            await asyncio.sleep(0)


@contextlib.asynccontextmanager
async def echo_proxy(*toxics: dict[str, Any]) -> AsyncIterator[FaultProxy]:
    """An echo server behind the proxy "echo" (no control API: the Python handle is enough)."""
    async with serving() as upstream, open_fault_proxy(api=False) as fp:
        await fp.add_proxy("echo", upstream)
        for toxic in toxics:
            await fp.add_toxic("echo", **toxic)
        yield fp


@contextlib.asynccontextmanager
async def dial(fp: FaultProxy, name: str = "echo") -> AsyncIterator[Pair]:
    proxy = fp.proxy(name)
    reader, writer = await asyncio.open_connection(proxy.host, proxy.port)
    try:
        yield reader, writer
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()


async def round_trip(pair: Pair, payload: bytes = b"ping") -> float:
    reader, writer = pair
    start = time.monotonic()
    writer.write(payload)
    await writer.drain()
    assert await reader.readexactly(len(payload)) == payload
    return time.monotonic() - start


async def read_to_eof(reader: asyncio.StreamReader) -> tuple[bytes, int]:
    """Everything until EOF, and in how many reads it came."""
    data, reads = b"", 0
    while chunk := await reader.read(65536):
        data += chunk
        reads += 1
    return data, reads


# --- plain proxying ------------------------------------------------------------------------


def test_data_passes_both_ways_unchanged_and_half_close_is_passed_on() -> None:
    async def main() -> None:
        async with echo_proxy() as fp:

            async def one() -> None:
                payload = os.urandom(300_000)
                async with dial(fp) as (reader, writer):
                    writer.write(payload)
                    writer.write_eof()  # the echo server answers everything, then closes
                    data, _ = await read_to_eof(reader)
                assert data == payload

            await asyncio.gather(*(one() for _ in range(8)))
            proxy = fp._traffic()[0]
            assert proxy.traffic.sent == {"upstream": 2_400_000, "downstream": 2_400_000}
            assert proxy.connections_total == 8

    run(main)


def test_an_unreachable_upstream_closes_the_client_connection() -> None:
    async def main() -> None:
        async with serving() as gone:
            pass  # the port is free again: nothing listens there
        async with open_fault_proxy(api=False) as fp:
            await fp.add_proxy("dead", gone)
            async with dial(fp, "dead") as (reader, _):
                with contextlib.suppress(ConnectionResetError):
                    assert await reader.read(10) == b""

    run(main)


def test_leaving_open_fault_proxy_closes_listeners_and_connections() -> None:
    async def main() -> None:
        async with serving() as upstream:
            async with open_fault_proxy([ProxyConfig("echo", upstream=upstream)]) as fp:
                proxy = fp.proxy("echo")
                reader, writer = await asyncio.open_connection(proxy.host, proxy.port)
                await round_trip((reader, writer))
            try:
                assert await reader.read(10) == b""
            finally:
                writer.close()
            with pytest.raises(ConnectionRefusedError):
                await asyncio.open_connection(proxy.host, proxy.port)

    run(main)


# --- latency, bandwidth ----------------------------------------------------------------------


def test_latency_delays_every_round_trip_by_at_least_the_latency() -> None:
    async def main() -> None:
        async with echo_proxy() as fp, dial(fp) as pair:
            direct = min([await round_trip(pair) for _ in range(3)])
            await fp.add_toxic("echo", "latency", {"latency": 150})
            delayed = [await round_trip(pair) for _ in range(3)]
        assert min(delayed) >= 0.150
        assert min(delayed) > direct

    run(main)


def test_latency_jitter_varies_the_delay_within_its_bounds() -> None:
    async def main() -> None:
        toxic = {"type": "latency", "attributes": {"latency": 60, "jitter": 40}}
        async with echo_proxy(toxic) as fp, dial(fp) as pair:
            samples = [await round_trip(pair) for _ in range(15)]
        assert min(samples) >= 0.020  # latency - jitter
        assert max(samples) - min(samples) > 0.005  # jitter varies the delay per chunk
        assert max(samples) < 0.100 + 1.0  # latency + jitter, with room for a slow machine

    run(main)


def test_bandwidth_limits_the_transfer_rate() -> None:
    async def main() -> None:
        payload = os.urandom(30_000)
        toxic = {"type": "bandwidth", "attributes": {"rate": 100}}  # KB/s
        async with echo_proxy(toxic) as fp, dial(fp) as (reader, writer):
            start = time.monotonic()
            writer.write(payload)
            assert await reader.readexactly(len(payload)) == payload
            elapsed = time.monotonic() - start
        assert elapsed >= 30_000 / 100_000

    run(main)


def test_upstream_toxics_delay_requests_and_downstream_toxics_delay_replies() -> None:
    arrivals: list[float] = []

    async def stamping_echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while data := await reader.read(65536):
            arrivals.append(time.monotonic())
            writer.write(data)
            await writer.drain()

    async def legs(fp: FaultProxy) -> tuple[float, float]:
        async with dial(fp, "stamp") as (reader, writer):
            sent = time.monotonic()
            writer.write(b"x")
            await reader.readexactly(1)
            return arrivals[-1] - sent, time.monotonic() - arrivals[-1]

    async def main() -> None:
        async with serving(stamping_echo) as upstream, open_fault_proxy(api=False) as fp:
            await fp.add_proxy("stamp", upstream)
            await fp.add_toxic("stamp", "latency", {"latency": 200}, stream="upstream")
            request, reply = await legs(fp)
            assert request >= 0.200
            assert reply < request
            await fp.remove_toxic("stamp", "latency_upstream")
            await fp.add_toxic("stamp", "latency", {"latency": 200})  # downstream
            request, reply = await legs(fp)
            assert reply >= 0.200
            assert request < reply

    run(main)


# --- closing toxics --------------------------------------------------------------------------


def test_slow_close_holds_the_close_back_for_its_delay() -> None:
    async def greet(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"bye")
        await writer.drain()

    async def main() -> None:
        async with serving(greet) as upstream, open_fault_proxy(api=False) as fp:
            await fp.add_proxy("greet", upstream)
            await fp.add_toxic("greet", "slow_close", {"delay": 300})
            start = time.monotonic()
            async with dial(fp, "greet") as (reader, _):
                data, _ = await read_to_eof(reader)
            assert data == b"bye"
            assert time.monotonic() - start >= 0.300

    run(main)


def test_timeout_swallows_data_then_closes_after_its_timeout() -> None:
    async def main() -> None:
        toxic = {"type": "timeout", "attributes": {"timeout": 300}}
        async with echo_proxy(toxic) as fp:
            start = time.monotonic()
            async with dial(fp) as (reader, writer):
                writer.write(b"lost")
                assert await reader.read(10) == b""
            assert time.monotonic() - start >= 0.300

    run(main)


def test_timeout_zero_holds_the_connection_until_the_toxic_is_removed() -> None:
    async def main() -> None:
        toxic = {"type": "timeout", "attributes": {"timeout": 0}}
        async with echo_proxy(toxic) as fp, dial(fp) as (reader, writer):
            writer.write(b"lost")
            read = asyncio.create_task(reader.read(10))
            done, _ = await asyncio.wait([read], timeout=0.3)
            assert not done  # nothing gets through, and nothing closes
            assert fp.proxy("echo").toxics  # the handle answers meanwhile
            await fp.remove_toxic("echo", "timeout_downstream")
            # What it swallowed is gone, so the connection closes (as Toxiproxy does) ...
            assert await asyncio.wait_for(read, 5) == b""
            # ... and new connections flow freely.
            async with dial(fp) as pair:
                await round_trip(pair)

    run(main)


def test_reset_peer_resets_the_connection_after_its_timeout() -> None:
    async def main() -> None:
        toxic = {"type": "reset_peer", "attributes": {"timeout": 200}}
        async with echo_proxy(toxic) as fp, dial(fp) as (reader, writer):
            start = time.monotonic()
            writer.write(b"ping")
            with pytest.raises(ConnectionResetError):
                await reader.read(10)
            assert time.monotonic() - start >= 0.200

    run(main)


def test_limit_data_closes_the_connection_after_that_many_bytes() -> None:
    async def main() -> None:
        toxic = {"type": "limit_data", "attributes": {"bytes": 100}}
        async with echo_proxy(toxic) as fp, dial(fp) as (reader, writer):
            writer.write(bytes(range(100)) * 3)
            data, _ = await read_to_eof(reader)
        assert data == bytes(range(100))

    run(main)


def test_slicer_delivers_data_in_many_small_pieces() -> None:
    async def main() -> None:
        payload = os.urandom(4096)
        toxic = {
            "type": "slicer",
            "attributes": {"average_size": 64, "size_variation": 16, "delay": 2000},
        }
        async with echo_proxy(toxic) as fp, dial(fp) as (reader, writer):
            writer.write(payload)
            data, reads = b"", 0
            while len(data) < len(payload):
                data += await reader.read(65536)
                reads += 1
        assert data == payload
        assert reads >= 8  # about 64 pieces of ~64 bytes, 2 ms apart

    run(main)


# --- toxicity ----------------------------------------------------------------------------------


async def _passes(fp: FaultProxy) -> bool:
    """Whether one byte makes it through a new connection within 0.5 s."""
    async with dial(fp) as (reader, writer):
        writer.write(b"x")
        try:
            return await asyncio.wait_for(reader.read(1), 0.5) == b"x"
        except TimeoutError:
            return False


def test_toxicity_is_the_chance_a_toxic_applies_to_a_connection() -> None:
    async def main() -> None:
        async with echo_proxy() as fp:
            await fp.add_toxic("echo", "timeout", {"timeout": 0}, toxicity=0.0)
            assert all(await asyncio.gather(*(_passes(fp) for _ in range(5))))
            await fp.update_toxic("echo", "timeout_downstream", toxicity=1.0)
            assert not any(await asyncio.gather(*(_passes(fp) for _ in range(5))))
            await fp.update_toxic("echo", "timeout_downstream", toxicity=0.5)
            outcomes = await asyncio.gather(*(_passes(fp) for _ in range(40)))
            assert 0 < sum(outcomes) < 40

    run(main)


# --- live changes ------------------------------------------------------------------------------


def test_toxics_added_and_removed_apply_to_open_connections() -> None:
    async def main() -> None:
        async with echo_proxy() as fp, dial(fp) as pair:
            before = await round_trip(pair)
            await fp.add_toxic("echo", "latency", {"latency": 200})
            during = await round_trip(pair)
            await fp.remove_toxic("echo", "latency_downstream")
            after = await round_trip(pair)
        assert during >= 0.200
        assert before < during
        assert after < during

    run(main)


def test_removing_a_latency_toxic_lets_the_data_it_holds_flow_at_once() -> None:
    async def main() -> None:
        toxic = {"type": "latency", "attributes": {"latency": 10_000}}
        async with echo_proxy(toxic) as fp, dial(fp) as (reader, writer):
            start = time.monotonic()
            for part in (b"one ", b"two ", b"three"):
                writer.write(part)
                await asyncio.sleep(0.02)
            await asyncio.sleep(0.1)
            await fp.remove_toxic("echo", "latency_downstream")
            assert await reader.readexactly(13) == b"one two three"
            assert time.monotonic() - start < 5.0  # far from the 10 s it was held for

    run(main)


def test_updating_a_toxic_changes_it_on_open_connections() -> None:
    async def main() -> None:
        toxic = {"type": "latency", "attributes": {"latency": 10_000}}
        async with echo_proxy(toxic) as fp, dial(fp) as (reader, writer):
            start = time.monotonic()
            writer.write(b"held")
            await asyncio.sleep(0.1)
            updated = await fp.update_toxic("echo", "latency_downstream", {"latency": 300})
            assert updated.attributes == {"latency": 300, "jitter": 0}
            assert await reader.readexactly(4) == b"held"
            assert 0.300 <= time.monotonic() - start < 5.0
            assert await round_trip((reader, writer)) >= 0.300

    run(main)


# --- down --------------------------------------------------------------------------------------


def test_a_disabled_proxy_closes_its_connections_and_refuses_until_enabled_again() -> None:
    async def main() -> None:
        async with echo_proxy() as fp:
            listen = fp.proxy("echo").listen
            async with dial(fp) as (reader, writer):
                await round_trip((reader, writer))
                down = await fp.set_enabled("echo", False)
                assert not down.enabled
                with contextlib.suppress(ConnectionResetError):
                    assert await reader.read(10) == b""
            host, port = fp.proxy("echo").host, fp.proxy("echo").port
            with pytest.raises(ConnectionRefusedError):
                await asyncio.open_connection(host, port)
            up = await fp.set_enabled("echo", True)
            assert up.enabled
            assert up.listen == listen  # the same address again
            async with dial(fp) as pair:
                await round_trip(pair)

    run(main)
