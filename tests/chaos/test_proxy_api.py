"""The Toxiproxy-compatible control API (served in-process by open_fault_proxy), the Python
handle's errors, the HTTP client, metrics and the loopback guard."""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

import httpx
import pytest

from slokit.chaos import FaultProxy, ProxyConfig, Toxic, ToxiproxyClient, open_fault_proxy
from slokit.errors import ProxyError, UsageError

T = TypeVar("T")

pytestmark = pytest.mark.timeout(60)

PROXY_KEYS = {"name", "listen", "upstream", "enabled", "toxics"}
TOXIC_KEYS = {"name", "type", "stream", "toxicity", "attributes"}


def run(main: Callable[[], Awaitable[T]], limit: float = 20.0) -> T:
    async def bounded() -> T:
        async with asyncio.timeout(limit):
            return await main()

    return asyncio.run(bounded())


async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except ConnectionError:
        pass
    finally:
        writer.close()


@contextlib.asynccontextmanager
async def echo_server() -> AsyncIterator[str]:
    writers: set[asyncio.StreamWriter] = set()

    async def tracked(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writers.add(writer)
        await echo(reader, writer)

    server = await asyncio.start_server(tracked, "127.0.0.1", 0)
    try:
        yield f"127.0.0.1:{server.sockets[0].getsockname()[1]}"
    finally:
        server.close()
        for writer in writers:
            writer.transport.abort()
        await server.wait_closed()
        for _ in range(3):
            await asyncio.sleep(0)


@contextlib.asynccontextmanager
async def served() -> AsyncIterator[tuple[FaultProxy, httpx.AsyncClient, str]]:
    """An echo server, a fault proxy with its API, and an HTTP client for the API."""
    async with (
        echo_server() as upstream,
        open_fault_proxy() as fp,
        httpx.AsyncClient(base_url=str(fp.url), timeout=5) as http,
    ):
        yield fp, http, upstream


async def echoes(listen: str) -> bool:
    host, port = listen.rsplit(":", 1)
    try:
        reader, writer = await asyncio.open_connection(host, int(port))
    except OSError:
        return False
    try:
        writer.write(b"ping")
        return await asyncio.wait_for(reader.read(4), 2) == b"ping"
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()


def error(status: int, text: str) -> dict[str, Any]:
    return {"error": text, "status": status}


# --- proxies ---------------------------------------------------------------------------------


def test_proxy_endpoints_answer_with_toxiproxy_shapes_and_codes() -> None:
    async def main() -> None:
        async with served() as (_, http, upstream):
            body = {"name": "echo", "listen": "127.0.0.1:0", "upstream": upstream}
            created = await http.post("/proxies", json=body)
            assert created.status_code == 201
            proxy = created.json()
            assert set(proxy) == PROXY_KEYS
            assert proxy["enabled"] is True
            assert proxy["toxics"] == []
            assert not proxy["listen"].endswith(":0")  # the real port
            assert await echoes(proxy["listen"])

            listed = await http.get("/proxies")
            assert listed.status_code == 200
            assert listed.json() == {"echo": proxy}
            assert (await http.get("/proxies/echo")).json() == proxy

            again = await http.post("/proxies", json=body)
            assert (again.status_code, again.json()) == (409, error(409, "proxy already exists"))
            missing = await http.post("/proxies", json={"upstream": upstream})
            assert missing.json() == error(400, "missing required field: name")
            missing = await http.post("/proxies", json={"name": "x"})
            assert missing.json() == error(400, "missing required field: upstream")
            garbage = await http.post("/proxies", content=b"{not json")
            assert garbage.status_code == 400
            assert garbage.json()["error"].startswith("bad request body: ")
            unknown = await http.get("/proxies/nope")
            assert (unknown.status_code, unknown.json()) == (404, error(404, "proxy not found"))

            deleted = await http.delete("/proxies/echo")
            assert (deleted.status_code, deleted.content) == (204, b"")
            assert not await echoes(proxy["listen"])
            assert (await http.delete("/proxies/echo")).status_code == 404

    run(main)


def test_a_proxy_is_taken_down_and_brought_back_with_post_enabled() -> None:
    async def main() -> None:
        async with served() as (_, http, upstream):
            body = {"name": "echo", "listen": "127.0.0.1:0", "upstream": upstream}
            listen = (await http.post("/proxies", json=body)).json()["listen"]
            down = await http.post("/proxies/echo", json={"enabled": False})
            assert down.status_code == 200
            assert down.json()["enabled"] is False
            assert down.json()["listen"] == listen
            assert not await echoes(listen)
            up = await http.patch("/proxies/echo", json={"enabled": True})
            assert up.json()["enabled"] is True
            assert up.json()["listen"] == listen
            assert await echoes(listen)

            created_down = await http.post(
                "/proxies", json={"name": "idle", "upstream": upstream, "enabled": False}
            )
            assert created_down.status_code == 201
            assert created_down.json()["enabled"] is False

    run(main)


def test_changing_the_upstream_restarts_the_proxy_towards_the_new_one() -> None:
    async def main() -> None:
        async with served() as (_, http, upstream), echo_server() as other:
            body = {"name": "echo", "listen": "127.0.0.1:0", "upstream": upstream}
            listen = (await http.post("/proxies", json=body)).json()["listen"]
            moved = await http.post("/proxies/echo", json={"upstream": other})
            assert moved.json()["upstream"] == other
            assert moved.json()["listen"] == listen
            assert await echoes(listen)

    run(main)


# --- toxics ----------------------------------------------------------------------------------


def test_toxic_endpoints_answer_with_toxiproxy_shapes_and_codes() -> None:
    async def main() -> None:
        async with served() as (_, http, upstream):
            await http.post("/proxies", json={"name": "echo", "upstream": upstream})
            toxics = "/proxies/echo/toxics"
            created = await http.post(
                toxics, json={"type": "latency", "attributes": {"latency": 100}}
            )
            assert created.status_code == 200  # Toxiproxy answers 200 here, not 201
            assert created.json() == {
                "name": "latency_downstream",
                "type": "latency",
                "stream": "downstream",
                "toxicity": 1.0,
                "attributes": {"latency": 100, "jitter": 0},
            }
            upstream_toxic = await http.post(
                toxics,
                json={"type": "timeout", "stream": "upstream", "toxicity": 0.5, "name": "t"},
            )
            assert upstream_toxic.json()["attributes"] == {"timeout": 0}

            listed = (await http.get(toxics)).json()
            assert [t["name"] for t in listed] == ["t", "latency_downstream"]  # upstream first
            assert all(set(t) == TOXIC_KEYS for t in listed)
            proxy = (await http.get("/proxies/echo")).json()
            assert proxy["toxics"] == listed

            updated = await http.post(
                f"{toxics}/latency_downstream", json={"attributes": {"jitter": 10}}
            )
            assert updated.json()["attributes"] == {"latency": 100, "jitter": 10}
            patched = await http.patch(f"{toxics}/latency_downstream", json={"toxicity": 0.25})
            assert patched.json()["toxicity"] == 0.25
            assert patched.json()["attributes"] == {"latency": 100, "jitter": 10}
            shown = await http.get(f"{toxics}/latency_downstream")
            assert shown.json() == patched.json()

            duplicate = await http.post(toxics, json={"type": "latency"})
            assert duplicate.json() == error(409, "toxic already exists")
            wrong_type = await http.post(toxics, json={"type": "latencyy"})
            assert wrong_type.json() == error(400, "invalid toxic type")
            wrong_stream = await http.post(toxics, json={"type": "latency", "stream": "up"})
            assert wrong_stream.json() == error(
                400, "stream was invalid, can be either upstream or downstream"
            )
            bad_value = await http.post(
                toxics, json={"type": "bandwidth", "attributes": {"rate": "x"}}
            )
            assert bad_value.status_code == 400
            assert bad_value.json()["error"].startswith("bad request body: ")
            no_proxy = await http.post("/proxies/nope/toxics", json={"type": "latency"})
            assert no_proxy.json() == error(404, "proxy not found")

            deleted = await http.delete(f"{toxics}/latency_downstream")
            assert (deleted.status_code, deleted.content) == (204, b"")
            gone = await http.get(f"{toxics}/latency_downstream")
            assert (gone.status_code, gone.json()) == (404, error(404, "toxic not found"))
            assert (await http.delete(f"{toxics}/latency_downstream")).status_code == 404

    run(main)


def test_populate_creates_keeps_and_replaces_proxies() -> None:
    async def main() -> None:
        async with served() as (_, http, upstream), echo_server() as other:
            config = [
                {"name": "one", "listen": "127.0.0.1:0", "upstream": upstream},
                {"name": "two", "listen": "127.0.0.1:0", "upstream": upstream, "enabled": False},
            ]
            first = await http.post("/populate", json=config)
            assert first.status_code == 201
            proxies = first.json()["proxies"]
            assert [p["name"] for p in proxies] == ["one", "two"]
            assert all(set(p) == PROXY_KEYS for p in proxies)
            assert [p["enabled"] for p in proxies] == [True, False]
            one = proxies[0]
            await http.post("/proxies/one/toxics", json={"type": "latency"})

            same = [{"name": "one", "listen": one["listen"], "upstream": upstream}]
            kept = (await http.post("/populate", json=same)).json()["proxies"][0]
            assert kept["listen"] == one["listen"]
            assert len(kept["toxics"]) == 1

            moved = [{"name": "one", "listen": one["listen"], "upstream": other}]
            replaced = (await http.post("/populate", json=moved)).json()["proxies"][0]
            assert replaced["upstream"] == other
            assert replaced["toxics"] == []
            assert await echoes(replaced["listen"])

            bad = await http.post("/populate", json=[{"name": "three"}])
            assert bad.json() == error(400, "missing required field: upstream at proxy 1")
            twice = await http.post("/populate", json=[same[0], same[0]])
            assert twice.status_code == 400
            assert (await http.post("/populate", json={"name": "x"})).status_code == 400

    run(main)


def test_reset_enables_every_proxy_and_removes_every_toxic() -> None:
    async def main() -> None:
        async with served() as (fp, http, upstream):
            await fp.add_proxy("a", upstream, enabled=False)
            await fp.add_proxy("b", upstream)
            await fp.add_toxic("b", "latency", {"latency": 5000})
            reset = await http.post("/reset")
            assert (reset.status_code, reset.content) == (204, b"")
            assert [(p.enabled, p.toxics) for p in fp.proxies()] == [(True, ()), (True, ())]
            assert await echoes(fp.proxy("a").listen)

    run(main)


def test_version_and_browser_refusal() -> None:
    async def main() -> None:
        async with served() as (_, http, _):
            version = await http.get("/version")
            assert version.status_code == 200
            assert set(version.json()) == {"version"}
            browser = await http.get("/proxies", headers={"User-Agent": "Mozilla/5.0 (X11)"})
            assert browser.status_code == 403

    run(main)


# --- live traffic ----------------------------------------------------------------------------


def test_the_api_answers_at_once_while_connections_are_held_by_toxics() -> None:
    async def main() -> None:
        async with served() as (fp, http, upstream):
            await http.post("/proxies", json={"name": "echo", "upstream": upstream})
            await http.post(
                "/proxies/echo/toxics", json={"type": "timeout", "attributes": {"timeout": 0}}
            )
            await http.post(
                "/proxies/echo/toxics",
                json={"type": "latency", "stream": "upstream", "attributes": {"latency": 20_000}},
            )
            proxy = fp.proxy("echo")
            held = [await asyncio.open_connection(proxy.host, proxy.port) for _ in range(3)]
            for _, writer in held:
                writer.write(b"x" * 100_000)
            await asyncio.sleep(0.1)
            start = time.monotonic()
            for _ in range(5):
                assert (await http.get("/proxies")).status_code == 200
            removed = await http.delete("/proxies/echo/toxics/latency_upstream")
            assert removed.status_code == 204
            down = await http.post("/proxies/echo", json={"enabled": False})
            assert down.status_code == 200
            assert time.monotonic() - start < 5.0  # nothing waited on the held connections
            for reader, writer in held:
                with contextlib.suppress(ConnectionResetError):
                    assert await asyncio.wait_for(reader.read(10), 5) == b""
                writer.close()

    run(main)


def test_metrics_count_bytes_and_connections_per_proxy() -> None:
    async def main() -> None:
        async with served() as (fp, http, upstream), open_fault_proxy() as other:
            await fp.add_proxy("echo", upstream)
            await other.add_proxy("elsewhere", upstream)
            assert await echoes(fp.proxy("echo").listen)
            text = (await http.get("/metrics")).text
            assert 'slokit_proxy_bytes_total{direction="upstream",proxy="echo"} 4.0' in text
            assert 'slokit_proxy_bytes_total{direction="downstream",proxy="echo"} 4.0' in text
            assert 'slokit_proxy_received_bytes_total{direction="upstream",proxy="echo"}' in text
            assert 'slokit_proxy_connections_total{proxy="echo"} 1.0' in text
            assert 'slokit_proxy_connections_active{proxy="echo"}' in text
            assert 'slokit_proxy_enabled{proxy="echo"} 1.0' in text
            assert "elsewhere" not in text  # each fault proxy has its own registry
            async with httpx.AsyncClient(base_url=str(other.url)) as other_http:
                assert 'proxy="elsewhere"' in (await other_http.get("/metrics")).text

    run(main)


# --- the Python handle and the client --------------------------------------------------------


def test_the_python_handle_raises_proxy_errors_with_api_statuses() -> None:
    async def main() -> None:
        async with echo_server() as upstream, open_fault_proxy(api=False) as fp:
            assert fp.url is None
            with pytest.raises(ProxyError, match="'nope' not found") as missing:
                await fp.add_toxic("nope", "latency")
            assert (missing.value.status, missing.value.error) == (404, "proxy not found")
            await fp.add_proxy("echo", upstream)
            with pytest.raises(ProxyError) as taken:
                await fp.add_proxy("echo", upstream)
            assert taken.value.status == 409
            toxic = await fp.add_toxic("echo", Toxic("latency", {"latency": 5}, name="slow"))
            assert fp.toxic("echo", "slow") == toxic
            with pytest.raises(ProxyError, match="already has a toxic named 'slow'"):
                await fp.add_toxic("echo", "latency", name="slow")
            with pytest.raises(ProxyError, match="has no toxic named 'fast'") as no_toxic:
                await fp.remove_toxic("echo", "fast")
            assert no_toxic.value.status == 404
            with pytest.raises(ProxyError, match="cannot listen"):
                await fp.add_proxy("clash", upstream, listen=fp.proxy("echo").listen)

    run(main)


@pytest.mark.parametrize(
    ("kind", "attributes", "message"),
    [
        ("latencyy", {}, "invalid toxic type 'latencyy': use one of latency, bandwidth"),
        ("latency", {"latancy": 5}, "unknown latency attribute 'latancy'"),
        ("latency", {"latency": -5}, "must be 0 or more"),
        ("latency", {"latency": 1.5}, "must be a whole number"),
        ("bandwidth", {"rate": "10"}, "must be a number"),
        ("slicer", {"average_size": 0}, "'average_size' must be at least 1"),
        ("slicer", {"average_size": 10, "size_variation": 10}, "must be smaller"),
    ],
)
def test_toxics_are_checked_when_made(kind: str, attributes: dict[str, Any], message: str) -> None:
    with pytest.raises(ProxyError, match=message) as refused:
        Toxic(kind, attributes)
    assert refused.value.status == 400


def test_toxic_defaults_follow_toxiproxy() -> None:
    toxic = Toxic("slicer", {"average_size": 10.0})
    assert toxic.to_json() == {
        "name": "slicer_downstream",
        "type": "slicer",
        "stream": "downstream",
        "toxicity": 1.0,
        "attributes": {"average_size": 10, "size_variation": 0, "delay": 0},
    }
    assert Toxic("latency", stream="upstream").name == "latency_upstream"
    with pytest.raises(ProxyError, match="toxicity must be a number from 0 to 1"):
        Toxic("latency", toxicity=1.5)
    with pytest.raises(ProxyError, match=r"'upstream' .* or 'downstream'"):
        Toxic("latency", stream="sideways")


def test_the_client_drives_the_api_and_maps_its_refusals() -> None:
    async def main() -> None:
        async with served() as (fp, _, upstream), ToxiproxyClient(str(fp.url)) as client:
            assert await client.version()
            created = await client.create_proxy("echo", "127.0.0.1:0", upstream)
            assert created["enabled"]
            assert created["listen"] != "127.0.0.1:0"
            toxic = await client.add_toxic("echo", "latency", {"latency": 50}, stream="upstream")
            assert toxic["name"] == "latency_upstream"
            updated = await client.update_toxic("echo", "latency_upstream", {"jitter": 5})
            assert updated["attributes"] == {"latency": 50, "jitter": 5}
            assert [t["name"] for t in await client.toxics("echo")] == ["latency_upstream"]
            assert (await client.toxic("echo", "latency_upstream"))["toxicity"] == 1.0
            await client.remove_toxic("echo", "latency_upstream")
            assert await client.toxics("echo") == []
            await client.add_toxic("echo", "timeout", toxicity=0.5)
            assert (await client.set_enabled("echo", False))["enabled"] is False
            assert list(await client.proxies()) == ["echo"]
            await client.reset()
            assert (await client.proxy("echo"))["enabled"] is True
            assert (await client.proxy("echo"))["toxics"] == []
            populated = await client.populate([ProxyConfig("two", upstream=upstream)])
            assert populated[0]["name"] == "two"
            await client.delete_proxy("two")

            with pytest.raises(ProxyError, match="HTTP 404: proxy not found") as missing:
                await client.delete_proxy("two")
            assert missing.value.status == 404
            assert missing.value.error == "proxy not found"
            with pytest.raises(ProxyError, match="HTTP 409") as taken:
                await client.create_proxy("echo", "127.0.0.1:0", upstream)
            assert "pick another name" in str(taken.value)
            with pytest.raises(ProxyError, match="HTTP 400: invalid toxic type"):
                await client.add_toxic("echo", "nonsense")

    run(main)


def test_the_client_says_when_the_api_cannot_be_reached() -> None:
    async def main() -> None:
        async with open_fault_proxy() as fp:
            url = str(fp.url)
        async with ToxiproxyClient(url.removeprefix("http://"), timeout=2) as client:
            with pytest.raises(ProxyError, match="cannot reach the fault proxy API") as down:
                await client.proxies()
            assert down.value.status is None
            assert "slokit proxy" in str(down.value)

    run(main)


# --- loopback guard --------------------------------------------------------------------------


def test_listen_addresses_off_loopback_need_allow_remote() -> None:
    async def main() -> None:
        with pytest.raises(UsageError, match=r"not a loopback address.*--allow-remote"):
            async with open_fault_proxy(listen="0.0.0.0:0"):
                pass
        async with echo_server() as upstream, open_fault_proxy(api=False) as fp:
            with pytest.raises(ProxyError, match=r"not a loopback address.*--allow-remote") as no:
                await fp.add_proxy("wide", upstream, listen="0.0.0.0:0")
            assert no.value.status == 400
            assert fp.proxies() == []
            localhost = await fp.add_proxy("local", upstream, listen="localhost:0")
            assert localhost.host == "127.0.0.1"
        async with (
            echo_server() as upstream,
            open_fault_proxy(listen="0.0.0.0:0", allow_remote=True) as fp,
        ):
            assert str(fp.url).startswith("http://0.0.0.0:")
            wide = await fp.add_proxy("wide", upstream, listen="0.0.0.0:0")
            assert await echoes(f"127.0.0.1:{wide.port}")

    run(main)


def test_importing_chaos_leaves_the_web_stack_unloaded() -> None:
    """The API's server stack and metrics load only when the API is served."""
    code = (
        "import sys, slokit.chaos\n"
        "heavy = [m for m in sys.modules if m.startswith(('starlette', 'uvicorn', "
        "'prometheus_client', 'typer', 'slokit.load', 'slokit.cli'))]\n"
        "print(','.join(sorted(heavy)))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == ""
