"""Failures below HTTP: every one is a ConnectError, RequestTimeout or ProtocolError."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from collections.abc import Iterator

import pytest

from slokit.errors import ConnectError, ProtocolError, RequestTimeout, TransportError, UsageError
from slokit.load._http import HttpClient
from tests.servers.raw import RawConnection, RawRequest, RawServer, default_handler, run

LOOPS = ["asyncio", "uvloop"]


@pytest.fixture(scope="module")
def srv() -> Iterator[RawServer]:
    with RawServer() as server:
        yield server


@pytest.fixture(params=LOOPS)
def loop_kind(request: pytest.FixtureRequest) -> str:
    kind: str = request.param
    return kind


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def test_timeout_then_a_later_request_works(loop_kind: str) -> None:
    async def main(srv: RawServer) -> None:
        async with HttpClient(timeout=5) as client:
            assert (await client.request("GET", srv.url + "/ok")).status == 200
            with pytest.raises(RequestTimeout, match=r"127\.0\.0\.1:\d+.*0\.3 s"):
                await client.request("GET", srv.url + "/stall", timeout=0.3)
            assert (await client.request("GET", srv.url + "/ok")).body == b"ok"
            assert (await client.request("GET", srv.url + "/slow?ms=10")).body == b"slow"

    with RawServer() as srv:
        run(main(srv), loop_kind)
        # The timed-out connection was closed, never reused: the next request opened another.
        assert srv.connections == 2


def test_client_timeout_default_applies(srv: RawServer) -> None:
    async def main() -> None:
        async with HttpClient(timeout=0.2) as client:
            with pytest.raises(RequestTimeout):
                await client.request("GET", srv.url + "/slow?ms=2000")
            # A per-request timeout overrides the client's.
            response = await client.request("GET", srv.url + "/slow?ms=300", timeout=5)
            assert response.status == 200

    run(main())


def test_timeout_is_measured_not_early() -> None:
    async def main(srv: RawServer) -> float:
        async with HttpClient() as client:
            started = time.perf_counter()
            with pytest.raises(RequestTimeout):
                await client.request("GET", srv.url + "/stall", timeout=0.25)
            return time.perf_counter() - started

    with RawServer() as srv:
        elapsed = run(main(srv), "uvloop")
    assert elapsed >= 0.24  # never early; how late depends on the machine


def test_timeout_covers_connect() -> None:
    # A listener that never accepts, with its backlog filled: the handshake cannot finish
    # (or finishes and nothing answers). Either way the request times out.
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = listener.getsockname()[1]
    fillers = []
    try:
        for _ in range(4):
            filler = socket.socket()
            filler.setblocking(False)
            with contextlib.suppress(BlockingIOError):
                filler.connect(("127.0.0.1", port))
            fillers.append(filler)

        async def main() -> None:
            async with HttpClient() as client:
                with pytest.raises(RequestTimeout):
                    await client.request("GET", f"http://127.0.0.1:{port}/", timeout=0.5)

        run(main())
    finally:
        for filler in fillers:
            filler.close()
        listener.close()


@pytest.mark.parametrize(
    ("path", "pattern"),
    [
        ("/reset", "reset by the peer before responding"),
        ("/reset-mid", "mid-response"),
        ("/garbage", "invalid HTTP response"),
        ("/short", "closed the connection mid-response"),
        ("/partial-headers", "closed the connection mid-response"),
    ],
)
def test_broken_responses_are_protocol_errors(
    srv: RawServer, loop_kind: str, path: str, pattern: str
) -> None:
    async def main() -> None:
        async with HttpClient(timeout=5) as client:
            with pytest.raises(ProtocolError, match=pattern):
                await client.request("GET", srv.url + path)
            assert (await client.request("GET", srv.url + "/ok")).status == 200

    run(main(), loop_kind)


def test_connect_refused_names_host_and_port(loop_kind: str) -> None:
    port = closed_port()

    async def main() -> None:
        async with HttpClient(timeout=5) as client:
            with pytest.raises(ConnectError, match=rf"127\.0\.0\.1:{port}.*refused"):
                await client.request("GET", f"http://127.0.0.1:{port}/")

    run(main(), loop_kind)


def test_dns_failure_is_a_connect_error() -> None:
    async def main() -> None:
        async with HttpClient(timeout=20) as client:
            with pytest.raises(ConnectError, match=r"no-such-host\.invalid:80.*resolve"):
                await client.request("GET", "http://no-such-host.invalid/")

    run(main())


def test_server_killed_mid_run_fails_fast_not_hangs(loop_kind: str) -> None:
    async def main(srv: RawServer) -> list[BaseException | None]:
        async with HttpClient(timeout=30) as client:
            prepared = client.prepare("GET", srv.url + "/slow?ms=20")

            async def user() -> BaseException | None:
                for _ in range(10_000):
                    try:
                        await client.send(prepared)
                    except TransportError as exc:
                        return exc
                return None

            users = [asyncio.create_task(user()) for _ in range(20)]
            await asyncio.sleep(0.3)
            await asyncio.to_thread(srv.kill)
            return await asyncio.wait_for(asyncio.gather(*users), 10)

    with RawServer() as srv:
        outcomes = run(main(srv), loop_kind)
    assert all(isinstance(exc, ConnectError | ProtocolError) for exc in outcomes), outcomes


def test_stale_keep_alive_connection_is_retried_for_idempotent_methods(loop_kind: str) -> None:
    async def main(srv: RawServer) -> None:
        async with HttpClient(timeout=5) as client:
            # The server answers, then closes the connection when the next request arrives.
            assert (await client.request("GET", srv.url + "/drop-next")).status == 200
            response = await client.request("GET", srv.url + "/ok")
            assert response.body == b"ok"
            assert response.finished >= response.started
            assert (await client.request("GET", srv.url + "/drop-next")).status == 200
            assert (await client.request("PUT", srv.url + "/echo", body=b"x")).status == 200

    with RawServer() as srv:
        run(main(srv), loop_kind)
        assert srv.connections == 3


def test_stale_connection_is_not_retried_for_post() -> None:
    async def main(srv: RawServer) -> None:
        async with HttpClient(timeout=5) as client:
            assert (await client.request("GET", srv.url + "/drop-next")).status == 200
            with pytest.raises(ProtocolError, match="POST is not idempotent"):
                await client.request("POST", srv.url + "/echo", body=b"once")
            assert (await client.request("POST", srv.url + "/echo", body=b"x")).status == 200

    with RawServer() as srv:
        run(main(srv))
        assert srv.connections == 2


def test_server_closing_an_idle_connection_is_handled(loop_kind: str) -> None:
    async def main(srv: RawServer) -> None:
        async with HttpClient(timeout=5) as client:
            response = await client.request("GET", srv.url + "/close-after?ms=20")
            assert response.body == b"closing soon"
            await asyncio.sleep(0.3)
            assert (await client.request("POST", srv.url + "/echo", body=b"a")).status == 200

    with RawServer() as srv:
        run(main(srv), loop_kind)
        assert srv.connections == 2


async def _extra_bytes(request: RawRequest, conn: RawConnection) -> bool:
    if request.path == "/extra":
        await conn.send(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokJUNK")
        return True
    return await default_handler(request, conn)


def test_unsolicited_bytes_poison_only_their_connection() -> None:
    async def main(srv: RawServer) -> None:
        async with HttpClient(timeout=5) as client:
            assert (await client.request("GET", srv.url + "/extra")).body == b"ok"
            await asyncio.sleep(0.05)
            assert (await client.request("GET", srv.url + "/ok")).body == b"ok"

    with RawServer(_extra_bytes) as srv:
        run(main(srv))
        assert srv.connections == 2


def test_cancelled_request_discards_its_connection(loop_kind: str) -> None:
    async def main(srv: RawServer) -> None:
        async with HttpClient(timeout=5) as client:
            task = asyncio.create_task(client.request("GET", srv.url + "/slow?ms=500"))
            await asyncio.sleep(0.1)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            assert (await client.request("GET", srv.url + "/ok")).body == b"ok"

    with RawServer() as srv:
        run(main(srv), loop_kind)
        assert srv.connections == 2


def test_closed_client_refuses_requests_and_aclose_is_idempotent(srv: RawServer) -> None:
    async def main() -> None:
        client = HttpClient()
        assert (await client.request("GET", srv.url + "/ok")).status == 200
        await client.aclose()
        await client.aclose()
        with pytest.raises(ConnectError, match="closed"):
            await client.request("GET", srv.url + "/ok")

    run(main())


def test_aclose_fails_requests_in_flight(srv: RawServer) -> None:
    async def main() -> None:
        client = HttpClient(timeout=10)
        task = asyncio.create_task(client.request("GET", srv.url + "/stall"))
        await asyncio.sleep(0.1)
        await client.aclose()
        with pytest.raises(ProtocolError, match="client closed"):
            await task

    run(main())


@pytest.mark.parametrize(
    "url",
    [
        "ftp://127.0.0.1/",
        "127.0.0.1:8000/path",
        "/relative",
        "http:///nohost",
        "http://127.0.0.1:99999/",
        "http://user:pw@127.0.0.1/",
        "http://[::1/",
    ],
)
def test_bad_urls_are_usage_errors(url: str) -> None:
    with pytest.raises(UsageError):
        HttpClient().prepare("GET", url)


@pytest.mark.parametrize(
    ("method", "headers"),
    [
        ("GET /x", None),
        ("", None),
        ("GET", {"X-Evil": "a\r\nInjected: 1"}),
        ("GET", {"Bad Name": "v"}),
        ("GET", {"": "v"}),
    ],
)
def test_bad_methods_and_headers_are_usage_errors(
    method: str, headers: dict[str, str] | None
) -> None:
    with pytest.raises(UsageError):
        HttpClient().prepare(method, "http://127.0.0.1/", headers)


def test_bad_client_options_are_usage_errors() -> None:
    with pytest.raises(UsageError):
        HttpClient(timeout=0)
    with pytest.raises(UsageError):
        HttpClient(max_redirects=-1)
    with pytest.raises(UsageError):
        HttpClient(max_connections_per_host=0)
    with pytest.raises(UsageError):
        run(HttpClient().request("POST", "http://127.0.0.1:1/", body=b"x", json={}))
