"""Redirects: off by default; when followed, methods, bodies and counters behave like browsers."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import pytest

from slokit.errors import ProtocolError
from slokit.load._http import HttpClient
from tests.servers.raw import RawServer, run


@pytest.fixture(scope="module")
def srv() -> Iterator[RawServer]:
    with RawServer() as server:
        yield server


def redirect(to: str, code: int = 302) -> str:
    return f"/redirect?to={quote(to, safe='')}&code={code}"


def test_redirects_are_returned_as_is_by_default(srv: RawServer) -> None:
    async def main() -> None:
        async with HttpClient(timeout=5) as client:
            response = await client.request("GET", srv.url + redirect("/ok"))
            assert response.status == 302
            assert response.header("location") == "/ok"
            assert response.url == srv.url + redirect("/ok")

    run(main())


@pytest.mark.parametrize("code", [301, 302, 303, 307, 308])
def test_get_follows_every_redirect_status(srv: RawServer, code: int) -> None:
    async def main() -> None:
        async with HttpClient(timeout=5, follow_redirects=True) as client:
            response = await client.request("GET", srv.url + redirect("/ok?body=landed", code))
            assert response.status == 200
            assert response.body == b"landed"
            assert response.url == srv.url + "/ok?body=landed"

    run(main())


@pytest.mark.parametrize(
    ("code", "method", "body"),
    [
        (301, "GET", ""),
        (302, "GET", ""),
        (303, "GET", ""),
        (307, "POST", '{"a":1}'),
        (308, "POST", '{"a":1}'),
    ],
)
def test_post_becomes_get_except_for_307_and_308(
    srv: RawServer, code: int, method: str, body: str
) -> None:
    async def main() -> dict[str, Any]:
        async with HttpClient(timeout=5, follow_redirects=True) as client:
            response = await client.request(
                "POST", srv.url + redirect("/echo", code), json={"a": 1}
            )
            echo: dict[str, Any] = response.json()
            return echo

    echo = run(main())
    assert echo["method"] == method
    assert echo["body"] == body
    names = {name.lower() for name, _ in echo["headers"]}
    assert ("content-type" in names) == (method == "POST")


def test_put_keeps_its_method_on_302_but_not_on_303(srv: RawServer) -> None:
    async def main() -> tuple[str, str]:
        async with HttpClient(timeout=5, follow_redirects=True) as client:
            kept = await client.request("PUT", srv.url + redirect("/echo", 302), body=b"x")
            changed = await client.request("PUT", srv.url + redirect("/echo", 303), body=b"x")
            return kept.json()["method"], changed.json()["method"]

    assert run(main()) == ("PUT", "GET")


def test_counters_are_summed_and_timing_spans_all_hops(srv: RawServer) -> None:
    async def main() -> None:
        async with (
            HttpClient(timeout=5) as plain,
            HttpClient(timeout=5, follow_redirects=True) as c,
        ):
            hop = await plain.request("GET", srv.url + redirect("/ok"))
            final = await plain.request("GET", srv.url + "/ok")
            followed = await c.request("GET", srv.url + redirect("/ok"))
            assert followed.bytes_sent == hop.bytes_sent + final.bytes_sent
            assert followed.bytes_received == hop.bytes_received + final.bytes_received
            assert followed.finished > followed.started

    run(main())


def test_redirect_chain_with_relative_and_absolute_locations(srv: RawServer) -> None:
    async def main(other: RawServer) -> None:
        async with HttpClient(timeout=5, follow_redirects=True) as client:
            # absolute to another origin -> relative on that origin -> final
            hop2 = redirect("/echo?x=1")
            start = redirect(other.url + hop2)
            response = await client.request(
                "GET", srv.url + start, headers={"Authorization": "Bearer secret", "X-Keep": "1"}
            )
            echo = response.json()
            assert response.url == other.url + "/echo?x=1"
            assert echo["query"] == {"x": "1"}
            names = {name.lower(): value for name, value in echo["headers"]}
            assert "authorization" not in names  # never leaked to another origin
            assert names["x-keep"] == "1"
            assert names["host"] == f"127.0.0.1:{other.port}"

    with RawServer() as other:
        run(main(other))


def test_same_origin_redirect_keeps_authorization(srv: RawServer) -> None:
    async def main() -> None:
        async with HttpClient(timeout=5, follow_redirects=True) as client:
            response = await client.request(
                "GET", srv.url + redirect("echo"), headers={"Authorization": "Bearer t"}
            )
            names = {n.lower(): v for n, v in response.json()["headers"]}
            assert names["authorization"] == "Bearer t"

    run(main())


def test_too_many_redirects_is_a_protocol_error(srv: RawServer) -> None:
    async def main() -> None:
        async with HttpClient(timeout=5, follow_redirects=True, max_redirects=3) as client:
            with pytest.raises(ProtocolError, match="too many redirects: more than 3"):
                await client.request("GET", srv.url + "/redirect-loop")
            # The connection is still fine afterwards.
            assert (await client.request("GET", srv.url + "/ok")).status == 200

    run(main())


def test_redirect_to_an_unsupported_scheme_is_a_protocol_error(srv: RawServer) -> None:
    async def main() -> None:
        async with HttpClient(timeout=5, follow_redirects=True) as client:
            with pytest.raises(ProtocolError, match="cannot follow redirect"):
                await client.request("GET", srv.url + redirect("ftp://example.test/file"))

    run(main())


def test_redirect_without_location_is_returned(srv: RawServer) -> None:
    async def main() -> None:
        async with HttpClient(timeout=5, follow_redirects=True) as client:
            response = await client.request("GET", srv.url + "/status?code=301")
            assert response.status == 301

    run(main())
