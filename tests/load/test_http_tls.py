"""https:// through the stdlib ssl module, against the raw server with a trustme certificate."""

from __future__ import annotations

import socket
import ssl
import threading
from collections.abc import Iterator

import pytest
import trustme

from slokit.errors import ConnectError
from slokit.load._http import HttpClient
from tests.servers.raw import RawServer, run

LOOPS = ["asyncio", "uvloop"]


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


def server_context(ca: trustme.CA, *names: str) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert(*(names or ("127.0.0.1", "localhost"))).configure_cert(context)
    return context


def client_context(ca: trustme.CA) -> ssl.SSLContext:
    context = ssl.create_default_context()
    ca.configure_trust(context)
    return context


@pytest.fixture(scope="module")
def tls_srv(ca: trustme.CA) -> Iterator[RawServer]:
    with RawServer(ssl_context=server_context(ca)) as server:
        yield server


@pytest.mark.parametrize("loop_kind", LOOPS)
def test_https_requests_work_and_keep_alive(ca: trustme.CA, loop_kind: str) -> None:
    async def main(srv: RawServer) -> None:
        async with HttpClient(timeout=5, ssl_context=client_context(ca)) as client:
            assert srv.url.startswith("https://")
            for _ in range(10):
                assert (await client.request("GET", srv.url + "/ok")).body == b"ok"
            assert (await client.request("GET", srv.url + "/chunked")).body.endswith(b"world")
            head = await client.request("HEAD", srv.url + "/head")
            assert head.status == 200
            assert head.body == b""
            big = await client.request("GET", srv.url + "/big?bytes=1000000")
            assert len(big.body) == 1_000_000
            echo = (await client.request("POST", srv.url + "/echo", json={"a": 1})).json()
            assert echo["body"] == '{"a":1}'

    with RawServer(ssl_context=server_context(ca)) as srv:
        run(main(srv), loop_kind)
        assert srv.connections == 1


@pytest.mark.parametrize("loop_kind", LOOPS)
def test_https_body_until_close(tls_srv: RawServer, ca: trustme.CA, loop_kind: str) -> None:
    async def main() -> None:
        async with HttpClient(timeout=5, ssl_context=client_context(ca)) as client:
            assert (await client.request("GET", tls_srv.url + "/eof")).body == b"until close"
            assert (await client.request("GET", tls_srv.url + "/ok")).body == b"ok"

    run(main(), loop_kind)


def test_sni_carries_the_host_name(tls_srv: RawServer, ca: trustme.CA) -> None:
    async def main() -> None:
        async with HttpClient(timeout=5, ssl_context=client_context(ca)) as client:
            url = f"https://localhost:{tls_srv.port}/ok"
            assert (await client.request("GET", url)).body == b"ok"

    run(main())
    assert "localhost" in tls_srv.sni_names


@pytest.mark.parametrize("loop_kind", LOOPS)
def test_untrusted_certificate_is_a_connect_error(tls_srv: RawServer, loop_kind: str) -> None:
    async def main() -> None:
        other = trustme.CA()
        async with HttpClient(timeout=5, ssl_context=client_context(other)) as client:
            with pytest.raises(ConnectError, match=r"TLS handshake with 127\.0\.0\.1:\d+ failed"):
                await client.request("GET", tls_srv.url + "/ok")

    run(main(), loop_kind)


def test_default_context_verifies_certificates(tls_srv: RawServer) -> None:
    async def main() -> None:
        async with HttpClient(timeout=5) as client:
            with pytest.raises(ConnectError, match="certificate"):
                await client.request("GET", tls_srv.url + "/ok")

    run(main())


def test_host_name_mismatch_is_a_connect_error(ca: trustme.CA) -> None:
    async def main(srv: RawServer) -> None:
        async with HttpClient(timeout=5, ssl_context=client_context(ca)) as client:
            with pytest.raises(ConnectError, match="TLS handshake"):
                await client.request("GET", srv.url + "/ok")

    with RawServer(ssl_context=server_context(ca, "example.test")) as srv:
        run(main(srv))


def test_https_to_a_plain_server_is_a_connect_error(ca: trustme.CA) -> None:
    # A plain HTTP server answers the ClientHello with a 400 and closes, as nginx does.
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]

    def answer_once() -> None:
        conn, _ = listener.accept()
        with conn:
            conn.recv(4096)
            conn.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")

    thread = threading.Thread(target=answer_once, daemon=True)
    thread.start()

    async def main() -> None:
        async with HttpClient(timeout=5, ssl_context=client_context(ca)) as client:
            with pytest.raises(ConnectError, match=rf"127\.0\.0\.1:{port}"):
                await client.request("GET", f"https://127.0.0.1:{port}/ok")

    try:
        run(main())
    finally:
        thread.join(5)
        listener.close()
