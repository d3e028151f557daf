"""HttpClient against a real raw server: bodies, framing, keep-alive, interim responses."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from slokit.load._http import USER_AGENT, HttpClient
from tests.servers.raw import RawServer, run

LOOPS = ["asyncio", "uvloop"]


@pytest.fixture(scope="module")
def srv() -> Iterator[RawServer]:
    with RawServer() as server:
        yield server


@pytest.fixture(params=LOOPS)
def loop_kind(request: pytest.FixtureRequest) -> str:
    kind: str = request.param
    return kind


def test_content_length_body(srv: RawServer, loop_kind: str) -> None:
    async def main() -> None:
        async with HttpClient(timeout=5) as client:
            response = await client.request("GET", srv.url + "/ok?body=hello")
            assert response.status == 200
            assert response.body == b"hello"
            assert response.text == "hello"
            assert response.header("content-length") == "5"
            assert response.url == srv.url + "/ok?body=hello"
            assert response.bytes_sent > 0
            assert response.bytes_received > len(b"hello")
            assert response.finished >= response.started > 0

    run(main(), loop_kind)


def test_chunked_body_with_trailer(srv: RawServer, loop_kind: str) -> None:
    async def main() -> None:
        async with HttpClient(timeout=5) as client:
            response = await client.request("GET", srv.url + "/chunked")
            assert response.status == 200
            assert response.body == b"hello, chunked world"
            assert response.header("Transfer-Encoding") == "chunked"
            # Trailers are not mixed into the response headers.
            assert response.header("x-checksum") is None
            again = await client.request("GET", srv.url + "/ok")
            assert again.body == b"ok"

    run(main(), loop_kind)


def test_body_delimited_by_close(srv: RawServer, loop_kind: str) -> None:
    async def main() -> None:
        async with HttpClient(timeout=5) as client:
            response = await client.request("GET", srv.url + "/eof")
            assert response.status == 200
            assert response.body == b"until close"
            big = await client.request("GET", srv.url + "/eof?bytes=300000")
            assert big.body == b"e" * 300000
            after = await client.request("GET", srv.url + "/ok")
            assert after.body == b"ok"

    run(main(), loop_kind)


def test_head_has_no_body_and_connection_is_reused(loop_kind: str) -> None:
    async def main(srv: RawServer) -> None:
        async with HttpClient(timeout=5) as client:
            head = await client.request("HEAD", srv.url + "/head")
            assert head.status == 200
            assert head.body == b""
            assert head.header("content-length") == "9"
            head_big = await client.request("HEAD", srv.url + "/big?bytes=100000")
            assert head_big.body == b""
            get = await client.request("GET", srv.url + "/head")
            assert get.body == b"head body"
            chunked_head = await client.request("HEAD", srv.url + "/chunked")
            assert chunked_head.body == b""
            assert (await client.request("GET", srv.url + "/chunked")).body.startswith(b"hello")

    with RawServer() as srv:
        run(main(srv), loop_kind)
        assert srv.connections == 1


@pytest.mark.parametrize("path", ["/204", "/304"])
def test_no_body_statuses_keep_the_connection(path: str, loop_kind: str) -> None:
    async def main(srv: RawServer) -> None:
        async with HttpClient(timeout=5) as client:
            response = await client.request("GET", srv.url + path)
            assert response.status == int(path[1:])
            assert response.body == b""
            assert (await client.request("GET", srv.url + "/ok")).body == b"ok"

    with RawServer() as srv:
        run(main(srv), loop_kind)
        assert srv.connections == 1


def test_interim_responses_are_skipped(srv: RawServer, loop_kind: str) -> None:
    async def main() -> None:
        async with HttpClient(timeout=5) as client:
            response = await client.request("GET", srv.url + "/100-continue")
            assert response.status == 200
            assert response.body == b"final"
            assert response.header("x-final") == "yes"
            assert response.header("link") is None  # that was the 103's header
            assert (await client.request("GET", srv.url + "/ok")).body == b"ok"

    run(main(), loop_kind)


def test_keep_alive_reuses_one_connection(loop_kind: str) -> None:
    async def main(srv: RawServer) -> int:
        async with HttpClient(timeout=5) as client:
            prepared = client.prepare("GET", srv.url + "/ok")
            for _ in range(100):
                assert (await client.send(prepared)).status == 200
            return client.connections_opened

    with RawServer() as srv:
        opened = run(main(srv), loop_kind)
        assert srv.connections == 1
        assert srv.requests == 100
        assert opened == 1


def test_connection_close_opens_a_new_connection(loop_kind: str) -> None:
    async def main(srv: RawServer) -> None:
        async with HttpClient(timeout=5) as client:
            for _ in range(3):
                response = await client.request("GET", srv.url + "/close")
                assert response.body == b"closing"
                assert response.header("connection") == "close"
            assert (await client.request("GET", srv.url + "/ok")).status == 200

    with RawServer() as srv:
        run(main(srv), loop_kind)
        assert srv.connections == 4


def test_http10_response_is_not_reused() -> None:
    async def main(srv: RawServer) -> None:
        async with HttpClient(timeout=5) as client:
            assert (await client.request("GET", srv.url + "/http10")).body == b"old ok"
            assert (await client.request("GET", srv.url + "/ok")).body == b"ok"

    with RawServer() as srv:
        run(main(srv))
        assert srv.connections == 2


def test_big_body(srv: RawServer, loop_kind: str) -> None:
    async def main() -> None:
        async with HttpClient(timeout=10) as client:
            response = await client.request("GET", srv.url + "/big?bytes=5000000")
            assert len(response.body) == 5_000_000
            assert response.body.count(b"x") == 5_000_000
            assert response.bytes_received > 5_000_000

    run(main(), loop_kind)


def test_request_bytes_and_headers_reach_the_server(srv: RawServer) -> None:
    async def main() -> None:
        async with HttpClient(timeout=5) as client:
            response = await client.request(
                "PUT",
                srv.url + "/echo?a=1&b=two",
                headers={"X-Token": "abc", "Accept": "text/plain"},
                body=b"payload",
            )
            echo = response.json()
            assert echo["method"] == "PUT"
            assert echo["path"] == "/echo"
            assert echo["query"] == {"a": "1", "b": "two"}
            assert echo["body"] == "payload"
            names = {name.lower(): value for name, value in echo["headers"]}
            assert names["host"] == f"127.0.0.1:{srv.port}"
            assert names["user-agent"] == USER_AGENT
            assert names["content-length"] == "7"
            assert names["x-token"] == "abc"
            assert names["accept"] == "text/plain"
            same = client.prepare(
                "PUT",
                srv.url + "/echo?a=1&b=two",
                {"X-Token": "abc", "Accept": "text/plain"},
                b"payload",
            )
            assert response.bytes_sent == len(same.raw)

    run(main())


def test_json_argument_is_compact_with_content_type(srv: RawServer) -> None:
    async def main() -> None:
        async with HttpClient(timeout=5) as client:
            response = await client.request("POST", srv.url + "/echo", json={"sku": "A1", "n": 2})
            echo = response.json()
            assert echo["body"] == '{"sku":"A1","n":2}'
            names = {name.lower(): value for name, value in echo["headers"]}
            assert names["content-type"] == "application/json"
            custom = await client.request(
                "POST",
                srv.url + "/echo",
                json=[1],
                headers={"content-type": "application/vnd.x+json"},
            )
            headers = [v for n, v in custom.json()["headers"] if n.lower() == "content-type"]
            assert headers == ["application/vnd.x+json"]
            empty_post = await client.request("POST", srv.url + "/echo")
            names = {n.lower(): v for n, v in empty_post.json()["headers"]}
            assert names["content-length"] == "0"

    run(main())


def test_user_headers_override_defaults_and_framing_is_ours(srv: RawServer) -> None:
    async def main() -> None:
        async with HttpClient(timeout=5) as client:
            response = await client.request(
                "POST",
                srv.url + "/echo",
                headers={"User-Agent": "mine/1", "Content-Length": "999", "Host": "example.test"},
                body=b"abc",
            )
            pairs = [(n.lower(), v) for n, v in response.json()["headers"]]
            assert ("user-agent", "mine/1") in pairs
            assert ("host", "example.test") in pairs
            assert [v for n, v in pairs if n == "content-length"] == ["3"]
            assert [v for n, v in pairs if n == "user-agent"] == ["mine/1"]

    run(main())


def test_repeated_headers_and_case_insensitive_lookup(srv: RawServer) -> None:
    async def main() -> None:
        async with HttpClient(timeout=5) as client:
            response = await client.request("GET", srv.url + "/headers")
            assert response.header("X-MULTI") == "a, b"
            assert response.header("x-empty") == ""
            assert response.header("content-type") == "text/x"
            assert response.header("missing") is None
            assert (b"X-Multi", b"a") in response.headers
            assert (b"x-multi", b"b") in response.headers

    run(main())


def test_status_codes_are_returned_not_raised(srv: RawServer) -> None:
    async def main() -> None:
        async with HttpClient(timeout=5) as client:
            for code in (404, 500, 503):
                response = await client.request("GET", srv.url + f"/status?code={code}")
                assert response.status == code
            assert (await client.request("GET", srv.url + "/missing")).status == 404

    run(main())


def test_prepared_request_is_reusable_across_clients(srv: RawServer) -> None:
    async def main() -> None:
        async with HttpClient() as first:
            prepared = first.prepare("GET", srv.url + "/ok")
            assert (await first.send(prepared)).body == b"ok"
        async with HttpClient() as second:
            assert (await second.send(prepared)).body == b"ok"
            assert (await second.send(prepared)).body == b"ok"

    run(main())
